"""Backfill's arithmetic: when and on which nodes a blocked job could start on a pool, from what the
running attempts and this cycle's placements give back, and the guard that keeps its room so.

The reserver (`reserve.py`) picks the pool where the job starts soonest and reserves it there: the
capacity the job will need then is guarded, and later jobs may use a guarded pool only where they
end by the reservation's start or leave the guarded capacity alone
(`working.WorkingFree.free_for`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from suanli.domain.resources import Vector
from suanli.scheduler.fit import pick_nodes
from suanli.scheduler.snapshot import PoolView

__all__ = [
    "Release",
    "Split",
    "Start",
    "guard_for",
    "merged",
    "sooner",
    "split",
    "start_after",
    "start_after_split",
]

Release = tuple[datetime | None, tuple[int, ...], Vector]  # when (None: not known), on which nodes, per node
Start = tuple[datetime | None, tuple[int, ...], tuple[Vector, ...]]  # when, on which nodes, the guard


def start_after(
    need: Vector, count: int, now: datetime, now_free: tuple[Vector, ...], releases: Sequence[Release]
) -> Start | None:
    """When and on which nodes a job of `count` nodes of `need`, which does not fit in `now_free`,
    could start as `releases` give their room back (those of unknown end last: then the start is
    unknown), and the guard that keeps that room; None if even all of it would not make its room."""
    if not releases:
        return None  # nothing running there will give anything back
    return start_after_split(need, count, now, now_free, *split(releases, len(now_free)))


Split = tuple[list[Release], tuple[Vector, ...] | None]
"""Releases as `split` gives them: those of known end by end, and what the others give back per node
(None: there are none)."""


def split(releases: Sequence[Release], nodes: int, known: Sequence[Release] = ()) -> Split:
    """`releases` (and `known`, already of known end and sorted by it) as `start_after_split` reads
    them: those of known end sorted by end, and the sum per node of what those of unknown end give
    back. The reserver splits a pool's running attempts once a cycle and merges in its placements."""
    ends = sorted((*known, *(r for r in releases if r[0] is not None)), key=_end)
    back = [[0, 0, 0] for _ in range(nodes)]
    some = False
    for at, on, per_node in releases:
        if at is None:
            some = True
            for n in on:
                if n < nodes:
                    b = back[n]
                    b[0] += per_node.accelerators
                    b[1] += per_node.cpus
                    b[2] += per_node.memory_mib
    return ends, tuple(Vector(*b) for b in back) if some else None


def merged(base: Split, releases: Sequence[Release], nodes: int) -> Split:
    """`base` (a `split`) with `releases` added: what `split` gives for both together."""
    if not releases:
        return base
    known, unknown = base
    known, more = split(releases, nodes, known)
    if unknown is None or more is None:
        return known, unknown or more
    return known, tuple(a + b for a, b in zip(unknown, more, strict=True))


def _end(release: Release) -> datetime:
    assert release[0] is not None
    return release[0]


def start_after_split(
    need: Vector,
    count: int,
    now: datetime,
    now_free: tuple[Vector, ...],
    known: Sequence[Release],
    unknown: tuple[Vector, ...] | None,
) -> Start | None:
    """`start_after`, from the releases `split` into those of known end, by end, and the room the
    others give back per node."""
    free = list(now_free)
    back = [Vector()] * len(free)
    for at, on, per_node in known:
        for n in on:
            if n < len(free):
                free[n] = free[n] + per_node
                back[n] = back[n] + per_node
        nodes = pick_nodes(need, count, tuple(free))
        if nodes is not None:
            assert at is not None
            return max(at, now), nodes, guard_for(need, nodes, now_free, back)
    if unknown is not None:
        free = [f + u for f, u in zip(free, unknown, strict=False)] + free[len(unknown) :]
    nodes = pick_nodes(need, count, tuple(free))
    if nodes is None:
        return None
    return None, nodes, guard_for(need, nodes, now_free, None)


def guard_for(
    need: Vector, nodes: tuple[int, ...], free: Sequence[Vector], back: list[Vector] | None
) -> tuple[Vector, ...]:
    """Per node, the part of today's free capacity the reserved job needs at its start: its need less
    what running attempts give back on that node by then, no less than zero, no more than is free."""
    out = [Vector()] * len(free)
    for n in nodes:
        want = need - back[n] if back is not None else need
        f = free[n]
        out[n] = Vector(
            max(0, min(want.accelerators, f.accelerators)),
            max(0, min(want.cpus, f.cpus)),
            max(0, min(want.memory_mib, f.memory_mib)),
        )
    return tuple(out)


def sooner(a: datetime | None, pa: PoolView, b: datetime | None, pb: PoolView) -> bool:
    """Whether a start `a` on pool `pa` comes before `b` on `pb`: a known start before an unknown
    one, then the earlier, then the label."""
    if a is None or b is None:
        return b is None and (a is not None or pa.label < pb.label)
    return (a, pa.label) < (b, pb.label)
