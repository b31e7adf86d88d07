"""Score `carbon`: the job's expected emissions on the pool (TDP × PUE × hours × grid intensity); less is better."""

from __future__ import annotations

from collections.abc import Hashable

from suanli.domain.resources import Vector
from suanli.scheduler.estimate import carbon_g
from suanli.scheduler.framework import options_key, register_score
from suanli.scheduler.snapshot import PendingJob, PoolView


class Carbon:
    name = "carbon"
    reads_free = False

    def job_key(self, job: PendingJob) -> Hashable:
        r = job.resources
        return (options_key(job), r.cpus, r.nodes, r.max_runtime_s)

    def cost(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> float | None:
        grams = carbon_g(job, pool)
        return float(grams) if grams is not None else None


register_score(Carbon.name, Carbon)
