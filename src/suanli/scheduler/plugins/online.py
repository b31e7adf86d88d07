"""Filter `online`: only sites whose agent is in touch (and not disabled) take new work."""

from __future__ import annotations

from collections.abc import Hashable

from suanli.domain.resources import Vector
from suanli.scheduler.framework import register_filter
from suanli.scheduler.plan import OK, Code, Status
from suanli.scheduler.snapshot import PendingJob, PoolView


class Online:
    name = "online"
    reads_free = False

    def job_key(self, job: PendingJob) -> Hashable:
        return None  # the pool alone decides

    def pool_key(self, pool: PoolView) -> Hashable:
        return (pool.site, pool.online, pool.stopped)  # all `filter` reads of the pool, its reason included

    def filter(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> Status:
        if pool.online:
            return OK
        if pool.stopped:  # as `suanli sites` shows it
            return Status(
                Code.UNSCHEDULABLE,
                f"site {pool.site} is stopped (its agent stopped; it takes work again when an agent syncs)",
            )
        return Status(Code.UNSCHEDULABLE, f"site {pool.site} is offline (no word from its agent)")


register_filter(Online.name, Online)
