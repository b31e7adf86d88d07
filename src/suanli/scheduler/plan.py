"""What a scheduling cycle decides: placements, and for every job left waiting, the reason per pool."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
class Plan:
    placements: tuple[Placement, ...] = ()
    # job id → its verdict per pool; `schedule()` gives a mapping that works each job's out when read
    waiting: Mapping[str, tuple[PoolVerdict, ...]] = field(default_factory=dict)

    def reasons(self, job_id: str) -> tuple[PoolVerdict, ...]:
        return self.waiting.get(job_id, ())
