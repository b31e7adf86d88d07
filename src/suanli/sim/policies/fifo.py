"""Policy `fifo`: strict first-come first-served; a head job that does not fit blocks everyone behind it."""

from __future__ import annotations

from collections import deque

from suanli.sim.policy import NOTHING, Decision, PoolState, register_policy
from suanli.sim.trace import Trace


class Fifo:
    name = "fifo"

    def __init__(self, trace: Trace, gpus: int) -> None:
        self._need = [j.gpus for j in trace.jobs]
        self._queue: deque[int] = deque()  # the engine enqueues in (submit, input order)

    def arrive(self, job: int, now: float) -> None:
        self._queue.append(job)

    def depart(self, job: int, now: float) -> None:
        pass

    def decide(self, now: float, pool: PoolState) -> Decision:
        queue, need, free = self._queue, self._need, pool.free
        start = []
        while queue and need[queue[0]] <= free:
            job = queue.popleft()
            free -= need[job]
            start.append(job)
        return Decision(tuple(start)) if start else NOTHING


register_policy(Fifo.name, Fifo)
