"""Policy `las`: Tiresias-style discretized two-dimensional least-attained-service, preemptive.

A job's attained service is GPUs × seconds of progress (restart overhead is not service). Jobs sit in
queues by service: Q0 below 3,250 GPU-seconds, Q1 below 7,200, Q2 beyond; a new job enters Q0, and a
running job moves down when its service crosses a threshold (the policy asks to be woken then). Each
pass scans the queues in order; inside a queue, jobs holding GPUs come first, then waiting ones, each in
arrival order; every job that fits the GPUs not yet given out keeps or gets them (fit-first), and a
running job that no longer fits is preempted. Durations are not used; there is no starvation guard.

On a network every pool has its own budget: a running job keeps its GPUs if they still fit its pool's
budget, and a waiting job starts on the first pool, in file order, whose budget it fits and where it
fits the GPUs idle now, so it displaces no one when it need not; failing that, on the first pool whose
budget it fits (displacing lower-queue jobs there). A preempted job may restart on another pool.
"""

from __future__ import annotations

import bisect
import heapq
import math

from suanli.scheduler.service import CHECKPOINT_WINDOW_S, MIN_RUN_S
from suanli.sim.network import Network
from suanli.sim.policy import NOTHING, Decision, PoolState, first_fit, register_policy
from suanli.sim.trace import Trace

__all__ = ["THRESHOLDS", "CheckpointAlignedLeastAttained", "LeastAttained", "TwoQueueLeastAttained"]

THRESHOLDS = (3_250.0, 7_200.0)  # GPU-seconds; the last queue has no upper bound
_WAKE_AFTER_S = 1e-3  # wake just after a checkpoint, so the job is seen to have reached it
_EPS = 1e-6  # seconds: a crossing this close to now has happened (float sums of fractional times)


class _Waiting:
    """One queue's waiting jobs, grouped by GPU count, each group a heap by arrival rank."""

    def __init__(self) -> None:
        self.groups: dict[int, list[tuple[int, int]]] = {}
        self.sizes: list[int] = []

    def push(self, rank: int, job: int, gpus: int) -> None:
        group = self.groups.get(gpus)
        if group is None:
            group = self.groups[gpus] = []
            bisect.insort(self.sizes, gpus)
        heapq.heappush(group, (rank, job))

    def take_fitting(self, budget: list[int], idle: list[int], out: list[int], on: list[int]) -> None:
        """Fit-first in arrival order: take every job that fits what is left of some pool's budget, on
        the first pool where it also fits GPUs idle now, else on the first whose budget it fits."""
        while (room := max(budget)) > 0:
            best = 0  # the GPU count of the group whose head arrived first; 0: none fits
            for gpus in self.sizes:
                if gpus > room:
                    break
                group = self.groups[gpus]
                if group and (not best or group[0] < self.groups[best][0]):
                    best = gpus
            if not best:
                break
            where = _first_idle(budget, idle, best)
            out.append(heapq.heappop(self.groups[best])[1])
            on.append(where)
            budget[where] -= best
            idle[where] -= best


def _first_idle(budget: list[int], idle: list[int], need: int) -> int:
    """The first pool whose budget and idle GPUs both fit `need`, else the first whose budget does."""
    for where, (room, free) in enumerate(zip(budget, idle, strict=True)):
        if room >= need and free >= need:
            return where
    return first_fit(budget, need)


class LeastAttained:
    name = "las"
    thresholds: tuple[float, ...] = THRESHOLDS

    def __init__(self, trace: Trace, network: Network) -> None:
        n = len(trace.jobs)
        pools = len(network.pools)
        self._need = [j.gpus for j in trace.jobs]
        self._rank = [0] * n
        self._arrivals = 0
        self._queue_of = [0] * n
        self._run_id = [0] * n  # identifies a job's current run, so stale crossings are ignored
        self._running_now = [False] * n
        levels = len(self.thresholds) + 1
        self._running: list[list[tuple[int, int]]] = [[] for _ in range(levels)]  # (rank, job) ascending
        self._held = [[0] * pools for _ in range(levels)]  # per queue, GPUs its running jobs hold per pool
        self._pool_of = [0] * n
        self._waiting = [_Waiting() for _ in range(levels)]
        self._crossings: list[tuple[float, int, int]] = []  # (when, job, run id)

    def arrive(self, job: int, now: float) -> None:
        self._rank[job] = self._arrivals
        self._arrivals += 1
        self._waiting[0].push(self._rank[job], job, self._need[job])

    def depart(self, job: int, now: float) -> None:
        self._leave_running(job)

    def decide(self, now: float, pool: PoolState) -> Decision:
        self._demote(now, pool)
        budget = list(pool.pool_gpus)
        idle = list(pool.pool_free)  # may go negative where a start will preempt lower-queue jobs
        preempt: list[int] = []
        start: list[int] = []
        on: list[int] = []
        for level, running in enumerate(self._running):
            held = self._held[level]
            if all(h <= b for h, b in zip(held, budget, strict=True)):
                for where, h in enumerate(held):
                    budget[where] -= h
            else:
                for _, job in running:
                    where = self._pool_of[job]
                    if self._need[job] <= budget[where]:
                        budget[where] -= self._need[job]
                    else:
                        preempt.append(job)
            self._waiting[level].take_fitting(budget, idle, start, on)
        for job in preempt:
            self._leave_running(job)
            self._waiting[self._queue_of[job]].push(self._rank[job], job, self._need[job])
        for job, where in zip(start, on, strict=True):
            self._pool_of[job] = where
            self._enter_running(job, now, pool)
        if not (start or preempt or self._crossings):
            return NOTHING
        return Decision(tuple(start), tuple(preempt), self._next_crossing(), tuple(on))

    def _demote(self, now: float, pool: PoolState) -> None:
        crossings = self._crossings
        while crossings and crossings[0][0] <= now + _EPS:
            _, job, run_id = heapq.heappop(crossings)
            if not self._running_now[job] or run_id != self._run_id[job]:
                continue
            self._leave_running(job)
            self._queue_of[job] += 1
            self._join_running(job)
            self._schedule_crossing(job, now, pool)

    def _enter_running(self, job: int, now: float, pool: PoolState) -> None:
        self._run_id[job] += 1
        self._join_running(job)
        self._schedule_crossing(job, now, pool)

    def _join_running(self, job: int) -> None:
        level = self._queue_of[job]
        bisect.insort(self._running[level], (self._rank[job], job))
        self._held[level][self._pool_of[job]] += self._need[job]
        self._running_now[job] = True

    def _leave_running(self, job: int) -> None:
        level = self._queue_of[job]
        running = self._running[level]
        del running[bisect.bisect_left(running, (self._rank[job], job))]
        self._held[level][self._pool_of[job]] -= self._need[job]
        self._running_now[job] = False

    def _schedule_crossing(self, job: int, now: float, pool: PoolState) -> None:
        """Ask to be woken when the running job's service reaches its queue's threshold."""
        level = self._queue_of[job]
        if level >= len(self.thresholds):
            return
        seconds_left = self.thresholds[level] / self._need[job] - pool.executed_s(job, now)
        when = max(now, pool.progress_from(job, now)) + seconds_left
        heapq.heappush(self._crossings, (when, job, self._run_id[job]))

    def _next_crossing(self) -> float | None:
        crossings = self._crossings
        while crossings and (
            not self._running_now[crossings[0][1]] or crossings[0][2] != self._run_id[crossings[0][1]]
        ):
            heapq.heappop(crossings)
        return crossings[0][0] if crossings else None


class TwoQueueLeastAttained(LeastAttained):
    """`las2`: the same with two queues split at 16 GPU-hours (the reference's 2-queue variant)."""

    name = "las2"
    thresholds = (57_600.0,)


register_policy(LeastAttained.name, LeastAttained)
register_policy(TwoQueueLeastAttained.name, TwoQueueLeastAttained)


class CheckpointAlignedLeastAttained(LeastAttained):
    """`las-ckpt`: three queues (split at `las`' 3,250 GPU-seconds and `las2`'s 16 GPU-hours) with the
    `service` order's eviction rule (ADR 0019).

    A running job that declares a checkpoint interval may be preempted only within
    `service.CHECKPOINT_WINDOW_S` after one of its checkpoints (so it loses at most that much work),
    one that declares none only after `service.MIN_RUN_S` of running, and one that cannot resume
    never. Such a job keeps its GPUs ahead of every queue's scan; the policy wakes when the first of
    them may be evicted again, if any job waits. Otherwise `las`: durations are never read, and
    there is no starvation guard (ADR 0019 says what that costs)."""

    name = "las-ckpt"
    thresholds = (THRESHOLDS[0], 57_600.0)  # `las`' first queue, then `las2`'s split at 16 GPU-hours

    def __init__(self, trace: Trace, network: Network) -> None:
        super().__init__(trace, network)
        self._every = [j.checkpoint_s or 0.0 for j in trace.jobs]
        self._resumes = [j.preemptible for j in trace.jobs]
        self._began = [0.0] * len(trace.jobs)  # when the job's current run took its GPUs
        self._waiting_gpus = 0

    def arrive(self, job: int, now: float) -> None:
        super().arrive(job, now)
        self._waiting_gpus += self._need[job]

    def decide(self, now: float, pool: PoolState) -> Decision:
        self._demote(now, pool)
        kept, wake = self._guarded(now, pool)
        budget = list(pool.pool_gpus)
        for job in kept:
            budget[self._pool_of[job]] -= self._need[job]
        idle = list(pool.pool_free)
        preempt: list[int] = []
        start: list[int] = []
        on: list[int] = []
        for level, running in enumerate(self._running):
            for _, job in running:
                if job in kept:
                    continue
                where = self._pool_of[job]
                if self._need[job] <= budget[where]:
                    budget[where] -= self._need[job]
                else:
                    preempt.append(job)
            self._waiting[level].take_fitting(budget, idle, start, on)
        for job in preempt:
            self._leave_running(job)
            self._waiting[self._queue_of[job]].push(self._rank[job], job, self._need[job])
            self._waiting_gpus += self._need[job]
        for job, where in zip(start, on, strict=True):
            self._pool_of[job] = where
            self._began[job] = now
            self._waiting_gpus -= self._need[job]
            self._enter_running(job, now, pool)
        crossing = self._next_crossing()
        if self._waiting_gpus and wake is not None:
            crossing = wake if crossing is None else min(crossing, wake)
        if not (start or preempt or crossing is not None):
            return NOTHING
        return Decision(tuple(start), tuple(preempt), crossing, tuple(on))

    def _guarded(self, now: float, pool: PoolState) -> tuple[set[int], float | None]:
        """The running jobs that may not be evicted now, and when the first of them may be."""
        kept: set[int] = set()
        wake: float | None = None
        for running in self._running:
            for _, job in running:
                left = self._protected_for(job, now, pool)
                if left > 0:
                    kept.add(job)
                    if left < math.inf:
                        wake = now + left if wake is None else min(wake, now + left)
        return kept, wake

    def _protected_for(self, job: int, now: float, pool: PoolState) -> float:
        """Seconds until the job may be evicted (0: now; inf: never)."""
        if not self._resumes[job]:
            return math.inf
        every = self._every[job]
        if not every:
            return max(0.0, self._began[job] + MIN_RUN_S - now)
        if now < pool.progress_from(job, now):
            return 0.0  # still restarting: it has nothing to lose
        done = pool.executed_s(job, now)
        since = done - math.floor(done / every + 1e-9) * every
        if since <= CHECKPOINT_WINDOW_S:
            return 0.0
        return every - since + _WAKE_AFTER_S


register_policy(CheckpointAlignedLeastAttained.name, CheckpointAlignedLeastAttained)
