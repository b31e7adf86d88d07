"""What the two production-scheduler policies (`suanli`, `suanli-service`) share: the network's pools
as `PoolView`s, a trace job as the control plane lists it waiting (`pending_job`), the waiting jobs
counted by GPU count, a running job as the control plane lists its attempt (`attempt`), and the
running attempts with how they changed between snapshots (`Attempts`)."""

from __future__ import annotations

import bisect
import math
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from suanli.domain.resources import AcceleratorOption, Resources, Vector
from suanli.scheduler import PendingJob, PoolView
from suanli.scheduler.snapshot import Running, RunningChanges
from suanli.sim.network import Network
from suanli.sim.trace import Trace

__all__ = ["Attempts", "PoolViews", "SizeCounts", "attempt", "pending_job"]

_PLENTY_CPUS = 1 << 20
_PLENTY_MIB = 1 << 40


class PoolViews:
    """One `PoolView` per pool of the network (its site, region, price per GPU-hour, PUE and grid
    intensity; a single node holding all its GPUs with CPU and memory to spare: the engine has no
    node shapes yet), and one per (pool, free GPUs), each built once and reused."""

    def __init__(self, network: Network) -> None:
        self._base = [_view(i, network) for i in range(len(network.pools))]
        self._free: dict[tuple[int, int], PoolView] = {}

    def with_free(self, index: int, gpus: int) -> PoolView:
        found = self._free.get((index, gpus))
        if found is None:
            base = self._base[index]
            free = (Vector(gpus, base.per_node.cpus, base.per_node.memory_mib),)
            found = self._free[index, gpus] = replace(base, free=free)
        return found


class SizeCounts:
    """GPU count → how many waiting jobs need it; `sizes` the counts with any, ascending."""

    def __init__(self) -> None:
        self._count: dict[int, int] = {}
        self.sizes: list[int] = []

    def add(self, gpus: int) -> None:
        count = self._count.get(gpus, 0)
        if not count:
            bisect.insort(self.sizes, gpus)
        self._count[gpus] = count + 1

    def forget(self, gpus: int) -> None:
        count = self._count[gpus] - 1
        self._count[gpus] = count
        if not count:
            del self.sizes[bisect.bisect_left(self.sizes, gpus)]


def pending_job(
    trace: Trace,
    job: int,
    key: str,
    models: tuple[str, ...],
    ran_s: float = 0.0,
    expected_s: float | None = None,
) -> PendingJob:
    """Trace job `job` waiting, as `PendingJob` `key`: it accepts any of the network's `models` (a trace
    names none) at its GPU count and asks for nothing else (a trace has no CPU or memory figures); its
    submit instant is `created_at`, its tenant its org and project, and its `max_runtime` the limit the
    trace records (none if it records none: the duration is what happens, not a bound the tenant
    gave). Never its duration."""
    spec = trace.jobs[job]
    options = tuple(AcceleratorOption(model, spec.gpus) for model in models)
    limit = None if spec.limit_s is None else math.ceil(spec.limit_s)
    return PendingJob(
        id=key,
        resources=Resources(accelerators=options, cpus=0, memory_mib=0, max_runtime_s=limit),
        created_at=trace.start + timedelta(seconds=spec.submit),
        org_id=spec.tenant,
        project_id=spec.tenant,
        preemptible=spec.preemptible,
        ran_s=ran_s,
        expected_s=expected_s,
    )


def _view(index: int, network: Network) -> PoolView:
    pool = network.pools[index]
    node = Vector(pool.gpus, _PLENTY_CPUS, _PLENTY_MIB)
    return PoolView(
        id=str(index),
        site_id=pool.site,
        site=pool.site,
        name=pool.name,
        accelerator=pool.accelerator,
        per_node=node,
        free=(node,),
        region=pool.region,
        price=pool.price,
        pue=pool.pue,
        carbon_g_per_kwh=pool.carbon_g_per_kwh,
    )


def attempt(
    pending: PendingJob,
    number: int,
    where: int,
    gpus: int,
    accelerator: str | None,
    started: datetime,
    **more: Any,
) -> Running:
    """The running attempt `number` of the waiting job `pending` on pool `where`, making progress
    from `started`, as `control.snapshots` lists it: its room, org and project, and its end by its
    run-time limit (`more`: the fields only the service orders read)."""
    limit = pending.resources.max_runtime_s
    return Running(
        attempt_id=f"{pending.id}/{number}",
        job_id=pending.id,
        pool_id=str(where),
        nodes=(0,),
        per_node=Vector(gpus, 0, 0),
        accelerator=accelerator,
        org_id=pending.org_id,
        project_id=pending.project_id,
        preemptible=pending.preemptible,
        started_at=started,
        ends_at=started + timedelta(seconds=limit) if limit else None,
        created_at=pending.created_at,
        **more,
    )


class Attempts:
    """The running attempts by trace job, and what changed since the last snapshot listed them: a
    snapshot's `running` and `running_changes` (the scheduler's carried holdings and evictable
    ranks catch up by the changes instead of comparing every attempt, ADR 0029)."""

    def __init__(self) -> None:
        self.by_job: dict[int, Running] = {}
        self._listed: tuple[Running, ...] | None = None  # the last snapshot's `running`
        self._gone: list[Running] = []
        self._added: list[Running] = []

    def start(self, job: int, running: Running) -> None:
        self.by_job[job] = running
        self._added.append(running)

    def stop(self, job: int) -> Running:
        """Job `job`'s attempt ends (it finished or was evicted)."""
        gone = self.by_job.pop(job)
        self._gone.append(gone)
        return gone

    def listed(self) -> tuple[tuple[Running, ...], RunningChanges | None]:
        """The attempts running now, for a snapshot, and how they changed since the last one (None
        for the first)."""
        running = tuple(self.by_job.values())
        last, self._listed = self._listed, running
        changes = None if last is None else RunningChanges(last, tuple(self._gone), tuple(self._added))
        self._gone.clear()
        self._added.clear()
        return running, changes
