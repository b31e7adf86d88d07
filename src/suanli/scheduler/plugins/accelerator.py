"""Filter `accelerator`: the pool's accelerator model is one the job accepts."""

from __future__ import annotations

from suanli.domain.resources import Vector
from suanli.scheduler.framework import register_filter
from suanli.scheduler.plan import OK, Code, Status
from suanli.scheduler.snapshot import PendingJob, PoolView


class AcceleratorMatch:
    name = "accelerator"

    def filter(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> Status:
        options = job.resources.accelerators
        if not options or any(o.model == pool.accelerator for o in options):
            return OK
        wanted = " or ".join(o.model for o in options)
        offered = pool.accelerator or "no accelerators"
        return Status(Code.UNRESOLVABLE, f"needs {wanted}; pool offers {offered}")


register_filter(AcceleratorMatch.name, AcceleratorMatch)
