"""Quotes: what a job would cost, burn and score on every pool now, and why the others do not fit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from suanli.control import ledger
from suanli.control.errors import Forbidden, Invalid
from suanli.control.jobs import project_of
from suanli.control.principal import Principal
from suanli.control.snapshots import pending_job, pool_views, spec_job
from suanli.domain.errors import SpecError
from suanli.domain.ledger import Usage, estimate, exact_cost, to_minor
from suanli.domain.money import Money
from suanli.domain.spec import parse_spec
from suanli.scheduler import PROFILES, Code, PendingJob, PoolView, explain, never_fits
from suanli.scheduler.estimate import carbon_g, energy_kwh, expected_hours
from suanli.scheduler.framework import accelerator_option
from suanli.scheduler.outlook import AHEAD_LIMIT, outlook
from suanli.store import Tx
from suanli.store.tables import PriceVersion


def quote(
    tx: Tx, who: Principal, document: Any, now: datetime, lease_ttl: float, hold_default_s: int = 3600
) -> dict[str, Any]:
    """Every pool's price, energy, carbon, score and expected start for a job not submitted; a job
    without max_runtime is priced for `hold_default_s`, what its hold would be. `runnable` is false
    where `submit` would refuse the job: no pool could ever run it."""
    if who.kind != "user":
        raise Forbidden("only tenant members and operators ask for quotes")
    try:
        spec = parse_spec(document)
    except SpecError as exc:
        raise Invalid("the job spec is invalid", exc.errors, code="invalid_spec") from None
    if spec.project:  # a project named must be one the caller could submit to, as `submit` asks
        project_of(tx, who, spec)
    job = spec_job(spec, "quote", now, spec.priority_rank)
    pools = {p.label: p for p in pool_views(tx, now, lease_ttl, releases=True)}
    ahead = [j for j in tx.jobs.pending() if j.priority >= job.priority]  # older, so ahead at a tie
    ahead.sort(key=lambda j: (-j.priority, j.created_at, j.id))
    seen = outlook(job, list(pools.values()), [pending_job(j) for j in ahead[:AHEAD_LIMIT]], PROFILES, now)
    books = ledger.prices_in_force(tx, [p.id for p in pools.values()], now)
    seconds = spec.resources.max_runtime_s or hold_default_s
    rows = []
    for c in explain(job, list(pools.values()), PROFILES):
        pool = pools[c.pool]
        hourly, total = _prices(job, pool, books.get(pool.id), seconds)
        kwh, grams = energy_kwh(job, pool), carbon_g(job, pool)
        rows.append(
            {
                "pool": c.pool,
                "fits": c.fits,
                "code": c.code.value,
                "reason": c.reason,
                "score": c.score,
                "price_per_hour": str(hourly) if hourly else None,
                "expected_cost": str(total) if total else None,
                "energy_kwh": f"{kwh:.2f}" if kwh is not None else None,
                "carbon_kg": f"{grams / 1000:.2f}" if grams is not None else None,
                "expected_start": _start(seen.starts.get(pool.id), pool, now, c.code),
            }
        )
    return {
        "objective": spec.objective,
        "expected_hours": f"{expected_hours(job, hold_default_s):.2f}",
        "expected_hours_from": "max_runtime" if spec.resources.max_runtime_s else "default_hold",
        "runnable": never_fits(job, list(pools.values())) is None,  # what `submit` checks
        "queue_ahead": len(ahead),
        "queue_projected": seen.projected,
        "candidates": rows,
    }


def _prices(
    job: PendingJob, pool: PoolView, price: PriceVersion | None, seconds: int
) -> tuple[Money | None, Money | None]:
    """What the job would pay an hour on the pool, and in all for `seconds`: its whole price book
    (accelerators, CPUs and memory) on what it would hold there, as its hold at placement is
    (`charging.hold_for`); the total includes the book's minimum charge. None: the pool is free."""
    if price is None:
        return None, None
    book = ledger.book_of(price)
    option = accelerator_option(job, pool)
    per_node = job.resources.per_node(option)
    n = job.resources.nodes

    def usage(s: int) -> Usage:
        return ledger.planned_usage(s, per_node.accelerators * n, per_node.cpus * n, per_node.memory_mib * n)

    hourly = to_minor(exact_cost(book.tenant, usage(3600)))
    return Money(hourly, book.currency), Money(estimate(book, usage(seconds)), book.currency)


def _start(at: datetime | None, pool: PoolView, now: datetime, code: Code) -> str | None:
    """ "now", the expected start as RFC 3339, or None (never here, or it hangs on an unknown end)."""
    if code is Code.UNRESOLVABLE or not pool.online or at is None:
        return None
    return "now" if at <= now else at.isoformat().replace("+00:00", "Z")
