"""Policy `easy`: FIFO with EASY backfilling, using each job's true duration as its estimate.

Each pass starts jobs from the head of the queue while they fit. If the head does not fit, it gets a
reservation at its shadow time: the earliest finish of running jobs by which enough GPUs are free for it
(every job finishing at that same instant counts). The GPUs free then beyond what the head needs are the
extra GPUs. A later job, in arrival order, starts now only if it fits now and either ends by the shadow
time or uses only extra GPUs (it then uses them up). So backfilling never delays the head.
"""

from __future__ import annotations

import bisect
from collections import deque

from suanli.sim.policies.arrival_index import ArrivalIndex
from suanli.sim.policy import NOTHING, Decision, PoolState, register_policy
from suanli.sim.trace import Trace


class EasyBackfill:
    name = "easy"

    def __init__(self, trace: Trace, gpus: int) -> None:
        n = len(trace.jobs)
        self._need = [j.gpus for j in trace.jobs]
        self._duration = [j.duration for j in trace.jobs]
        self._rank = [0] * n
        self._by_rank = [0] * n
        self._arrivals = 0
        self._queue: deque[int] = deque()  # arrival order; started jobs are skipped lazily
        self._waiting = [False] * n
        self._index = ArrivalIndex(n)
        self._ends: list[tuple[float, int]] = []  # running jobs as (finish, job), ascending
        self._end_of = [0.0] * n

    def arrive(self, job: int, now: float) -> None:
        rank = self._arrivals
        self._arrivals += 1
        self._rank[job], self._by_rank[rank] = rank, job
        self._queue.append(job)
        self._waiting[job] = True
        self._index.add(rank, self._need[job], self._duration[job])

    def depart(self, job: int, now: float) -> None:
        ends = self._ends
        del ends[bisect.bisect_left(ends, (self._end_of[job], job))]

    def decide(self, now: float, pool: PoolState) -> Decision:
        free = pool.free
        start: list[int] = []
        head = self._head()
        while head >= 0 and self._need[head] <= free:
            free -= self._take(head, now, start)
            head = self._head()
        if head >= 0 and free > 0:
            shadow, extra = self._reservation(self._need[head], free)
            free = self._backfill(now, free, shadow, extra, start)
        return Decision(tuple(start)) if start else NOTHING

    def _head(self) -> int:
        queue, waiting = self._queue, self._waiting
        while queue and not waiting[queue[0]]:
            queue.popleft()
        return queue[0] if queue else -1

    def _take(self, job: int, now: float, start: list[int]) -> int:
        self._waiting[job] = False
        self._index.remove(self._rank[job], self._need[job])
        end = self._end_of[job] = now + self._duration[job]
        bisect.insort(self._ends, (end, job))
        start.append(job)
        return self._need[job]

    def _reservation(self, need: int, free: int) -> tuple[float, int]:
        """The head's shadow time and the extra GPUs free then beyond its need."""
        ends, avail, k = self._ends, free, 0
        while avail < need:  # the head fits an empty pool, so the running jobs free enough
            avail += self._need[ends[k][1]]
            k += 1
        shadow = ends[k - 1][0]
        while k < len(ends) and ends[k][0] == shadow:
            avail += self._need[ends[k][1]]
            k += 1
        return shadow, avail - need

    def _backfill(self, now: float, free: int, shadow: float, extra: int, start: list[int]) -> int:
        bound = shadow - now  # a job ends by the shadow time iff its duration is at most this
        while free > 0:
            rank = self._index.first(free, extra, bound)
            if rank < 0:
                break
            job = self._by_rank[rank]
            if self._duration[job] > bound:
                extra -= self._need[job]
            free -= self._take(job, now, start)
        return free


register_policy(EasyBackfill.name, EasyBackfill)
