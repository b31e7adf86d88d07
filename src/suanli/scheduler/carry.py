"""What one scheduling cycle leaves the next (`Carry`): the answers that do not read free capacity,
the running attempts' holdings and evictable ranks, and the reusable scores' raw values per pool
(`Values`). `classes.py` reads and fills it; `schedule()` takes one from a caller that runs cycles
back to back over the same pools (the simulator, the control loop)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from itertools import repeat
from operator import ne
from typing import cast

from suanli.scheduler import ranking
from suanli.scheduler.books import Holdings
from suanli.scheduler.evictable import EvictableRanks
from suanli.scheduler.snapshot import PendingJob, PoolView
from suanli.scheduler.survivors import StaticSets

__all__ = ["NO_COST", "Carry", "Values"]


class Carry:
    """The answers that do not read free capacity, kept from one cycle to the next while every pool's
    `static_key` is unchanged: static filters' answers and survivors, and reusable scores' raw
    values. Exact: those plugins see a pool only through what its `static_key` holds, and a job only
    through its key. Any change to any pool (a price, a site going offline, a pool added) starts
    afresh. A caller that runs cycles back to back over the same pools (the simulator, the control
    loop) passes one to `schedule()`; without one, every cycle starts afresh."""

    LIMIT = 200_000  # cached answers (pool × key) kept at most; past it, start afresh

    def __init__(self) -> None:
        self._key: tuple[Hashable, ...] | None = None
        self.static = StaticSets(())  # static filters' answers and survivors
        self.values: dict[tuple[str, Hashable], Values] = {}
        self.capacity: tuple[float, float, float] | None = None  # `books.capacity` of the pools
        # (profile, job id) → (the job, its class keys): the keys depend on the job alone
        # and a number per distinct class keys: a cycle finds a job's class by the number, without
        # hashing its keys (tuples of tuples) again
        self.job_keys: dict[int, dict[str, tuple[PendingJob, tuple[Hashable, ...], int]]] = {}
        self.key_numbers: dict[tuple[Hashable, ...], int] = {}
        self.jobs_keyed = 0
        self.holdings = Holdings()  # what running attempts hold (it reads no pool: never reset)
        self.evictable = EvictableRanks()  # which may be evicted for service now (reads no pool)
        # (scores' memos, domain) → its ranking (`JobClass._ranking`), and their pools in all
        self.rankings: dict[Hashable, ranking.Ranking] = {}
        self.ranked_pools = 0

    def adopt(self, pools: Sequence[PoolView]) -> Carry:
        key = tuple([p.static_key for p in pools])
        size = len(pools) * (len(self.static) + len(self.values)) + self.ranked_pools
        if key != self._key or size > self.LIMIT:
            self._key = key
            self.static = StaticSets(pools)
            self.values = {}  # the rankings' keys name these memos: they go with them
            self.rankings = {}
            self.ranked_pools = 0
            self.capacity = None
        self.static.pools = pools  # alike to the ones it was made for, by their `static_key`
        if self.jobs_keyed > self.LIMIT:
            self.job_keys, self.key_numbers, self.jobs_keyed = {}, {}, 0
        return self


NO_COST = math.inf  # in `Values.lows`: an unknown cost, never the cheapest; -inf in `highs`


class Values:
    """One reusable score's raw values for one key, per pool, and whether any two of them differ.

    `lows` and `highs` are the same values with an unknown one (None) as +inf and -inf, so the
    cheapest and dearest known value of any pools are one `min` and one `max`. Where a score gives
    a value that is not finite (`odd`), they are found among the known values instead, as
    `ranking.spread` does."""

    def __init__(self) -> None:
        self.by_pool: dict[int, float | None] = {}
        # While every value is known (most memos, always), both are `by_pool` itself.
        self.lows = self.highs = cast("dict[int, float]", self.by_pool)
        self.first: float | None = None
        self.varies = False
        self.odd = False  # some value is ±inf or NaN
        self.covered: set[int] = set()  # domains (bitsets of pools) whose every pool is in `by_pool`

    def extend(self, pools: list[int], values: list[float | None]) -> None:
        """Add each pool's value (the two lists in step)."""
        if not pools:
            return
        if not self.by_pool:
            self.first = values[0]
        if not self.varies:
            self.varies = any(map(ne, repeat(self.first), values))  # `!=`, which a NaN never fails
        if None in values:
            known = [v for v in values if v is not None]
            if self.lows is self.by_pool:  # the first unknown value: they part from `by_pool`
                self.lows, self.highs = dict(self.lows), dict(self.highs)
            self.lows.update(zip(pools, [NO_COST if v is None else v for v in values], strict=True))
            self.highs.update(zip(pools, [-NO_COST if v is None else v for v in values], strict=True))
        else:
            known = cast("list[float]", values)
            if self.lows is not self.by_pool:
                self.lows.update(zip(pools, known, strict=True))
                self.highs.update(zip(pools, known, strict=True))
        self.by_pool.update(zip(pools, values, strict=True))
        self.odd = self.odd or not all(map(math.isfinite, known))
