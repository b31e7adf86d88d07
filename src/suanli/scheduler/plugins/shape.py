"""Filter `shape`: one node of the pool, empty, could hold one node of the job; the pool has enough nodes."""

from __future__ import annotations

from suanli.domain.resources import Vector
from suanli.scheduler.framework import accelerator_option, register_filter
from suanli.scheduler.plan import OK, Code, Status
from suanli.scheduler.snapshot import PendingJob, PoolView


class Shape:
    name = "shape"

    def filter(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> Status:
        r = job.resources
        need = r.per_node(accelerator_option(job, pool))
        have = pool.per_node
        if need.accelerators > have.accelerators:
            return Status(
                Code.UNRESOLVABLE,
                f"needs {need.accelerators}×{pool.accelerator} on one node; nodes have {have.accelerators}",
            )
        if need.cpus > have.cpus:
            return Status(Code.UNRESOLVABLE, f"needs {need.cpus} CPUs per node; nodes have {have.cpus}")
        if need.memory_mib > have.memory_mib:
            return Status(
                Code.UNRESOLVABLE, f"needs {need.memory_mib} MiB per node; nodes have {have.memory_mib} MiB"
            )
        if r.nodes > len(pool.free):
            return Status(Code.UNRESOLVABLE, f"needs {r.nodes} nodes; pool has {len(pool.free)}")
        return OK


register_filter(Shape.name, Shape)
