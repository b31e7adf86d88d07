"""Quotes: what a job would cost, burn and score on every pool now, and why the others do not fit."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from suanli.control.errors import Forbidden, Invalid
from suanli.control.principal import Principal
from suanli.control.snapshots import pool_views
from suanli.domain.errors import SpecError
from suanli.domain.spec import parse_spec
from suanli.scheduler import PROFILES, Code, PendingJob, PoolView, explain
from suanli.scheduler.estimate import (
    carbon_g,
    energy_kwh,
    expected_cost,
    expected_hours,
    expected_start,
    hourly_price,
)
from suanli.store import Tx


def quote(tx: Tx, who: Principal, document: Any, now: datetime, lease_ttl: float) -> dict[str, Any]:
    if who.kind != "user":
        raise Forbidden("only tenant members and operators ask for quotes")
    try:
        spec = parse_spec(document)
    except SpecError as exc:
        raise Invalid("the job spec is invalid", exc.errors, code="invalid_spec") from None
    cap = spec.constraints.max_price_per_hour
    job = PendingJob(
        id="quote",
        resources=spec.resources,
        created_at=now,
        regions=spec.constraints.regions,
        sites=spec.constraints.sites,
        objective=spec.objective,
        max_price_per_hour=Decimal(cap) if cap else None,
    )
    pools = {p.label: p for p in pool_views(tx, now, lease_ttl, releases=True)}
    rows = []
    for c in explain(job, list(pools.values()), PROFILES):
        pool = pools[c.pool]
        hourly, total = hourly_price(job, pool), expected_cost(job, pool)
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
                "expected_start": _start(job, pool, now, c.code),
            }
        )
    return {"objective": spec.objective, "expected_hours": f"{expected_hours(job):.2f}", "candidates": rows}


def _start(job: PendingJob, pool: PoolView, now: datetime, code: Code) -> str | None:
    """ "now", the expected start as RFC 3339, or None (never here, or it hangs on an unknown end)."""
    if code is Code.UNRESOLVABLE or not pool.online:
        return None
    at = expected_start(job, pool, now)
    if at is None:
        return None
    return "now" if at <= now else at.isoformat().replace("+00:00", "Z")
