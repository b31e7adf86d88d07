"""Score `carbon`: the job's expected emissions on the pool (TDP × PUE × hours × grid intensity); less is better."""

from __future__ import annotations

from suanli.domain.resources import Vector
from suanli.scheduler.estimate import carbon_g
from suanli.scheduler.framework import register_score
from suanli.scheduler.snapshot import PendingJob, PoolView


class Carbon:
    name = "carbon"

    def cost(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> float | None:
        grams = carbon_g(job, pool)
        return float(grams) if grams is not None else None


register_score(Carbon.name, Carbon)
