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

__all__ = ["Release", "Start", "guard_for", "sooner", "start_after"]

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
    known = sorted((r for r in releases if r[0] is not None), key=lambda r: r[0] or now)
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
    for _, on, per_node in (r for r in releases if r[0] is None):
        for n in on:
            if n < len(free):
                free[n] = free[n] + per_node
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
