"""Policy `fifo`: strict first-come first-served; a head job that does not fit blocks everyone behind it.

On a network the head starts on the first pool, in file order, with enough GPUs free; it blocks while
no pool has.
"""

from __future__ import annotations

from collections import deque

from suanli.sim.network import Network
from suanli.sim.policy import NOTHING, Decision, PoolState, first_fit, register_policy
from suanli.sim.trace import Trace


class Fifo:
    name = "fifo"

    def __init__(self, trace: Trace, network: Network) -> None:
        self._need = [j.gpus for j in trace.jobs]
        self._queue: deque[int] = deque()  # the engine enqueues in (submit, input order)

    def arrive(self, job: int, now: float) -> None:
        self._queue.append(job)

    def depart(self, job: int, now: float) -> None:
        pass

    def decide(self, now: float, pool: PoolState) -> Decision:
        queue, need = self._queue, self._need
        if not queue or need[queue[0]] > max(pool.pool_free):
            return NOTHING  # the common case under load: the head is blocked
        free = list(pool.pool_free)
        start, on = [], []
        while queue:
            where = first_fit(free, need[queue[0]])
            if where < 0:
                break
            job = queue.popleft()
            free[where] -= need[job]
            start.append(job)
            on.append(where)
        return Decision(tuple(start), on=tuple(on)) if start else NOTHING


register_policy(Fifo.name, Fifo)
