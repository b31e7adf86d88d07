"""The discrete-event engine: a network of GPU pools, a virtual clock, and a policy to consult.

At each event time, in this order: release every job that finishes now, enqueue every job submitted now
(in the order (submit, input order)), then ask the policy once (`Policy.decide`) and apply its answer:
preemptions first, then starts. Event times are submits, finishes, and the time a policy asked to be
woken at. Jobs are rigid (`gpus` GPUs for `duration` seconds of progress) and gang-scheduled on one
pool, any GPUs of it (no node shape); the policy names the pool. A preempted job keeps the progress
it had at its last checkpoint (every `checkpoint_s` seconds of progress, the job's own
`TraceJob.checkpoint_s` or the run's; None keeps all progress, as the reference baselines assume) and
loses the rest; each restart after a preemption first spends `restart_overhead_s` holding its GPUs
without progress. Only a job that declares it can resume (`TraceJob.preemptible`) may be preempted. A job that ends the instant it starts is
released at a further event at the same instant.

The engine is the authority on the pools: it refuses (with `SimulationError`) a start that does not fit
or names a job that is not waiting, a preemption of a job that is not running, and a run that ends with
jobs still waiting on an idle pool.
"""

from __future__ import annotations

import gc
import heapq
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from suanli.sim.errors import JobTooWide, SimulationError
from suanli.sim.network import Network
from suanli.sim.policy import NOTHING, Decision, Policy
from suanli.sim.trace import Trace

__all__ = ["Holds", "JobOutcome", "Progress", "Run", "simulate"]

Progress = Callable[[int, int], None]
"""Called with (jobs finished, jobs in the trace) now and then during a run."""

_NOT_YET = -1.0
# The loaders keep jobs within a century of the trace start and 5 years long; a replay that still
# runs for a millennium (years-long jobs queued one after another) would take the production
# policies' datetimes past year 9999: refused rather than crashed.
_HORIZON_S = 1000 * 365 * 86400.0


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What happened to one job: when it first started, when it finished, how often it was preempted."""

    first_start: float
    finish: float
    preemptions: int = 0
    pool: int = 0  # the pool of its last run
    lost_s: float = 0.0  # seconds of progress lost to preemptions (since each one's last checkpoint)


@dataclass(frozen=True)
class Holds:
    """Every stretch of time a job held GPUs on a pool (restart overhead included), in the order they
    ended, as parallel columns: hold k is job `job[k]` on pool `pool[k]` with `gpus[k]` GPUs for
    `seconds[k]`. Columns of numbers rather than an object per hold keep the garbage collector's work
    flat on runs of 100,000 jobs."""

    job: tuple[int, ...] = ()
    pool: tuple[int, ...] = ()
    gpus: tuple[int, ...] = ()
    seconds: tuple[float, ...] = ()

    def __iter__(self) -> Iterator[tuple[int, int, int, float]]:
        """(job, pool, gpus, seconds) per hold."""
        return zip(self.job, self.pool, self.gpus, self.seconds, strict=True)


@dataclass(frozen=True)
class Run:
    """One policy's replay of one trace: outcomes in the trace's input order, and what the run cost.

    `pass_s` holds the policy's time in each pass (`decide_s` is their sum); `holds` every stretch of
    time a job held GPUs on a pool, in the order they ended."""

    policy: str
    gpus: int
    outcomes: tuple[JobOutcome, ...]
    passes: int
    decide_s: float
    wall_s: float
    network: Network | None = None
    holds: Holds = Holds()
    pass_s: tuple[float, ...] = ()


class _Pools:
    """The engine's mutable state, shown to the policy as a `PoolState`."""

    def __init__(
        self, trace: Trace, network: Network, restart_overhead_s: float, checkpoint_s: float | None
    ) -> None:
        n = len(trace.jobs)
        self.gpus = network.gpus
        self.free = network.gpus
        self.pool_gpus = list(network.sizes)
        self.pool_free = list(network.sizes)
        self.overhead = restart_overhead_s
        self.need = [j.gpus for j in trace.jobs]
        self.duration = [j.duration for j in trace.jobs]
        self.preemptible = [j.preemptible for j in trace.jobs]
        self.checkpoint = [j.checkpoint_s or checkpoint_s for j in trace.jobs]
        self.lost = [0.0] * n
        self.first_start = [_NOT_YET] * n
        self.finish = [_NOT_YET] * n
        self.preemptions = [0] * n
        self.executed = [0.0] * n  # progress made before the current run
        self.accrues_from = [0.0] * n  # when the current run's restart overhead ends
        self.held_from = [0.0] * n  # when the current run took its GPUs
        self.pool = [-1] * n  # the pool of the current (or last) run
        self.running = [False] * n
        self.arrived = [False] * n
        self.version = [0] * n  # bumped on preemption so the old finish event is ignored
        self.ends: list[tuple[float, int, int]] = []  # heap of (finish, job, version)
        # Holds as parallel lists of numbers (see `Holds`).
        self.hold_job: list[int] = []
        self.hold_pool: list[int] = []
        self.hold_s: list[float] = []

    def pool_of(self, job: int) -> int:
        return self.pool[job]

    def executed_s(self, job: int, now: float) -> float:
        if not self.running[job]:
            return self.executed[job]
        return self.executed[job] + max(0.0, now - self.accrues_from[job])

    def progress_from(self, job: int, now: float) -> float:
        if self.running[job]:
            return self.accrues_from[job]
        return now + (self.overhead if self.first_start[job] != _NOT_YET else 0.0)

    def start(self, job: int, pool: int, now: float) -> None:
        if not self.arrived[job] or self.running[job] or self.finish[job] != _NOT_YET:
            raise SimulationError(f"the policy started job {job}, which is not waiting at t={now}")
        if not 0 <= pool < len(self.pool_free):
            raise SimulationError(f"the policy started job {job} on pool {pool}, which does not exist")
        if self.need[job] > self.pool_free[pool]:
            where = "" if len(self.pool_free) == 1 else f" on pool {pool}"
            raise SimulationError(
                f"the policy started job {job} ({self.need[job]} GPUs) with {self.pool_free[pool]} free"
                f"{where} at t={now}"
            )
        self.free -= self.need[job]
        self.pool_free[pool] -= self.need[job]
        self.pool[job] = pool
        self.held_from[job] = now
        self.accrues_from[job] = self.progress_from(job, now)
        if self.first_start[job] == _NOT_YET:
            self.first_start[job] = now
        self.running[job] = True
        end = self.accrues_from[job] + (self.duration[job] - self.executed[job])
        heapq.heappush(self.ends, (end, job, self.version[job]))

    def preempt(self, job: int, now: float) -> None:
        if not self.running[job]:
            raise SimulationError(f"the policy preempted job {job}, which is not running at t={now}")
        if not self.preemptible[job]:
            raise SimulationError(f"the policy preempted job {job}, which is not preemptible, at t={now}")
        done = self.executed_s(job, now)
        every = self.checkpoint[job]
        kept = math.floor(done / every + 1e-9) * every if every else done
        self.lost[job] += done - kept
        self.executed[job] = kept
        self.running[job] = False
        self.version[job] += 1
        self.preemptions[job] += 1
        self._give_back(job, now)

    def _give_back(self, job: int, now: float) -> None:
        pool = self.pool[job]
        self.free += self.need[job]
        self.pool_free[pool] += self.need[job]
        self.hold_job.append(job)
        self.hold_pool.append(pool)
        self.hold_s.append(now - self.held_from[job])

    def holds(self) -> Holds:
        need = self.need
        return Holds(
            tuple(self.hold_job),
            tuple(self.hold_pool),
            tuple(need[j] for j in self.hold_job),
            tuple(self.hold_s),
        )

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
            self._give_back(job, end)
            done.append(job)
        return done


_FREEZE_EVERY = 2_000  # passes


def simulate(
    trace: Trace,
    network: Network | int,
    policy: Policy,
    *,
    name: str = "",
    restart_overhead_s: float = 30.0,
    checkpoint_s: float | None = None,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Run:
    """Replay `trace` on `network` (an int: one pool of that many GPUs) under `policy`; every job runs
    to its end. `checkpoint_s`: how often a job without its own interval checkpoints (module
    docstring); None: a preempted job keeps all its progress."""
    net = Network.single(network) if isinstance(network, int) else network
    _refuse_too_big(trace, net)
    jobs = trace.jobs
    began = clock()
    pools = _Pools(trace, net, restart_overhead_s, checkpoint_s)
    # What is alive now (the trace, the network, the policy's tables) and, every `_FREEZE_EVERY`
    # passes, what has lived since (the jobs' state, the attempts and their memos) lives through the
    # run: frozen, the collector's full passes no longer walk it again and again (they found nothing
    # to free: a tenth of a replay of all of Philly). Reference counting still frees garbage at once;
    # a cycle of frozen objects that dies is freed by the first collection after the run.
    gc.freeze()
    try:
        order = sorted(range(len(jobs)), key=lambda i: (jobs[i].submit, i))
        submit = [jobs[i].submit for i in order]
        total, finished, decide_s = len(jobs), 0, 0.0
        pass_s: list[float] = []
        step = max(1, total // 200)
        nxt, wake = 0, math.inf
        while True:
            now = min(submit[nxt] if nxt < total else math.inf, pools.next_end(), wake)
            if now == math.inf:
                break
            if now > _HORIZON_S:
                raise SimulationError(
                    f"the replay ran past {_HORIZON_S / (365 * 86400):,.0f} years of simulated time at "
                    f"t={now:,.0f} s, with {total - finished:,} jobs unfinished: the jobs are too long for the network"
                )
            for job in pools.release(now):
                policy.depart(job, now)
                finished += 1
                if progress is not None and finished % step == 0:
                    progress(finished, total)
            while nxt < total and submit[nxt] <= now:
                pools.arrived[order[nxt]] = True
                policy.arrive(order[nxt], now)
                nxt += 1
            t0 = clock()
            decision = policy.decide(now, pools)
            spent = clock() - t0
            decide_s += spent
            pass_s.append(spent)
            if len(pass_s) % _FREEZE_EVERY == 0:
                gc.freeze()
            if decision is not NOTHING:
                _apply(decision, pools, now)
            wake = math.inf if decision.wake_at is None else decision.wake_at
            if wake <= now:
                raise SimulationError(f"the policy asked to be woken at {wake}, not after t={now}")
    finally:
        gc.unfreeze()
    if finished < total:
        raise SimulationError(f"{total - finished} jobs still wait on an idle pool: the policy starts none")
    if progress is not None:
        progress(finished, total)
    outcomes = tuple(
        JobOutcome(s, f, p, q, lost)
        for s, f, p, q, lost in zip(
            pools.first_start, pools.finish, pools.preemptions, pools.pool, pools.lost, strict=True
        )
    )
    return Run(
        name,
        net.gpus,
        outcomes,
        len(pass_s),
        decide_s,
        clock() - began,
        net,
        pools.holds(),
        tuple(pass_s),
    )


def _refuse_too_big(trace: Trace, net: Network) -> None:
    """A job wider than every pool could never run: refuse the run before it starts."""
    largest = max(net.pools, key=lambda p: p.gpus)
    too_big = next((j for j in trace.jobs if j.gpus > largest.gpus), None)
    if too_big is None:
        return
    # A job read from a file is named by its place there, as the loaders' messages name it.
    job = f"job {too_big.id}"
    if too_big.line:
        named = "" if too_big.id == str(too_big.line) else f" ({too_big.id})"
        job = f"{trace.source}:{too_big.line}: the job{named}"
    if len(net.pools) == 1:
        raise JobTooWide(f"{job} needs {too_big.gpus} GPUs; the pool has {largest.gpus}", too_big.gpus)
    raise JobTooWide(
        f"{job} needs {too_big.gpus} GPUs; the largest pool, {largest.label}, has {largest.gpus}",
        too_big.gpus,
    )


def _apply(decision: Decision, pools: _Pools, now: float) -> None:
    for job in decision.preempt:
        pools.preempt(job, now)
    on = decision.on
    if on and len(on) != len(decision.start):
        raise SimulationError(f"the policy named {len(on)} pools for {len(decision.start)} starts at t={now}")
    for k, job in enumerate(decision.start):
        pools.start(job, on[k] if on else 0, now)
