"""Filter `shape`: one node of the pool, empty, could hold one node of the job; the pool has enough nodes."""

from __future__ import annotations

from collections.abc import Hashable

from suanli.domain.resources import Vector, format_memory
from suanli.scheduler.framework import accelerator_option, options_key, register_filter
from suanli.scheduler.plan import OK, Code, Status
from suanli.scheduler.snapshot import PendingJob, PoolView


class Shape:
    name = "shape"
    reads_free = False

    def job_key(self, job: PendingJob) -> Hashable:
        r = job.resources
        return (options_key(job), r.cpus, r.memory_mib, r.nodes)

    def pool_key(self, pool: PoolView) -> Hashable:
        return (pool.accelerator, pool.per_node, len(pool.free))  # its node shape and count

    def need_pool_key(self, pool: PoolView) -> Hashable:
        return pool.accelerator  # which of a job's options applies on the pool

    def need_key(self, job: PendingJob, pool: PoolView) -> Hashable:
        """What the answer on `pool` reads of the job: the one option that applies there (jobs
        that take A100:8 or H800:8 and jobs that take only A100:8 need the same of an A100 pool)."""
        r, option = job.resources, accelerator_option(job, pool)
        return (option.count if option else 0, r.cpus, r.memory_mib, r.nodes)

    def admits(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> bool:
        r, have = job.resources, pool.per_node
        option = accelerator_option(job, pool)
        return (
            (option.count if option else 0) <= have.accelerators
            and r.cpus <= have.cpus
            and r.memory_mib <= have.memory_mib
            and r.nodes <= len(pool.free)
        )

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
            needs, has = format_memory(need.memory_mib), format_memory(have.memory_mib)
            if needs == has:  # rounded to the same figure: the exact one says why it does not fit
                needs, has = f"{need.memory_mib} MiB", f"{have.memory_mib} MiB"
            return Status(Code.UNRESOLVABLE, f"needs {needs} per node; nodes have {has}")
        if r.nodes > len(pool.free):
            return Status(Code.UNRESOLVABLE, f"needs {r.nodes} nodes; pool has {len(pool.free)}")
        return OK


register_filter(Shape.name, Shape)
