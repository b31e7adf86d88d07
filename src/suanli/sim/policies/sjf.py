"""Policy `sjf`: shortest job first with known durations, non-preemptive and blocking.

Waiting jobs are ordered by (duration, submit, input order); the first one that does not fit blocks the
rest, as in FIFO. On a network a job starts on the first pool, in file order, where it fits. It is an
oracle (real schedulers do not know durations): a bound on what ordering by length alone can give, not
a policy to deploy.
"""

from __future__ import annotations

import heapq

from suanli.sim.network import Network
from suanli.sim.policy import NOTHING, Decision, PoolState, first_fit, register_policy
from suanli.sim.trace import Trace


class ShortestFirst:
    name = "sjf"

    def __init__(self, trace: Trace, network: Network) -> None:
        self._jobs = trace.jobs
        self._arrivals = 0
        self._heap: list[tuple[float, int, int]] = []  # (duration, arrival rank, job)

    def arrive(self, job: int, now: float) -> None:
        # The engine calls arrive in (submit, input order), so the arrival rank breaks duration ties.
        heapq.heappush(self._heap, (self._jobs[job].duration, self._arrivals, job))
        self._arrivals += 1

    def depart(self, job: int, now: float) -> None:
        pass

    def decide(self, now: float, pool: PoolState) -> Decision:
        heap, jobs = self._heap, self._jobs
        if not heap or jobs[heap[0][2]].gpus > max(pool.pool_free):
            return NOTHING  # the common case under load: the first job is blocked
        free = list(pool.pool_free)
        start, on = [], []
        while heap:
            where = first_fit(free, jobs[heap[0][2]].gpus)
            if where < 0:
                break
            job = heapq.heappop(heap)[2]
            free[where] -= jobs[job].gpus
            start.append(job)
            on.append(where)
        return Decision(tuple(start), on=tuple(on)) if start else NOTHING


register_policy(ShortestFirst.name, ShortestFirst)
