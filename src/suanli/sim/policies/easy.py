"""Policy `easy`: FIFO with EASY backfilling, using each job's true duration as its estimate.

Each pass starts jobs from the head of the queue while they fit (on the first pool, in file order, with
enough GPUs free). If the head does not fit, it gets a reservation on the pool where it can start
earliest (ties: the first in file order), at that pool's shadow time: the earliest finish of the jobs
running there by which enough GPUs are free for it (every job finishing at that same instant counts).
The GPUs free there then beyond what the head needs are the extra GPUs. A later job, in arrival order,
starts now if it fits now on some pool, on the first one where it may: any pool but the reserved one,
or the reserved one if it ends by the shadow time or uses only extra GPUs (it then uses them up). So
backfilling never delays the head. On one pool this is textbook EASY.
"""

from __future__ import annotations

import bisect
import math
from collections import deque

from suanli.sim.network import Network
from suanli.sim.policies.arrival_index import ArrivalIndex
from suanli.sim.policy import NOTHING, Decision, PoolState, first_fit, register_policy
from suanli.sim.trace import Trace


class EasyBackfill:
    name = "easy"

    def __init__(self, trace: Trace, network: Network) -> None:
        n = len(trace.jobs)
        self._sizes = network.sizes
        self._need = [j.gpus for j in trace.jobs]
        self._duration = [j.duration for j in trace.jobs]
        self._rank = [0] * n
        self._by_rank = [0] * n
        self._arrivals = 0
        self._queue: deque[int] = deque()  # arrival order; started jobs are skipped lazily
        self._waiting = [False] * n
        self._index = ArrivalIndex(n)
        self._ends: list[list[tuple[float, int]]] = [[] for _ in self._sizes]  # per pool: (finish, job)
        self._end_of = [0.0] * n
        self._pool_of = [0] * n

    def arrive(self, job: int, now: float) -> None:
        rank = self._arrivals
        self._arrivals += 1
        self._rank[job], self._by_rank[rank] = rank, job
        self._queue.append(job)
        self._waiting[job] = True
        self._index.add(rank, self._need[job], self._duration[job])

    def depart(self, job: int, now: float) -> None:
        ends = self._ends[self._pool_of[job]]
        del ends[bisect.bisect_left(ends, (self._end_of[job], job))]

    def decide(self, now: float, pool: PoolState) -> Decision:
        free = list(pool.pool_free)
        start: list[int] = []
        on: list[int] = []
        head = self._head()
        while head >= 0:
            where = first_fit(free, self._need[head])
            if where < 0:
                break
            free[where] -= self._take(head, where, now, start, on)
            head = self._head()
        if head >= 0 and max(free) > 0:
            reserved, shadow, extra = self._reservation(self._need[head], free)
            self._backfill(now, free, reserved, shadow, extra, start, on)
        return Decision(tuple(start), on=tuple(on)) if start else NOTHING

    def _head(self) -> int:
        queue, waiting = self._queue, self._waiting
        while queue and not waiting[queue[0]]:
            queue.popleft()
        return queue[0] if queue else -1

    def _take(self, job: int, where: int, now: float, start: list[int], on: list[int]) -> int:
        self._waiting[job] = False
        self._index.remove(self._rank[job], self._need[job])
        end = self._end_of[job] = now + self._duration[job]
        self._pool_of[job] = where
        bisect.insort(self._ends[where], (end, job))
        start.append(job)
        on.append(where)
        return self._need[job]

    def _reservation(self, need: int, free: list[int]) -> tuple[int, float, int]:
        """The pool where the head starts earliest, its shadow time there, and the extra GPUs."""
        best = (-1, math.inf, 0)
        for where, size in enumerate(self._sizes):
            if size < need:
                continue
            shadow, extra = self._shadow(self._ends[where], need, free[where])
            if shadow < best[1]:
                best = (where, shadow, extra)
        return best

    def _shadow(self, ends: list[tuple[float, int]], need: int, free: int) -> tuple[float, int]:
        avail, k = free, 0
        while avail < need:  # the head fits this pool empty, so its running jobs free enough
            avail += self._need[ends[k][1]]
            k += 1
        shadow = ends[k - 1][0]
        while k < len(ends) and ends[k][0] == shadow:
            avail += self._need[ends[k][1]]
            k += 1
        return shadow, avail - need

    def _backfill(
        self,
        now: float,
        free: list[int],
        reserved: int,
        shadow: float,
        extra: int,
        start: list[int],
        on: list[int],
    ) -> None:
        bound = shadow - now  # a job ends by the shadow time iff its duration is at most this
        index = self._index
        while True:
            elsewhere = max((f for p, f in enumerate(free) if p != reserved), default=0)
            here = index.first(free[reserved], extra, bound) if free[reserved] > 0 else -1
            there = index.first(elsewhere, elsewhere, bound) if elsewhere > 0 else -1
            rank = min(r for r in (here, there, len(self._by_rank)) if r >= 0)
            if rank == len(self._by_rank):
                break
            job = self._by_rank[rank]
            need, in_time = self._need[job], self._duration[job] <= bound
            where = next(
                p for p, f in enumerate(free) if need <= f and (p != reserved or in_time or need <= extra)
            )
            if where == reserved and not in_time:
                extra -= need
            free[where] -= self._take(job, where, now, start, on)


register_policy(EasyBackfill.name, EasyBackfill)
