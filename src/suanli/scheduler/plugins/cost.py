"""Score `cost`: the job's expected price on the pool (hourly price × expected hours); cheaper is better."""

from __future__ import annotations

from collections.abc import Hashable

from suanli.domain.resources import Vector
from suanli.scheduler.estimate import expected_cost
from suanli.scheduler.framework import options_key, register_score
from suanli.scheduler.snapshot import PendingJob, PoolView


class Cost:
    name = "cost"
    reads_free = False

    def job_key(self, job: PendingJob) -> Hashable:
        r = job.resources
        return (options_key(job), r.cpus, r.nodes, r.max_runtime_s)

    def cost(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> float | None:
        money = expected_cost(job, pool)
        # Pools in different currencies are compared by their numbers; a network prices in one.
        return float(money.minor) if money else None


register_score(Cost.name, Cost)
