"""Filter `paid`: on a priced pool, the job uses something the pool charges for.

A pool priced per accelerator-hour alone charges a job that holds no accelerators nothing: it would
run there unpaid, and its provider would be paid nothing. Such a job may run on the pool only once
the pool's price book charges for what it does hold (CPU-hours, or memory GiB-hours). Pools with no
price, and pools whose every rate is zero, are free by choice and take any job.
"""

from __future__ import annotations

from collections.abc import Hashable

from suanli.domain.resources import Vector
from suanli.scheduler.framework import register_filter
from suanli.scheduler.plan import OK, Code, Status
from suanli.scheduler.snapshot import PendingJob, PoolView

_UNITS = ("accelerator-hours", "CPU-hours", "memory GiB-hours")


def charged(pool: PoolView) -> tuple[bool, bool, bool]:
    """Which of accelerators, CPUs and memory the pool charges a tenant for: its whole book where it
    has one, else its headline price (per accelerator, or per CPU on a CPU-only pool)."""
    if pool.book is not None:
        rates = pool.book.tenant
        return rates.accelerator_hour > 0, rates.cpu_hour > 0, rates.gb_hour > 0
    if pool.price is None or pool.price.minor <= 0:
        return False, False, False
    return (True, False, False) if pool.accelerator else (False, True, False)


def _uses(job: PendingJob, pool: PoolView) -> tuple[bool, bool, bool]:
    r = job.resources
    return bool(pool.accelerator and r.accelerators), r.cpus > 0, r.memory_mib > 0


class Paid:
    name = "paid"
    reads_free = False

    def job_key(self, job: PendingJob) -> Hashable:
        r = job.resources
        return bool(r.accelerators), r.cpus > 0, r.memory_mib > 0

    def pool_key(self, pool: PoolView) -> Hashable:
        return bool(pool.accelerator), charged(pool)

    def admits(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> bool:
        charges = charged(pool)
        return not any(charges) or any(c and u for c, u in zip(charges, _uses(job, pool), strict=True))

    def filter(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> Status:
        if self.admits(job, pool, free):
            return OK
        priced = " and ".join(unit for unit, c in zip(_UNITS, charged(pool), strict=True) if c)
        return Status(
            Code.UNRESOLVABLE,
            f"pool charges for {priced} only and the job uses none: it would run unpaid "
            "(an operator can price its CPU-hours: suanli price set --cpu-hour)",
        )


register_filter(Paid.name, Paid)
