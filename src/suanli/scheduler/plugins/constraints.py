"""Filter `constraints`: the job's allowed sites and regions, and its data residency region."""

from __future__ import annotations

from collections.abc import Collection, Hashable

from suanli.domain.resources import Vector
from suanli.scheduler.framework import register_filter
from suanli.scheduler.plan import OK, Code, Status
from suanli.scheduler.snapshot import PendingJob, PoolView


class Constraints:
    name = "constraints"
    reads_free = False

    def job_key(self, job: PendingJob) -> Hashable:
        return (job.sites, job.regions, job.data_residency)

    def pool_key(self, pool: PoolView) -> Hashable:
        return (pool.site, pool.region)

    def index_key(self, pool: PoolView) -> Hashable:
        return pool.site

    def candidates(self, key: Hashable) -> Collection[Hashable] | None:
        """The sites a job with this key may run at, when it names them (`job_key`): no pool
        elsewhere passes. None: any site may."""
        sites = key[0]  # type: ignore[index]
        return sites or None

    def admits(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> bool:
        return (
            (not job.sites or pool.site in job.sites)
            and (not job.regions or pool.region in job.regions)
            and (job.data_residency is None or pool.region == job.data_residency)
        )

    def filter(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> Status:
        if job.sites and pool.site not in job.sites:
            return Status(Code.UNRESOLVABLE, f"site {pool.site} is not in constraints.sites")
        if job.regions and pool.region not in job.regions:
            return Status(
                Code.UNRESOLVABLE, f"region {pool.region or '(none)'} is not in constraints.regions"
            )
        if job.data_residency is not None and pool.region != job.data_residency:
            return Status(
                Code.UNRESOLVABLE,
                f"the job's data must stay in {job.data_residency}; the site is in {pool.region or '(no region)'}",
            )
        return OK


register_filter(Constraints.name, Constraints)
