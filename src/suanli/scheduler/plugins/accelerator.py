"""Filter `accelerator`: the pool's accelerator model is one the job accepts."""

from __future__ import annotations

from collections.abc import Hashable

from suanli.domain.resources import Vector
from suanli.scheduler.framework import register_filter
from suanli.scheduler.plan import OK, Code, Status
from suanli.scheduler.snapshot import PendingJob, PoolView


class AcceleratorMatch:
    name = "accelerator"
    reads_free = False

    def job_key(self, job: PendingJob) -> Hashable:
        return tuple([o.model for o in job.resources.accelerators])

    def pool_key(self, pool: PoolView) -> Hashable:
        return pool.accelerator

    def admits(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> bool:
        options = job.resources.accelerators
        return not options or any(o.model == pool.accelerator for o in options)

    def filter(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> Status:
        if self.admits(job, pool, free):
            return OK
        models = list(dict.fromkeys(o.model for o in job.resources.accelerators))
        if len(models) > 4:  # a requirement (any[memory>=80GB]) stands for many models
            wanted = f"one of {len(models)} models ({', '.join(models[:3])}, …)"
        else:
            wanted = " or ".join(models)
        offered = pool.accelerator or "no accelerators"
        return Status(Code.UNRESOLVABLE, f"needs {wanted}; pool offers {offered}")


register_filter(AcceleratorMatch.name, AcceleratorMatch)
