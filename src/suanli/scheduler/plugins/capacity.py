"""Filter `capacity`: enough nodes are free now to hold the whole gang (all-or-nothing, one pool)."""

from __future__ import annotations

from suanli.domain.resources import Vector
from suanli.scheduler.framework import accelerator_option, pick_nodes, register_filter
from suanli.scheduler.plan import OK, Code, Status
from suanli.scheduler.snapshot import PendingJob, PoolView


class Capacity:
    name = "capacity"

    def filter(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> Status:
        need = job.resources.per_node(accelerator_option(job, pool))
        if pick_nodes(need, job.resources.nodes, free) is not None:
            return OK
        fitting = sum(1 for f in free if need.fits_in(f))
        largest = max(free, default=Vector(), key=lambda f: (f.accelerators, f.cpus, f.memory_mib))
        if job.resources.nodes > 1:
            reason = (
                f"needs {job.resources.nodes} nodes with {_show(need, pool)} free; {fitting} such nodes now"
            )
        else:
            reason = f"needs {_show(need, pool)} on one node; largest free block {_show(largest, pool)}"
        return Status(Code.UNSCHEDULABLE, reason)


def _show(v: Vector, pool: PoolView) -> str:
    accel = f"{v.accelerators}×{pool.accelerator}, " if pool.accelerator else ""
    return f"{accel}{v.cpus} CPU, {v.memory_mib} MiB"


register_filter(Capacity.name, Capacity)
