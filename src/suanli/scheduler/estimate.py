"""What a job would cost and burn on a pool: hourly price, expected hours, energy and carbon.

Estimates use the job's `max_runtime` as its expected runtime (one hour when it has none): a
tenant's own bound, and the figure a hold will be taken against.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from suanli.domain.catalog import default_catalog
from suanli.domain.ledger import Usage, estimate, exact_cost, planned_usage, to_minor
from suanli.domain.money import Money
from suanli.scheduler.framework import accelerator_option, pick_nodes
from suanli.scheduler.snapshot import PendingJob, PoolView

DEFAULT_HOURS = Decimal(1)
CPU_WATTS = Decimal(10)  # per CPU core, for CPU-only pools and jobs


def expected_hours(job: PendingJob, default_s: int | None = None) -> Decimal:
    """The job's max_runtime in hours; `default_s` (one hour if None) when it has none."""
    seconds = job.resources.max_runtime_s or default_s
    return Decimal(seconds) / 3600 if seconds else DEFAULT_HOURS


def billed_units(job: PendingJob, pool: PoolView) -> int:
    """How many units of the pool's headline price (accelerators, or CPUs on a CPU-only pool) the job holds."""
    option = accelerator_option(job, pool)
    per_node = option.count if option else 0
    if not pool.accelerator:
        per_node = job.resources.cpus
    return per_node * job.resources.nodes


def held_usage(job: PendingJob, pool: PoolView, seconds: int) -> Usage:
    """What the job's allocation on the pool uses in `seconds`, all nodes together: what its hold
    at placement is taken for (`charging.hold_for`)."""
    per_node = job.resources.per_node(accelerator_option(job, pool))
    n = job.resources.nodes
    return planned_usage(seconds, per_node.accelerators * n, per_node.cpus * n, per_node.memory_mib * n)


def hourly_price(job: PendingJob, pool: PoolView) -> Money | None:
    """What an hour of the job on the pool costs: its whole price book (accelerators, CPUs and
    memory, no minimum) where the pool has one, else the headline price × units. None: unpriced."""
    if pool.book is not None:
        hour = exact_cost(pool.book.tenant, held_usage(job, pool, 3600))
        return Money(to_minor(hour), pool.book.currency)
    price = pool.price
    if price is None:
        return None
    # `price.times(Decimal(units))` without the Decimals: a whole number of units times a whole
    # number of minor units is exact, so nothing is rounded either way (a cycle asks this often)
    return Money(price.minor * billed_units(job, pool), price.currency)


def expected_cost(job: PendingJob, pool: PoolView, default_s: int | None = None) -> Money | None:
    """What the job's hold on the pool would be: `expected_hours` priced by the pool's book, its
    minimum charge included, to the minor unit as the hold is (else the headline price × units × hours)."""
    if pool.book is not None:
        seconds = job.resources.max_runtime_s or default_s or int(DEFAULT_HOURS * 3600)
        return Money(estimate(pool.book, held_usage(job, pool, seconds)), pool.book.currency)
    hourly = hourly_price(job, pool)
    return hourly.times(expected_hours(job, default_s)) if hourly else None


def energy_kwh(job: PendingJob, pool: PoolView, hours: Decimal | None = None) -> Decimal | None:
    """Accelerator TDP (or CPU watts) × count × PUE × expected hours; None without a PUE."""
    if pool.pue is None:
        return None
    option = accelerator_option(job, pool)
    watts = CPU_WATTS * job.resources.cpus
    if option is not None:
        model = default_catalog().find(option.model)
        watts += Decimal(model.tdp_w if model else 0) * option.count
    return watts * job.resources.nodes * pool.pue * (expected_hours(job) if hours is None else hours) / 1000


def carbon_g(job: PendingJob, pool: PoolView, hours: Decimal | None = None) -> Decimal | None:
    """Grams of CO2e for the job's expected hours (or `hours`); None without a PUE or intensity."""
    kwh = energy_kwh(job, pool, hours)
    if kwh is None or pool.carbon_g_per_kwh is None:
        return None
    return kwh * pool.carbon_g_per_kwh


def expected_start(job: PendingJob, pool: PoolView, now: datetime) -> datetime | None:
    """When the job could start on the pool if nothing queued ahead took the capacity first: now if it
    fits, else the first moment the attempts running there, ending at their `max_runtime`, have
    given back enough. None if that depends on an attempt whose end is not known."""
    need = job.resources.per_node(accelerator_option(job, pool))
    free = list(pool.free)
    if pick_nodes(need, job.resources.nodes, tuple(free)) is not None:
        return now
    for release in sorted(pool.releases, key=lambda r: (r.at is None, r.at or now)):
        if release.at is None:
            return None
        for node in release.nodes:
            free[node] = free[node] + release.per_node
        if pick_nodes(need, job.resources.nodes, tuple(free)) is not None:
            return max(release.at, now)
    return None


def expected_wait(job: PendingJob, pool: PoolView, now: datetime) -> timedelta | None:
    start = expected_start(job, pool, now)
    return start - now if start is not None else None
