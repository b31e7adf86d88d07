"""Score `waste`: keep accelerator nodes for jobs that need accelerators."""

from __future__ import annotations

from collections.abc import Hashable

from suanli.domain.resources import Vector
from suanli.scheduler.framework import register_score
from suanli.scheduler.snapshot import PendingJob, PoolView


class Waste:
    name = "waste"
    reads_free = False

    def job_key(self, job: PendingJob) -> Hashable:
        return bool(job.resources.accelerators)

    def score(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> float:
        if job.resources.accelerators or not pool.per_node.accelerators:
            return 100.0
        return 0.0


register_score(Waste.name, Waste)
