"""Policy `suanli`: the production scheduler (`suanli.scheduler.schedule` with `PROFILES`), unchanged,
with the `fair` queue order (`suanli-service` and `suanli-las` run the service orders).

Each pass builds the `Snapshot` the control plane would: one `PoolView` per pool of the network, with
its site, region, price per GPU-hour, PUE and grid intensity from the network file, and a single node
holding all its GPUs with CPU and memory to spare (the engine has no node shapes yet); every waiting
job as a `PendingJob` (`views.pending_job`) that accepts any of the network's models (a trace names none) at its GPU count and
asks for nothing else (the trace has no CPU or memory figures), `created_at` its submit instant and its
tenant as org and project, its `max_runtime` the run-time limit the trace records (`TraceJob.limit_s`;
none if it records none: the duration is what happens, not a bound the tenant gave); and every
running job as a `Running` attempt, which fair share reads (each org's and project's dominant
share) and backfill too (`Running.ends_at`, start + limit, as `control.snapshots` sets it). Never
`TraceJob.duration`. The placements of the plan start on the pools it names; under `fair` the
scheduler evicts only for a higher priority or a guaranteed quota, and a trace has neither.
A job's `PendingJob.id` is its input index, zero-padded, so the scheduler's id tie-break keeps input
order.

What the simulator does to stay cheap, without changing any decision: a pass in which no pool has as
many GPUs free as the smallest waiting job needs cannot place anything and is skipped (waiting jobs are
counted per GPU count); `PendingJob`s are built once, at arrival; a `PoolView` is built once per (pool,
free GPUs) and reused; one `Carry` keeps the pools' static answers (which filters pass, the
scores' raw values) from pass to pass, since only free capacity changes between them, and the
running attempts are handed over with what changed since the last pass (`RunningChanges`). Each
pass that runs calls `schedule()` over the whole queue: O(queue) per pass.
"""

from __future__ import annotations

from datetime import timedelta

from suanli.scheduler import PROFILES, Carry, PendingJob, Snapshot, schedule
from suanli.sim.network import Network
from suanli.sim.policies.views import Attempts, PoolViews, SizeCounts, attempt, pending_job
from suanli.sim.policy import NOTHING, Decision, PoolState, register_policy
from suanli.sim.trace import Trace

__all__ = ["Production"]


class Production:
    name = "suanli"

    def __init__(self, trace: Trace, network: Network) -> None:
        self._trace = trace
        self._models = network.models
        self._views = PoolViews(network)
        self._carry = Carry()  # the pools' static answers, kept between passes
        self._width = len(str(max(len(trace.jobs) - 1, 0)))
        self._pending: dict[str, PendingJob] = {}  # insertion order is arrival order
        self._sizes = SizeCounts()  # waiting jobs by GPU count
        self._accelerator = [p.accelerator for p in network.pools]
        self._running = Attempts()
        self.cycles = 0  # passes that called `schedule()` (the others were skipped)

    def arrive(self, job: int, now: float) -> None:
        key = f"{job:0{self._width}d}"
        self._pending[key] = pending_job(self._trace, job, key, self._models)
        self._sizes.add(self._trace.jobs[job].gpus)

    def depart(self, job: int, now: float) -> None:
        self._running.stop(job)

    def decide(self, now: float, pool: PoolState) -> Decision:
        free = pool.pool_free
        if not self._sizes.sizes or max(free) < self._sizes.sizes[0]:
            return NOTHING  # nothing waiting fits anywhere: the scheduler could place nothing
        running, changes = self._running.listed()
        snapshot = Snapshot(
            now=self._trace.start + timedelta(seconds=now),
            pools=tuple(self._views.with_free(i, f) for i, f in enumerate(free)),
            jobs=tuple(self._pending.values()),
            running=running,
            running_changes=changes,
        )
        plan = schedule(snapshot, PROFILES, self._carry)
        self.cycles += 1
        start, on = [], []
        for placement in plan.placements:
            job = int(placement.job_id)
            pending = self._pending.pop(placement.job_id)
            self._sizes.forget(self._trace.jobs[job].gpus)
            self._started(job, pending, int(placement.pool_id), pool.progress_from(job, now))
            start.append(job)
            on.append(int(placement.pool_id))
        return Decision(tuple(start), on=tuple(on)) if start else NOTHING

    def _started(self, job: int, pending: PendingJob, where: int, progress: float) -> None:
        """The job runs from `progress` (its start, after any restart overhead), as an attempt the
        control plane would list: its room, its org and project, and its end by its limit."""
        started = self._trace.start + timedelta(seconds=progress)
        gpus = self._trace.jobs[job].gpus
        self._running.start(job, attempt(pending, 1, where, gpus, self._accelerator[where], started))


register_policy(Production.name, Production)
