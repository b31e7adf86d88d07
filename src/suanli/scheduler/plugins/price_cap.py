"""Filter `price_cap`: the job's hourly price on the pool is within `constraints.max_price_per_hour`."""

from __future__ import annotations

from decimal import Decimal

from suanli.domain.money import EXPONENT
from suanli.domain.resources import Vector
from suanli.scheduler.estimate import hourly_price
from suanli.scheduler.framework import register_filter
from suanli.scheduler.plan import OK, Code, Status
from suanli.scheduler.snapshot import PendingJob, PoolView


class PriceCap:
    name = "price_cap"

    def filter(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> Status:
        cap = job.max_price_per_hour
        if cap is None:
            return OK
        hourly = hourly_price(job, pool)
        if hourly is None:
            return Status(Code.UNRESOLVABLE, f"pool has no price; max {cap:.2f}/h asked")
        price = Decimal(hourly.minor).scaleb(-EXPONENT[hourly.currency])
        if price > cap:
            return Status(Code.UNRESOLVABLE, f"price {price:.2f}/h above max {cap:.2f}/h")
        return OK


register_filter(PriceCap.name, PriceCap)
