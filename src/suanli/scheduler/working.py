"""The cycle's working copy of free capacity: each pool's free nodes, reservations, a version, history.

Pools are addressed by their index in `Snapshot.pools`. A placement takes capacity from one pool:
that pool's free vector tuple is replaced (never changed in place) and its version goes up by one.
A reservation (`reserve`) guards part of a pool's free capacity for a blocked job from `until` on:
jobs that may still run then see the pool's *guarded* free vectors (free minus the guard), jobs that
end by then see all of it (`free_for`). A pool holds at most one reservation per cycle, and it bumps
the version too. Within a cycle what any job may use only ever shrinks.

Every change ticks a clock, and each pool keeps its (free, guarded) history against it, so a waiting
job's verdicts can be worked out later against what it actually saw (`at`, `guarded_at`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from suanli.domain.resources import Vector
from suanli.scheduler.snapshot import PendingJob, PoolView

__all__ = ["Guard", "WorkingFree"]


@dataclass(frozen=True)
class Guard:
    """A pool's reservation in the working copy: whose, from when (None: not known), what it guards."""

    job_id: str
    until: datetime | None
    guard: tuple[Vector, ...]  # per node: the free capacity the reserved job needs then
    clock: int  # when it was made


class WorkingFree:
    """Free vectors per pool for one cycle; the snapshot itself is never mutated."""

    def __init__(self, pools: Sequence[PoolView], now: datetime | None = None) -> None:
        self.now = now
        self.free: list[tuple[Vector, ...]] = [p.free for p in pools]
        self.guarded: list[tuple[Vector, ...]] = list(self.free)
        self._ends_by_limit: dict[int, datetime] = {}
        self.guards: list[Guard | None] = [None] * len(pools)
        self.reserved = 0  # how many pools hold a reservation
        self.version: list[int] = [0] * len(pools)
        # Per pool, placements taken from it: the version of its `free` alone (a reservation changes
        # only the guarded part), so answers that read `free` outlive reservations.
        self.taken: list[int] = [0] * len(pools)
        self.placed = 0  # placements taken so far
        self.clock = 0  # placements and reservations so far: the clock the history is kept against
        # Capacity this cycle's placements give back: (when, nodes, per node); when None: not known.
        self.ends: list[list[tuple[datetime | None, tuple[int, ...], Vector]]] = [[] for _ in pools]
        self._since: list[list[int]] = [[0] for _ in pools]  # `clock` when each version began
        self._history: list[list[tuple[tuple[Vector, ...], tuple[Vector, ...]]]] = [
            [(p.free, p.free)] for p in pools
        ]

    def free_for(self, pool: int, job: PendingJob) -> tuple[Vector, ...]:
        """What `job`, if started now, may use on the pool: all of its free capacity, or only the
        guarded part when the pool holds a reservation the job might still be running at."""
        guard = self.guards[pool]
        if guard is None:
            return self.free[pool]
        ends = self.ends_of(job)
        if ends is not None and guard.until is not None and ends <= guard.until:
            return self.free[pool]
        return self.guarded[pool]

    def ends_of(self, job: PendingJob) -> datetime | None:
        """When the job, started now, ends at the latest (its max_runtime); None: not known."""
        limit = job.resources.max_runtime_s
        if not limit or self.now is None:
            return None
        found = self._ends_by_limit.get(limit)
        if found is None:
            found = self._ends_by_limit[limit] = self.now + timedelta(seconds=limit)
        return found

    def take(self, pool: int, per_node: Vector, nodes: Sequence[int], ends: datetime | None = None) -> None:
        """Take `per_node` from each of `nodes` of `pool`: one placement, giving it back at `ends`."""
        free = list(self.free[pool])
        for n in nodes:
            free[n] = free[n] - per_node
        self.placed += 1
        self.taken[pool] += 1
        self.free[pool] = tuple(free)
        if self.guards[pool] is None:
            self.guarded[pool] = self.free[pool]
        else:  # free minus the guard, node by node: only the nodes taken change
            guarded = list(self.guarded[pool])
            for n in nodes:
                guarded[n] = guarded[n] - per_node
            self.guarded[pool] = tuple(guarded)
        self.ends[pool].append((ends, tuple(nodes), per_node))
        self._changed(pool)

    def reserve(self, pool: int, job_id: str, until: datetime | None, guard: tuple[Vector, ...]) -> None:
        if self.guards[pool] is not None:
            raise ValueError(f"pool {pool} already holds a reservation this cycle")
        self.guards[pool] = Guard(job_id, until, guard, self.clock + 1)
        self.reserved += 1
        self.guarded[pool] = _minus(self.free[pool], guard)
        self._changed(pool)

    def take_reserved(self, pool: int, per_node: Vector, nodes: Sequence[int], ends: datetime | None) -> None:
        """The reserving job itself takes its room on `nodes` of `pool` (a claim held for it,
        `Snapshot.claims`): the guard goes with it. What other jobs may use does not grow: the guard
        was no more than what the job takes on those nodes."""
        self.guards[pool] = None
        self.reserved -= 1
        self.take(pool, per_node, nodes, ends)

    def _changed(self, pool: int) -> None:
        self.clock += 1
        self.version[pool] += 1
        self._since[pool].append(self.clock)
        self._history[pool].append((self.free[pool], self.guarded[pool]))

    def at(self, pool: int, clock: int) -> tuple[Vector, ...]:
        """The pool's free vectors as they were at `clock`."""
        return self._history[pool][bisect_right(self._since[pool], clock) - 1][0]

    def guarded_at(self, pool: int, clock: int) -> tuple[Vector, ...]:
        """The pool's guarded free vectors as they were at `clock`."""
        return self._history[pool][bisect_right(self._since[pool], clock) - 1][1]


def _minus(free: tuple[Vector, ...], guard: tuple[Vector, ...]) -> tuple[Vector, ...]:
    return tuple(f - g for f, g in zip(free, guard, strict=True))
