"""What a scheduling cycle decides: placements, and for every job left waiting, the reason per pool."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from suanli.domain.resources import Vector


class Code(StrEnum):
    OK = "ok"
    UNSCHEDULABLE = "unschedulable"  # not now: capacity is in use, the site is offline
    UNRESOLVABLE = "unresolvable"  # never on this pool as it is: wrong model, too big, excluded


@dataclass(frozen=True)
class Status:
    """A plugin's verdict on one (job, pool) pair. "Does not fit" is a value, never an exception."""

    code: Code = Code.OK
    reason: str = ""
    plugin: str = ""

    @property
    def ok(self) -> bool:
        return self.code is Code.OK


OK = Status()


@dataclass(frozen=True)
class Placement:
    job_id: str
    pool_id: str
    site_id: str
    accelerator: str | None
    per_node: Vector
    nodes: tuple[int, ...]
    score: float = 0.0


@dataclass(frozen=True)
class PoolVerdict:
    """Why one pool does not take a job (or, for the chosen pool, that it did)."""

    pool: str
    code: Code
    reason: str


@dataclass(frozen=True)
class Reservation:
    """A blocked job's claim on a pool: it starts there `at` (None: once attempts of unknown length
    end) on `nodes`; until then only jobs that end by `at` may use the capacity it needs."""

    job_id: str
    pool_id: str
    pool: str  # the pool's label, for people
    at: datetime | None
    nodes: tuple[int, ...]
    per_node: Vector
    preempting: tuple[str, ...] = ()  # attempt ids evicted to make the room
    # The room is gathered by moving attempts off the pool (ADR 0028): the next cycle holds it for
    # this job first (`Snapshot.claims`).
    claim: bool = False


@dataclass(frozen=True)
class Preemption:
    """An active attempt to stop so that `for_job` can run; its job goes back to the queue."""

    attempt_id: str
    job_id: str
    pool_id: str
    for_job: str
    reason: str


@dataclass(frozen=True)
class Plan:
    placements: tuple[Placement, ...] = ()
    # job id → its verdict per pool; `schedule()` gives a mapping that works each job's out when read
    waiting: Mapping[str, tuple[PoolVerdict, ...]] = field(default_factory=dict)
    reservations: tuple[Reservation, ...] = ()
    preemptions: tuple[Preemption, ...] = ()
    # job id → the gate (`quota`, `funds`) that held it back on the pool it would have taken
    held_back: Mapping[str, str] = field(default_factory=dict)

    def reasons(self, job_id: str) -> tuple[PoolVerdict, ...]:
        return self.waiting.get(job_id, ())
