"""Score `lost_sites`: a job whose attempt was lost or withdrawn on a site goes elsewhere when it can."""

from __future__ import annotations

from collections.abc import Hashable

from suanli.domain.resources import Vector
from suanli.scheduler.framework import register_score
from suanli.scheduler.snapshot import PendingJob, PoolView


class LostSites:
    name = "lost_sites"
    reads_free = False

    def job_key(self, job: PendingJob) -> Hashable:
        return job.avoid_sites

    def score(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> float:
        return 0.0 if pool.site in job.avoid_sites else 100.0


register_score(LostSites.name, LostSites)
