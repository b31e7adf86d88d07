"""Expected starts with the queue ahead: when a job would start on each pool if it were submitted now.

`expected_start` (estimate.py) answers for a job alone: now if it fits, else when the attempts
running there give enough back. A quote must also count the jobs already waiting ahead of it. This
module projects them forward, the way a conservative backfill scheduler (Slurm's `squeue --start`)
does:

```
each pool: a timeline = its free nodes now + the running attempts' releases (start + max_runtime)
for each job ahead, in queue order (priority desc, then age), at most AHEAD_LIMIT of them:
    among the pools its profile's filters admit when the pool is empty (accelerator, shape,
    constraints, price cap, online), the one where it can start earliest, no sooner than the jobs
    booked there before it; it is booked there until its max_runtime ends
the quoted job: on every pool, the earliest start on that pool's timeline (backfilled, or after the
    jobs booked there)
```
The jobs ahead keep each pool's queue in order. The quoted job, if it has a `max_runtime`, may
backfill as the production cycle lets it: start before the last job booked on the pool, on nodes
that stay free until its max_runtime ends whatever is booked to start meanwhile.

A job ahead without a `max_runtime` holds what it is booked on for good (its end is unknown), and an
attempt running without one never gives its nodes back in the projection: then a start that needs
those nodes is unknown (None). The projection is deliberately pessimistic in one way (each job ahead
runs to its full `max_runtime`) and optimistic in another (jobs submitted later at a higher priority
or a lower fair share are not known yet); the quote says which jobs it counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from suanli.domain.resources import Vector
from suanli.scheduler.fit import accelerator_option, pick_nodes
from suanli.scheduler.framework import Profile, build, run_filters
from suanli.scheduler.snapshot import PendingJob, PoolView

__all__ = ["AHEAD_LIMIT", "Outlook", "outlook"]

AHEAD_LIMIT = 500  # jobs ahead projected at most; past them a quote says it counted only these
BACKFILL_TRIES = 64  # moments before the last booking at which the quoted job tries to backfill


@dataclass
class _Booking:
    start: datetime
    end: datetime | None  # None: holds the nodes for good
    nodes: tuple[int, ...]
    per_node: Vector


@dataclass
class _Timeline:
    """One pool's free capacity from now on: free now, releases that add to it, bookings that take."""

    free: tuple[Vector, ...]
    releases: list[tuple[datetime, tuple[int, ...], Vector]]  # known ends only
    bookings: list[_Booking] = field(default_factory=list)
    last_start: datetime | None = None  # the latest booking's start: later jobs start no sooner

    def earliest(self, need: Vector, count: int, now: datetime) -> tuple[datetime, tuple[int, ...]] | None:
        """The first moment, no sooner than the last booking's start, that `count` nodes have `need`
        free. Nothing is booked to start after that moment and capacity only comes back after it,
        so the nodes stay free for as long as the job runs."""
        floor = self.last_start or now
        free = list(self.free)
        later: list[tuple[datetime, tuple[int, ...], Vector]] = []
        for when, nodes, per_node in self.releases:
            if when <= floor:
                _add(free, nodes, per_node)
            else:
                later.append((when, nodes, per_node))
        for b in self.bookings:  # every booking starts by `floor`
            if b.end is None or b.end > floor:
                for n in b.nodes:
                    free[n] = free[n] - b.per_node
                if b.end is not None:
                    later.append((b.end, b.nodes, b.per_node))
        at = floor
        later.sort(key=lambda e: e[0])
        k = 0
        while True:
            fits = pick_nodes(need, count, tuple(free))
            if fits is not None:
                return at, fits
            if k == len(later):
                return None
            at = later[k][0]
            while k < len(later) and later[k][0] == at:
                _add(free, later[k][1], later[k][2])
                k += 1

    def sooner(
        self, need: Vector, count: int, seconds: int, now: datetime
    ) -> tuple[datetime, tuple[int, ...]] | None:
        """Backfill: a start before the last booking's, on nodes that stay free for the job's whole
        `seconds` whatever is booked to start meanwhile. Tries at most BACKFILL_TRIES moments."""
        floor = self.last_start
        if floor is None:
            return None
        moments = sorted(
            {now}
            | {when for when, _, _ in self.releases if now < when < floor}
            | {b.end for b in self.bookings if b.end is not None and now < b.end < floor}
        )
        for at in moments[:BACKFILL_TRIES]:
            until = at + timedelta(seconds=seconds)
            lowest = self._free_at(at)
            for b in self.bookings:  # free capacity only falls where a booking begins
                if at < b.start < until:
                    lowest = [_least(x, y) for x, y in zip(lowest, self._free_at(b.start), strict=True)]
            fits = pick_nodes(need, count, tuple(lowest))
            if fits is not None:
                return at, fits
        return None

    def _free_at(self, at: datetime) -> list[Vector]:
        free = list(self.free)
        for when, nodes, per_node in self.releases:
            if when <= at:
                _add(free, nodes, per_node)
        for b in self.bookings:
            if b.start <= at and (b.end is None or at < b.end):
                for n in b.nodes:
                    free[n] = free[n] - b.per_node
        return free

    def book(self, booking: _Booking) -> None:
        self.bookings.append(booking)
        self.last_start = booking.start


def _least(a: Vector, b: Vector) -> Vector:
    return Vector(min(a.accelerators, b.accelerators), min(a.cpus, b.cpus), min(a.memory_mib, b.memory_mib))


def _add(free: list[Vector], nodes: tuple[int, ...], per_node: Vector) -> None:
    for n in nodes:
        if n < len(free):
            free[n] = free[n] + per_node


@dataclass(frozen=True)
class Outlook:
    """Per pool id, when the job would start (None: not known, or never there); and what was counted."""

    starts: dict[str, datetime | None]
    ahead: int  # jobs ahead of it in the queue
    projected: int  # of those, how many the projection placed (at most AHEAD_LIMIT)


def outlook(
    job: PendingJob,
    pools: Sequence[PoolView],
    ahead: Sequence[PendingJob],
    profiles: dict[str, Profile],
    now: datetime,
) -> Outlook:
    """When `job` would start on each pool, after the jobs `ahead` of it (in queue order) take their
    turns (module docstring). `pools` carry their `releases`."""
    timelines = [_timeline(p, now) for p in pools]
    projected = 0
    for other in ahead[:AHEAD_LIMIT]:
        projected += 1
        best: tuple[datetime, str, int, tuple[int, ...], Vector] | None = None
        for i, pool in enumerate(pools):
            if not _could_run(other, pool, profiles):
                continue
            need = other.resources.per_node(accelerator_option(other, pool))
            found = timelines[i].earliest(need, other.resources.nodes, now)
            if found is not None and (best is None or (found[0], pool.label) < best[:2]):
                best = (found[0], pool.label, i, found[1], need)
        if best is None:
            continue
        at, _, i, nodes, need = best
        seconds = other.resources.max_runtime_s
        end = at + timedelta(seconds=seconds) if seconds is not None else None
        timelines[i].book(_Booking(at, end, nodes, need))
    starts: dict[str, datetime | None] = {}
    for pool, timeline in zip(pools, timelines, strict=True):
        need = job.resources.per_node(accelerator_option(job, pool))
        seconds = job.resources.max_runtime_s
        found = timeline.sooner(need, job.resources.nodes, seconds, now) if seconds else None
        found = found or timeline.earliest(need, job.resources.nodes, now)
        starts[pool.id] = found[0] if found is not None else None
    return Outlook(starts, len(ahead), projected)


def _timeline(pool: PoolView, now: datetime) -> _Timeline:
    known = sorted(
        ((max(r.at, now), r.nodes, r.per_node) for r in pool.releases if r.at is not None),
        key=lambda r: r[0],
    )
    return _Timeline(pool.free, known)


def _could_run(job: PendingJob, pool: PoolView, profiles: dict[str, Profile]) -> bool:
    """Whether the job's profile admits the pool were it empty: every filter but free capacity."""
    plugins = build(profiles.get(job.objective) or profiles["balanced"])
    empty = (pool.per_node,) * len(pool.free)
    return run_filters(plugins, job, pool, empty).ok
