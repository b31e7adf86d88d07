"""The discrete-event engine: one pool of identical GPUs, a virtual clock, and a policy to consult.

At each event time, in this order: release every job that finishes now, enqueue every job submitted now
(in the order (submit, input order)), then ask the policy once (`Policy.decide`) and apply its answer:
preemptions first, then starts. Event times are submits, finishes, and the time a policy asked to be
woken at. Jobs are rigid (`gpus` GPUs for `duration` seconds of progress, any GPUs of the pool: no node
shape). A preempted job keeps the progress it made; each restart after a preemption first spends
`restart_overhead_s` holding its GPUs without progress. A job that ends the instant it starts is
released at a further event at the same instant.

The engine is the authority on the pool: it refuses (with `SimulationError`) a start that does not fit
or names a job that is not waiting, a preemption of a job that is not running, and a run that ends with
jobs still waiting on an idle pool.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from suanli.sim.errors import SimulationError
from suanli.sim.policy import Policy
from suanli.sim.trace import Trace

__all__ = ["JobOutcome", "Progress", "Run", "simulate"]

Progress = Callable[[int, int], None]
"""Called with (jobs finished, jobs in the trace) now and then during a run."""

_NOT_YET = -1.0


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What happened to one job: when it first started, when it finished, how often it was preempted."""

    first_start: float
    finish: float
    preemptions: int = 0


@dataclass(frozen=True)
class Run:
    """One policy's replay of one trace: outcomes in the trace's input order, and what the run cost."""

    policy: str
    gpus: int
    outcomes: tuple[JobOutcome, ...]
    passes: int
    decide_s: float
    wall_s: float


class _Pool:
    """The engine's mutable state, shown to the policy as a `PoolState`."""

    def __init__(self, trace: Trace, gpus: int, restart_overhead_s: float) -> None:
        n = len(trace.jobs)
        self.gpus = gpus
        self.free = gpus
        self.overhead = restart_overhead_s
        self.need = [j.gpus for j in trace.jobs]
        self.duration = [j.duration for j in trace.jobs]
        self.first_start = [_NOT_YET] * n
        self.finish = [_NOT_YET] * n
        self.preemptions = [0] * n
        self.executed = [0.0] * n  # progress made before the current run
        self.accrues_from = [0.0] * n  # when the current run's restart overhead ends
        self.running = [False] * n
        self.arrived = [False] * n
        self.version = [0] * n  # bumped on preemption so the old finish event is ignored
        self.ends: list[tuple[float, int, int]] = []  # heap of (finish, job, version)

    def executed_s(self, job: int, now: float) -> float:
        if not self.running[job]:
            return self.executed[job]
        return self.executed[job] + max(0.0, now - self.accrues_from[job])

    def progress_from(self, job: int, now: float) -> float:
        if self.running[job]:
            return self.accrues_from[job]
        return now + (self.overhead if self.first_start[job] != _NOT_YET else 0.0)

    def start(self, job: int, now: float) -> None:
        if not self.arrived[job] or self.running[job] or self.finish[job] != _NOT_YET:
            raise SimulationError(f"the policy started job {job}, which is not waiting at t={now}")
        if self.need[job] > self.free:
            raise SimulationError(
                f"the policy started job {job} ({self.need[job]} GPUs) with {self.free} free at t={now}"
            )
        self.free -= self.need[job]
        self.accrues_from[job] = self.progress_from(job, now)
        if self.first_start[job] == _NOT_YET:
            self.first_start[job] = now
        self.running[job] = True
        end = self.accrues_from[job] + (self.duration[job] - self.executed[job])
        heapq.heappush(self.ends, (end, job, self.version[job]))

    def preempt(self, job: int, now: float) -> None:
        if not self.running[job]:
            raise SimulationError(f"the policy preempted job {job}, which is not running at t={now}")
        self.executed[job] = self.executed_s(job, now)
        self.running[job] = False
        self.version[job] += 1
        self.preemptions[job] += 1
        self.free += self.need[job]

    def next_end(self) -> float:
        ends = self.ends
        while ends and ends[0][2] != self.version[ends[0][1]]:
            heapq.heappop(ends)
        return ends[0][0] if ends else math.inf

    def release(self, now: float) -> list[int]:
        """Free every job that finishes by `now`, in (finish, job) order."""
        done = []
        ends = self.ends
        while ends and ends[0][0] <= now:
            end, job, version = heapq.heappop(ends)
            if version != self.version[job]:
                continue
            self.running[job] = False
            self.finish[job] = end
            self.free += self.need[job]
            done.append(job)
        return done


def simulate(
    trace: Trace,
    gpus: int,
    policy: Policy,
    *,
    name: str = "",
    restart_overhead_s: float = 30.0,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Run:
    """Replay `trace` on a pool of `gpus` GPUs under `policy`; every job runs to its end."""
    jobs = trace.jobs
    too_big = next((j for j in jobs if j.gpus > gpus), None)
    if too_big is not None:
        raise SimulationError(f"job {too_big.id} needs {too_big.gpus} GPUs; the pool has {gpus}")
    began = clock()
    pool = _Pool(trace, gpus, restart_overhead_s)
    order = sorted(range(len(jobs)), key=lambda i: (jobs[i].submit, i))
    submit = [jobs[i].submit for i in order]
    total, finished, passes, decide_s = len(jobs), 0, 0, 0.0
    step = max(1, total // 200)
    nxt, wake = 0, math.inf
    while True:
        now = min(submit[nxt] if nxt < total else math.inf, pool.next_end(), wake)
        if now == math.inf:
            break
        for job in pool.release(now):
            policy.depart(job, now)
            finished += 1
            if progress is not None and finished % step == 0:
                progress(finished, total)
        while nxt < total and submit[nxt] <= now:
            pool.arrived[order[nxt]] = True
            policy.arrive(order[nxt], now)
            nxt += 1
        t0 = clock()
        decision = policy.decide(now, pool)
        decide_s += clock() - t0
        passes += 1
        for job in decision.preempt:
            pool.preempt(job, now)
        for job in decision.start:
            pool.start(job, now)
        wake = math.inf if decision.wake_at is None else decision.wake_at
        if wake <= now:
            raise SimulationError(f"the policy asked to be woken at {wake}, not after t={now}")
    if finished < total:
        raise SimulationError(f"{total - finished} jobs still wait on an idle pool: the policy starts none")
    if progress is not None:
        progress(finished, total)
    outcomes = tuple(
        JobOutcome(s, f, p) for s, f, p in zip(pool.first_start, pool.finish, pool.preemptions, strict=True)
    )
    return Run(name, gpus, outcomes, passes, decide_s, clock() - began)
