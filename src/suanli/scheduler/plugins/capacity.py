"""Filter `capacity`: enough nodes are free now to hold the whole gang (all-or-nothing, one pool)."""

from __future__ import annotations

from collections.abc import Hashable

from suanli.domain.resources import Vector
from suanli.scheduler.framework import accelerator_option, options_key, register_filter
from suanli.scheduler.plan import OK, Code, Status
from suanli.scheduler.snapshot import PendingJob, PoolView


class Capacity:
    name = "capacity"
    reads_free = True  # monotone: less free capacity never turns a no into a yes

    def job_key(self, job: PendingJob) -> Hashable:
        r = job.resources
        return (options_key(job), r.cpus, r.memory_mib, r.nodes)

    def need_pool_key(self, pool: PoolView) -> Hashable:
        return pool.accelerator  # which of a job's options applies on the pool

    def need_key(self, job: PendingJob, pool: PoolView) -> Hashable:
        """What the answer on `pool` reads of the job: the one option that applies there, not
        all of them (jobs that take A100:8 or H800:8 and jobs that take only A100:8 need the same
        of an A100 pool)."""
        r, option = job.resources, accelerator_option(job, pool)
        return (option.count if option else 0, r.cpus, r.memory_mib, r.nodes)

    def admits(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> bool:
        r, option = job.resources, accelerator_option(job, pool)
        return _enough(option.count if option else 0, r.cpus, r.memory_mib, r.nodes, free)

    def filter(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> Status:
        need = job.resources.per_node(accelerator_option(job, pool))
        if _enough(need.accelerators, need.cpus, need.memory_mib, job.resources.nodes, free):
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


def _enough(a: int, c: int, m: int, count: int, free: tuple[Vector, ...]) -> bool:
    """At least `count` nodes have `a` accelerators, `c` CPUs and `m` MiB free: exactly when
    `pick_nodes` would find them, without sorting (this runs once per job class and pool version)."""
    for f in free:
        if a <= f.accelerators and c <= f.cpus and m <= f.memory_mib:
            count -= 1
            if count <= 0:
                return True
    return count <= 0


def _show(v: Vector, pool: PoolView) -> str:
    accel = f"{v.accelerators}×{pool.accelerator}, " if pool.accelerator else ""
    return f"{accel}{v.cpus} CPU, {v.memory_mib} MiB"


register_filter(Capacity.name, Capacity)
