"""Policy `suanli`: the production scheduler (`suanli.scheduler.schedule` with `PROFILES`), unchanged.

Each pass builds the `Snapshot` the control plane would: one site with one pool whose single node holds
all N accelerators (a fixed model, `A100`, since a trace names none) with CPU and memory to spare, and
every waiting job as a `PendingJob` asking for its GPU count of that model and nothing else (the trace
has no CPU or memory figures), `created_at` its submit instant. The placements of the plan start; the
scheduler does not preempt. Today's plugins place, in (created_at, id) order, every job that fits what
is still free: greedy first-fit without reservations. A job's `PendingJob.id` is its input index,
zero-padded, so the scheduler's id tie-break keeps the trace's input order.

Cost: one `schedule()` call per event time over the whole queue, so O(queue) per pass; practical for
traces of a few thousand jobs, slow for the full Philly trace under load (see the package README). A
pass with no free GPU places nothing and is skipped.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from suanli.domain.resources import AcceleratorOption, Resources, Vector
from suanli.scheduler import PROFILES, PendingJob, PoolView, Snapshot, schedule
from suanli.sim.policy import NOTHING, Decision, PoolState, register_policy
from suanli.sim.trace import Trace

__all__ = ["MODEL", "Production"]

MODEL = "A100"
_PLENTY_CPUS = 1 << 20
_PLENTY_MIB = 1 << 40


class Production:
    name = "suanli"

    def __init__(self, trace: Trace, gpus: int) -> None:
        self._trace = trace
        self._pool = PoolView(
            id="sim-pool",
            site_id="sim-site",
            site="sim",
            name="pool",
            accelerator=MODEL,
            per_node=Vector(gpus, _PLENTY_CPUS, _PLENTY_MIB),
            free=(Vector(gpus, _PLENTY_CPUS, _PLENTY_MIB),),
        )
        self._width = len(str(max(len(trace.jobs) - 1, 0)))
        self._pending: dict[str, PendingJob] = {}  # insertion order is arrival order

    def arrive(self, job: int, now: float) -> None:
        spec = self._trace.jobs[job]
        key = f"{job:0{self._width}d}"
        self._pending[key] = PendingJob(
            id=key,
            resources=Resources(accelerators=(AcceleratorOption(MODEL, spec.gpus),), cpus=0, memory_mib=0),
            created_at=self._trace.start + timedelta(seconds=spec.submit),
            org_id=spec.tenant,
            project_id=spec.tenant,
        )

    def depart(self, job: int, now: float) -> None:
        pass

    def decide(self, now: float, pool: PoolState) -> Decision:
        if not self._pending or pool.free == 0:
            return NOTHING
        snapshot = Snapshot(
            now=self._trace.start + timedelta(seconds=now),
            pools=(_with_free(self._pool, pool.free),),
            jobs=tuple(self._pending.values()),
        )
        plan = schedule(snapshot, PROFILES)
        start = []
        for placement in plan.placements:
            del self._pending[placement.job_id]
            start.append(int(placement.job_id))
        return Decision(tuple(start)) if start else NOTHING


def _with_free(view: PoolView, gpus: int) -> PoolView:
    return replace(view, free=(Vector(gpus, view.per_node.cpus, view.per_node.memory_mib),))


register_policy(Production.name, Production)
