"""Score `carbon`: the job's emissions on the pool (TDP × PUE × grid intensity); less is better.

The value is per hour of running; like `cost`, the job's expected hours are a common factor that the
normalised column does not see, so jobs of every max_runtime share one job class."""

from __future__ import annotations

from collections.abc import Hashable
from decimal import Decimal

from suanli.domain.resources import Vector
from suanli.scheduler.estimate import carbon_g
from suanli.scheduler.framework import accelerator_option, options_key, register_score
from suanli.scheduler.snapshot import PendingJob, PoolView


class Carbon:
    name = "carbon"
    reads_free = False

    def job_key(self, job: PendingJob) -> Hashable:
        r = job.resources
        return (options_key(job), r.cpus, r.nodes)

    def need_pool_key(self, pool: PoolView) -> Hashable:
        return pool.accelerator  # which of a job's options applies on the pool

    def need_key(self, job: PendingJob, pool: PoolView) -> Hashable:
        """All `carbon_g` reads of the job: the option that applies there, its CPUs and nodes."""
        option = accelerator_option(job, pool)
        return (option.count if option else 0, job.resources.cpus, job.resources.nodes)

    def cost(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> float | None:
        grams = carbon_g(job, pool, hours=Decimal(1))
        return float(grams) if grams is not None else None


register_score(Carbon.name, Carbon)
