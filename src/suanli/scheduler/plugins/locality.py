"""Cost score `locality`: hours to bring the job's inputs to the site.

For each input (spec `inputs`: a size and the regions holding a replica), nothing if the site's
region holds one (or the input names no region), else size ÷ the site's bandwidth from the best
replica region (`Site.bandwidth_mbps`: per region, "*" for the rest; `DEFAULT_MBPS` when the site
has not said). The sum over inputs is the cost: the nearest data wins, normalised like every cost.
A job without inputs costs 0 everywhere.
"""

from __future__ import annotations

from collections.abc import Hashable

from suanli.domain.resources import Vector
from suanli.scheduler.framework import register_score
from suanli.scheduler.snapshot import PendingJob, PoolView

DEFAULT_MBPS = 1000


def transfer_hours(job: PendingJob, pool: PoolView) -> float:
    bandwidth = dict(pool.bandwidth_mbps)
    hours = 0.0
    for data in job.inputs:
        if not data.regions or pool.region in data.regions or not data.size_mib:
            continue
        mbps = max(bandwidth.get(r, bandwidth.get("*", DEFAULT_MBPS)) for r in data.regions)
        hours += data.size_mib * 8 * 1.048576 / max(mbps, 1) / 3600  # MiB → Mbit, ÷ Mbit/s
    return hours


class Locality:
    name = "locality"
    reads_free = False

    def job_key(self, job: PendingJob) -> Hashable:
        return job.inputs

    def cost(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> float | None:
        return transfer_hours(job, pool)


register_score(Locality.name, Locality)
