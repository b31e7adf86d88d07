"""`ArrivalIndex`: waiting jobs by GPU count, for "the first in arrival order that fits these bounds".

Backfilling asks, over and over, for the earliest-arrived waiting job that needs at most `free` GPUs and
whose duration is at most some bound. A linear scan of the queue makes that O(queue) per pass, and
queues of thousands of jobs are the normal case under load. Here each distinct GPU count has a min-tree
over arrival ranks holding the waiting jobs' durations (a free slot holds +inf), so the query is one
descent per GPU count: O(G log n) for G distinct counts (about a dozen in real traces).
"""

from __future__ import annotations

import bisect
import math
import sys

__all__ = ["ArrivalIndex"]

_EMPTY = math.inf
_ANY = sys.float_info.max  # every finite duration is at most this; an empty slot (+inf) is not


class _MinTree:
    """Min over a fixed array of arrival ranks; `first_at_most` finds the lowest rank at or under a bound."""

    __slots__ = ("count", "size", "tree")

    def __init__(self, n: int) -> None:
        self.size = 1 << max(0, (n - 1).bit_length())
        self.tree = [_EMPTY] * (2 * self.size)
        self.count = 0

    def set(self, rank: int, value: float) -> None:
        tree = self.tree
        i = rank + self.size
        tree[i] = value
        i >>= 1
        while i:
            left, right = tree[2 * i], tree[2 * i + 1]
            low = left if left < right else right
            if tree[i] == low:
                break  # the ancestors already hold the right minimum
            tree[i] = low
            i >>= 1

    def first_at_most(self, bound: float) -> int:
        tree = self.tree
        if not tree[1] <= bound:
            return -1
        i, size = 1, self.size
        while i < size:
            i *= 2
            if not tree[i] <= bound:
                i += 1
        return i - size


class ArrivalIndex:
    """Waiting jobs, each with an arrival rank (0, 1, ... up to `capacity` − 1), its GPU count and duration."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._trees: dict[int, _MinTree] = {}
        self._sizes: list[int] = []  # the GPU counts seen so far, ascending

    def add(self, rank: int, gpus: int, duration: float) -> None:
        tree = self._trees.get(gpus)
        if tree is None:
            tree = self._trees[gpus] = _MinTree(self._capacity)
            bisect.insort(self._sizes, gpus)
        tree.set(rank, duration)
        tree.count += 1

    def remove(self, rank: int, gpus: int) -> None:
        tree = self._trees[gpus]
        tree.set(rank, _EMPTY)
        tree.count -= 1

    def first(self, free: int, extra: int, bound: float) -> int:
        """The lowest rank of a job with gpus ≤ `free` and (gpus ≤ `extra` or duration ≤ `bound`); −1 if none."""
        best = -1
        for gpus in self._sizes:
            if gpus > free:
                break
            tree = self._trees[gpus]
            if not tree.count:
                continue
            rank = tree.first_at_most(_ANY if gpus <= extra else bound)
            if rank >= 0 and (best < 0 or rank < best):
                best = rank
        return best
