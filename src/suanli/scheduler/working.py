"""The cycle's working copy of free capacity: each pool's free nodes now, a version, and their history.

Pools are addressed by their index in `Snapshot.pools`. A placement takes capacity from one pool:
that pool's free vector tuple is replaced (never changed in place), its version goes up by one, and
the new tuple is kept with the number of placements made so far. Within a cycle free capacity only
ever shrinks. The history lets a waiting job's verdicts be worked out later against the capacity it
actually saw when it was examined (`at`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from suanli.domain.resources import Vector
from suanli.scheduler.snapshot import PoolView


class WorkingFree:
    """Free vectors per pool for one cycle; the snapshot itself is never mutated."""

    def __init__(self, pools: Sequence[PoolView]) -> None:
        self.free: list[tuple[Vector, ...]] = [p.free for p in pools]
        self.version: list[int] = [0] * len(pools)
        self.placed = 0  # placements taken so far: the clock the history is kept against
        self._since: list[list[int]] = [[0] for _ in pools]  # `placed` when each version began
        self._history: list[list[tuple[Vector, ...]]] = [[p.free] for p in pools]

    def take(self, pool: int, per_node: Vector, nodes: Sequence[int]) -> None:
        """Take `per_node` from each of `nodes` of `pool`: one placement."""
        free = list(self.free[pool])
        for n in nodes:
            free[n] = free[n] - per_node
        self.placed += 1
        self.free[pool] = tuple(free)
        self.version[pool] += 1
        self._since[pool].append(self.placed)
        self._history[pool].append(self.free[pool])

    def at(self, pool: int, placed: int) -> tuple[Vector, ...]:
        """The pool's free vectors as they were once the cycle's first `placed` placements were taken."""
        return self._history[pool][bisect_right(self._since[pool], placed) - 1]
