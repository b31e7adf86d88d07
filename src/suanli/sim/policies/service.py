"""Policy `suanli-service`: the production scheduler (`suanli.scheduler.schedule`, `PROFILES`) with the
`service` queue order (ADR 0017); `suanli-las`, below, runs the control plane's default order, `las`.

Each pass builds the `Snapshot` the control plane would: one `PoolView` per pool of the network, with
its site, region, price per GPU-hour, PUE and grid intensity from the network file, and a single node
holding all its GPUs with CPU and memory to spare (the engine has no node shapes yet); every waiting
job as a `PendingJob` that accepts any of the network's models (a trace names none) at its GPU count,
`created_at` its submit instant, its tenant as org and project; and every running job as a `Running`
attempt. The queue order is `service` (`scheduler/service.py`): least attained service first, with an
ageing bound after which a job reserves and is never evicted for service. What the scheduler is told
about a job is what production knows: its size, tenant, name and requested limit, whether it can
resume (`TraceJob.preemptible`), the seconds its preempted attempts ran (`ran_s`: its attained
service, whether the engine let it keep that work or not, as the control plane counts it), and a
prediction of its run time from the jobs that have finished (`scheduler.predict.Predictor`, fed the
run time the policy watched each job make). Never `TraceJob.duration`. A running job with a requested
limit is known to end by it (`Running.ends_at`, as the control plane sets it), which is what
backfill's start estimates read. The engine does not stop a job at its limit (production would):
a trace job that runs past it keeps an end in the past, and backfill counts its room as due, so
it lets nothing end later than that into the room a reservation guards: a cautious estimate.

The plan's placements start on the pools it names; its preemptions are applied, and a job that
reserved the room they leave starts at once on that pool (the engine frees victims before starts).
The policy asks to be woken when a running job reaches the next rung of the service ladder, a
waiting job reaches its ageing bound, or (under `las`) a job waiting alone stops holding back from
eviction (ADR 0025): the moments the plan can change without an event.

What the simulator does to stay cheap, without changing any decision: a pass is skipped when no pool
has as many GPUs free as the smallest waiting job needs, no pool could make room for a waiting job
by evicting the attempts that may be evicted now and rank above it, no pool with an attempt
evictable now would hold it once its unprotected attempts were gone (gathering), and the pools'
free GPUs together do not hold it (a move, ADR 0028): nothing could be placed or evicted (waiting
jobs are kept by the lowest rank each can have, so the check reads no waiting job);
the next ageing bound comes from a heap of waiting jobs' ageing moments; `PendingJob`s are built at arrival and when a
job is requeued (and re-predicted every `_REPREDICT` finishes); `PoolView`s are reused per (pool,
free GPUs). A `PendingJob.id` is the job's input index, zero-padded, so id tie-breaks keep input order.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from suanli.scheduler import PROFILES, Carry, PendingJob, Snapshot, schedule, service
from suanli.scheduler.predict import JobFacts, Predictor
from suanli.sim.network import Network
from suanli.sim.policies.moments import RunningMoments
from suanli.sim.policies.views import Attempts, PoolViews, SizeCounts, attempt, pending_job
from suanli.sim.policy import NOTHING, Decision, PoolState, register_policy
from suanli.sim.trace import Trace

__all__ = ["LeastAttainedService", "ServiceOrder"]

_REPREDICT = 200  # finishes between refreshing the predictions of waiting jobs
_NUDGE_S = 1e-3
_FOREVER = timedelta(days=100_000)  # waited longer than any ageing bound
_CYCLES_PER_PASS = 64  # cycles at one instant at most (each evicts for one job per pool)  # wake just after a rung or an ageing bound, so the scheduler sees it crossed


class ServiceOrder:
    name = "suanli-service"
    order = "service"  # the queue order the snapshots name
    every_band = True  # whether every job may age (`las`: only those below the first rung, ADR 0019)

    def __init__(self, trace: Trace, network: Network) -> None:
        self._trace = trace
        self._models = network.models
        self._accelerator = [p.accelerator for p in network.pools]
        self._views = PoolViews(network)
        self._carry = Carry()  # the pools' static answers, kept between passes (as the control loop does)
        self._claims: dict[str, tuple[str, tuple[int, ...]]] = {}  # the last plan's (ADR 0028)
        self._width = len(str(max(len(trace.jobs) - 1, 0)))
        self._facts = [JobFacts(j.tenant, j.gpus, j.name, j.limit_s) for j in trace.jobs]
        self._predictor = Predictor()
        self._pending: dict[str, PendingJob] = {}  # insertion order is arrival order
        self._requeued: list[int] = []  # preempted last pass: rebuilt with the progress they kept
        self._running = Attempts()
        self._ran_before: dict[int, float] = {}  # progress at the start of the current run
        self._accrues: dict[int, float] = {}  # when the current run's progress began
        # Seconds run by the job's preempted attempts, kept or lost: its attained service, as the
        # control plane counts it (`control.snapshots`); `_kept`: the progress it resumes from
        self._served: dict[int, float] = {}
        self._kept: dict[int, float] = {}
        self._attempts = [0] * len(trace.jobs)
        self._finished = 0
        self._sizes = SizeCounts()  # waiting jobs by GPU count
        # (when a waiting job reaches its ageing bound, a tie-break, its key, the `PendingJob` it was
        # computed for): entries of jobs since started, replaced or aged are dropped at the top
        self._ageing: list[tuple[float, int, str, PendingJob]] = []
        self._noted = itertools.count()
        self._aged: dict[str, PendingJob] = {}  # waiting jobs past their ageing bound (`_note_aged`)
        # the same for the moment a waiting job may move attempts (`service.moves_after_s`)
        self._moving: list[tuple[float, int, str, PendingJob]] = []
        self._several_pools = len(network.pools) > 1
        self._movers: dict[str, PendingJob] = {}
        self._rechecks: list[float] = []  # ageing bounds reached a hair ago, woken for once more
        # waiting jobs by the lowest rank each can have while it waits (before or after ageing), by
        # GPU count: what `_may_act` reads instead of ranking every waiting job at every pass
        self._lowest: dict[str, int] = {}
        self._by_rank: defaultdict[int, SizeCounts] = defaultdict(SizeCounts)
        # What the passes read of the running jobs that can be evicted, kept up to date (`moments.py`)
        self._book = RunningMoments(self.every_band)
        self.cycles = 0  # passes that called `schedule()` (the others were skipped)

    def arrive(self, job: int, now: float) -> None:
        self._enqueue(job, 0.0)

    def depart(self, job: int, now: float) -> None:
        self._running.stop(job)
        self._book.unwatch(job)
        ran = self._ran_before.pop(job) + max(0.0, now - self._accrues.pop(job))
        self._served.pop(job, None)
        self._predictor.observe(self._facts[job], ran)  # a run time watched, not read from the trace
        self._finished += 1
        if self._finished % _REPREDICT == 0:
            for key, pending in self._pending.items():
                expected = self._predictor.expected_s(self._facts[int(key)])
                if expected != pending.expected_s:
                    self._pending[key] = replace(pending, expected_s=expected)
                    self._will_age(key)
                    self._rank_waiting(key)

    def decide(self, now: float, pool: PoolState) -> Decision:
        for job in self._requeued:
            self._kept[job] = pool.executed_s(job, now)
            self._enqueue(job, self._served[job])
        self._requeued.clear()
        at = self._trace.start + timedelta(seconds=now)
        free = pool.pool_free
        if not self._sizes.sizes or not self._may_act(now, at, free):
            return Decision(wake_at=self._wake(now, at)) if self._sizes.sizes else NOTHING
        free = list(free)
        start: list[int] = []
        on: list[int] = []
        preempt: list[int] = []
        for _ in range(_CYCLES_PER_PASS):
            evicted = self._cycle(now, at, pool, free, start, on, preempt)
            if not evicted or not self._sizes.sizes or not self._may_act(now, at, free):
                break
        wake = self._wake(now, at)
        if not start and not preempt:
            return Decision(wake_at=wake) if wake is not None else NOTHING
        return Decision(tuple(start), tuple(preempt), wake, tuple(on))

    def _cycle(
        self,
        now: float,
        at: datetime,
        pool: PoolState,
        free: list[int],
        start: list[int],
        on: list[int],
        preempt: list[int],
    ) -> bool:
        """One scheduling cycle on the state left by the ones before at this instant; True if it
        evicted (a reservation takes a pool for the rest of a cycle, so the control loop's next cycle
        would evict for the next waiting job: here it runs at once)."""
        running, changes = self._running.listed()
        snapshot = Snapshot(
            now=at,
            pools=tuple(self._views.with_free(i, f) for i, f in enumerate(free)),
            jobs=tuple(self._pending.values()),
            running=running,
            order=self.order,
            claims=self._claims,
            running_changes=changes,
        )
        plan = schedule(snapshot, PROFILES, self._carry)
        self.cycles += 1
        self._claims = {r.job_id: (r.pool_id, r.nodes) for r in plan.reservations if r.claim}
        started: list[tuple[int, int]] = []
        for placement in plan.placements:
            started.append((int(placement.job_id), int(placement.pool_id)))
        victims = [int(p.job_id) for p in plan.preemptions]
        for reservation in plan.reservations:
            if reservation.preempting and reservation.at == at:
                started.append((int(reservation.job_id), int(reservation.pool_id)))
        gpus = self._trace.jobs
        for job in victims:
            gone = self._running.stop(job)
            free[int(gone.pool_id)] += gpus[job].gpus
            self._book.unwatch(job)
            self._ran_before.pop(job)
            self._served[job] = self._served.get(job, 0.0) + max(0.0, now - self._accrues.pop(job))
            self._requeued.append(job)
        for job, where in started:
            free[where] -= gpus[job].gpus
            self._started(job, where, now, at, pool)
            start.append(job)
            on.append(where)
        preempt.extend(victims)
        return bool(victims)

    def _enqueue(self, job: int, ran_s: float) -> None:
        key = f"{job:0{self._width}d}"
        expected = self._predictor.expected_s(self._facts[job])
        self._pending[key] = pending_job(self._trace, job, key, self._models, ran_s, expected)
        self._sizes.add(self._trace.jobs[job].gpus)
        self._will_age(key)
        self._rank_waiting(key)

    def _rank_waiting(self, key: str) -> None:
        """File the waiting job `key` under the lower of its ranks now and once it has waited past any
        bound: a waiting job's rank changes only when it ages, so no rank it has while it waits is
        lower (its rank as `_may_act` needs it: a lower bound)."""
        job = self._pending[key]
        gpus = self._trace.jobs[int(key)].gpus
        before = self._lowest.get(key)
        if before is not None:
            self._by_rank[before].forget(gpus)
        submitted = job.created_at
        lowest = min(
            service.pending_rank(job, submitted, self.every_band),
            service.pending_rank(job, submitted + _FOREVER, self.every_band),
        )
        self._lowest[key] = lowest
        self._by_rank[lowest].add(gpus)

    def _note_aged(self, now: float) -> None:
        """Move the waiting jobs that have reached their ageing bound by `now` from the heap to
        `_aged` (and drop the entries of jobs started or replaced since)."""
        ageing = self._ageing
        while ageing and (ageing[0][0] <= now or self._pending.get(ageing[0][2]) is not ageing[0][3]):
            moment, _, key, job = heapq.heappop(ageing)
            if self._pending.get(key) is job:
                self._aged[key] = job
                if moment > now - _NUDGE_S:  # just now, in float seconds: the scheduler reads time to
                    heapq.heappush(self._rechecks, moment)  # the microsecond, so look again after it

    def _note_movers(self, now: float) -> None:
        """Move the waiting jobs that may move attempts by `now` from the heap to `_movers`."""
        moving = self._moving
        while moving and (moving[0][0] <= now or self._pending.get(moving[0][2]) is not moving[0][3]):
            moment, _, key, job = heapq.heappop(moving)
            if self._pending.get(key) is job:
                self._movers[key] = job
                if moment > now - _NUDGE_S:
                    heapq.heappush(self._rechecks, moment)

    def _will_age(self, key: str) -> None:
        """Note when the waiting job `key` reaches its ageing bound, if it can age: its waited time
        (`service.waited_s`) grows one second a second from its submission plus its progress."""
        job = self._pending[key]
        self._aged.pop(key, None)  # a replaced job ages again by its own bound
        self._movers.pop(key, None)
        since = (job.created_at - self._trace.start).total_seconds() + job.ran_s
        if self._several_pools:  # a move needs another pool to move to (ADR 0028)
            after = service.moves_after_s(job, Snapshot.preempt_after_s)
            heapq.heappush(self._moving, (since + after, next(self._noted), key, job))
        if service.may_age(job, self.every_band):
            bound = service.ageing_bound_s(
                job.expected_s, job.ran_s, service.accelerators(job), self.every_band
            )
            heapq.heappush(self._ageing, (since + bound, next(self._noted), key, job))

    def _started(self, job: int, where: int, now: float, at: datetime, pool: PoolState) -> None:
        """The job runs from now; as in production, its attempt's `started_at` is when it begins to
        make progress (after the restart overhead), which its checkpoints count from."""
        key = f"{job:0{self._width}d}"
        pending = self._pending.pop(key)
        self._sizes.forget(self._trace.jobs[job].gpus)
        self._by_rank[self._lowest.pop(key)].forget(self._trace.jobs[job].gpus)
        self._aged.pop(key, None)
        self._movers.pop(key, None)
        self._attempts[job] += 1
        gpus = self._trace.jobs[job].gpus
        progress = pool.progress_from(job, now)
        started = self._trace.start + timedelta(seconds=progress)
        running = attempt(
            pending,
            self._attempts[job],
            where,
            gpus,
            self._accelerator[where],
            started,
            ran_s=pending.ran_s,
            expected_s=pending.expected_s,
            checkpoint_s=self._trace.jobs[job].checkpoint_s,
            moves=self._models,  # a trace's job takes any model anywhere
        )
        self._running.start(job, running)
        self._book.watch(job, running, now, at)
        self._ran_before[job] = self._kept.pop(job, 0.0)
        self._accrues[job] = progress

    def _may_act(self, now: float, at: datetime, free: Sequence[int]) -> bool:
        """Whether a cycle now could place or evict anything: some pool has room for the smallest
        waiting job; or could make room for some waiting job by evicting attempts that rank above it
        and may be evicted now; or an aged job could start gathering room there (`Reserver._gather`:
        with the attempts that will yield to it at their checkpoints, it would fit, and one of them
        may be evicted now).

        A necessary condition for what `reserve.Reserver` does in the simulator's snapshots (one
        priority, no quotas: an attempt is a victim only for a job of a strictly lower rank, while
        `service.evictable_rank` allows it), so a pass it turns away would have decided nothing."""
        sizes = self._sizes.sizes
        if max(free) >= sizes[0]:
            return True
        self._book.refresh(now, at)
        victims = self._book.victims  # pool → evictable rank → GPUs held at that rank
        if not victims:
            return False
        if self._may_gather(now, at, free, victims):
            return True
        ranked = self._book.ranked  # pool → running rank → GPUs of the attempts not protected
        if self._claims and any(int(pool_id) in victims for pool_id, _ in self._claims.values()):
            return True  # a claim goes on gathering (ADR 0028)
        self._note_movers(now)
        if self._movers and len(free) > 1:  # the room is there in pieces: a move (ADR 0028)
            gpus = self._trace.jobs
            need = min(gpus[int(key)].gpus for key in self._movers)
            if sum(free) >= need and any(
                free[where] + sum(ranked.get(where, {}).values()) >= need for where in victims
            ):
                return True
        # Evicting, or gathering (ADR 0028): a waiting job that outranks an attempt evictable now on
        # a pool where it would fit once the attempts it outranks there had gone.
        for rank, counts in self._by_rank.items():
            if not counts.sizes:
                continue
            need = counts.sizes[0]
            for where, held in victims.items():
                if not any(above > rank for above in held):
                    continue
                if free[where] + sum(g for above, g in ranked.get(where, {}).items() if above > rank) >= need:
                    return True
        return False

    def _may_gather(
        self, now: float, at: datetime, free: Sequence[int], victims: dict[int, dict[int, int]]
    ) -> bool:
        """Whether some aged job could start gathering room on a pool (`_may_act`)."""
        self._note_aged(now)
        if not self._aged:
            return False
        gpus = self._trace.jobs
        need = min(gpus[int(key)].gpus for key in self._aged)
        ranked = self._book.ranked  # an aged job outranks rank 1 too, within the hour (`Victims.will_yield`)
        return any(
            free[where] + sum(g for r, g in ranked.get(where, {}).items() if r > service.AGED or r == 1)
            >= need
            and any(rank > service.AGED for rank in held)
            for where, held in victims.items()
        )

    def _wake(self, now: float, at: datetime) -> float | None:
        """The next moment the service order changes with no event: a running job reaches its next
        rung, a waiting job its ageing bound, or a lone waiting job the end of its holding back
        (None when nothing waits: nothing could change)."""
        if self._requeued:
            return now + _NUDGE_S  # enqueue them, with the progress the engine let them keep
        if not self._pending:
            return None
        self._book.refresh(now, at)
        soonest = self._book.soonest_wake()
        self._note_aged(now)
        if self._ageing:
            soonest = min(soonest, self._ageing[0][0])
        self._note_movers(now)
        if self._moving:
            soonest = min(soonest, self._moving[0][0])
        rechecks = self._rechecks
        while rechecks and rechecks[0] + _NUDGE_S <= now:
            heapq.heappop(rechecks)
        if rechecks:
            soonest = min(soonest, rechecks[0])
        if service.waits_alone(len(self._pending), self.every_band):  # it may stop holding back (ADR 0025)
            ((key, job),) = self._pending.items()
            held = service.holds_back_until_s(job)
            if held is not None and self._trace.jobs[int(key)].submit + held > now:
                soonest = min(soonest, self._trace.jobs[int(key)].submit + held)
        return None if soonest == math.inf else max(soonest, now) + _NUDGE_S


class LeastAttainedService(ServiceOrder):
    """`suanli-las`: the production scheduler with the `las` queue order (ADR 0019): bands of attained
    service, eviction only just after a checkpoint, and the ageing rule only for jobs below the first
    rung."""

    name = "suanli-las"
    order = "las"
    every_band = False


register_policy(ServiceOrder.name, ServiceOrder)
register_policy(LeastAttainedService.name, LeastAttainedService)
