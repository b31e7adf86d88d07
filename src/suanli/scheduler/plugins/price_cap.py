"""Filter `price_cap`: the job's hourly price on the pool is within `constraints.max_price_per_hour`."""

from __future__ import annotations

from collections.abc import Hashable
from decimal import Decimal

from suanli.domain.money import EXPONENT
from suanli.domain.resources import Vector
from suanli.scheduler.estimate import billed_units, hourly_price
from suanli.scheduler.framework import accelerator_option, options_key, register_filter
from suanli.scheduler.plan import OK, Code, Status
from suanli.scheduler.snapshot import PendingJob, PoolView


class PriceCap:
    name = "price_cap"
    reads_free = False

    def job_key(self, job: PendingJob) -> Hashable:
        r = job.resources
        cap = job.max_price_per_hour
        return None if cap is None else (cap, options_key(job), r.cpus, r.memory_mib, r.nodes)

    def pool_key(self, pool: PoolView) -> Hashable:
        return (pool.accelerator, pool.price, pool.book)  # all `hourly_price` reads of the pool

    def need_pool_key(self, pool: PoolView) -> Hashable:
        return pool.accelerator  # which of the job's options applies on the pool

    def need_key(self, job: PendingJob, pool: PoolView) -> Hashable:
        """What the answer on `pool` reads of the job: its cap and what it holds there."""
        cap, r = job.max_price_per_hour, job.resources
        return None if cap is None else (cap, r.per_node(accelerator_option(job, pool)), r.nodes)

    def admits(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> bool:
        cap, price = job.max_price_per_hour, pool.price
        if cap is None:
            return True
        if pool.book is not None:  # the whole book: accelerators, CPUs and memory
            hourly = _hourly(job, pool)
            return hourly is not None and hourly <= cap
        # `_hourly(job, pool) <= cap` in minor units: a price times whole units is exact, and so is
        # moving the cap's decimal point; no Money or rounding for each pool a cycle asks about
        return price is not None and price.minor * billed_units(job, pool) <= cap.scaleb(
            EXPONENT[price.currency]
        )

    def filter(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> Status:
        cap = job.max_price_per_hour
        if cap is None:
            return OK
        price = _hourly(job, pool)
        if price is None:
            return Status(Code.UNRESOLVABLE, f"pool has no price; max {cap:.2f}/h asked")
        if price > cap:
            return Status(Code.UNRESOLVABLE, f"price {price:.2f}/h above max {cap:.2f}/h")
        return OK


def _hourly(job: PendingJob, pool: PoolView) -> Decimal | None:
    """The job's hourly price on the pool in currency units (not minor units); None if unpriced."""
    hourly = hourly_price(job, pool)
    return None if hourly is None else Decimal(hourly.minor).scaleb(-EXPONENT[hourly.currency])


register_filter(PriceCap.name, PriceCap)
