"""Quotes: what a job would cost, burn and score on every pool now, and why the others do not fit."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress
from datetime import datetime
from typing import Any

from suanli.control import caps, holds
from suanli.control.errors import Forbidden, Invalid
from suanli.control.jobs import project_of
from suanli.control.principal import Principal
from suanli.control.snapshots import pending_job, pool_views, spec_job
from suanli.domain.billing import funds_refusal
from suanli.domain.errors import SpecError
from suanli.domain.money import Money
from suanli.domain.spec import parse_spec
from suanli.scheduler import PROFILES, Code, PoolView, explain, never_fits
from suanli.scheduler.estimate import carbon_g, energy_kwh, expected_cost, expected_hours, hourly_price
from suanli.scheduler.feasibility import could_run
from suanli.scheduler.outlook import AHEAD_LIMIT, outlook
from suanli.store import Tx
from suanli.store.tables import Job, Project


def quote(
    tx: Tx,
    who: Principal,
    document: Any,
    now: datetime,
    lease_ttl: float,
    hold_default_s: int = 3600,
    held_back: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Every pool's price, energy, carbon, score and expected start for a job not submitted; a job
    without max_runtime is priced for `hold_default_s`, what its hold would be. `runnable` is false
    where `submit` would refuse the job: no pool could ever run it. `held_back`: the last cycle's
    jobs a gate held back (`SchedulingLoop.held_back`); those waiting for money are not counted
    ahead, since they start only once their project is topped up (counted, one without a
    max_runtime would leave every start behind it unknown)."""
    if who.kind != "user":
        raise Forbidden("only tenant members and operators ask for quotes")
    try:
        spec = parse_spec(document)
    except SpecError as exc:
        raise Invalid("the job spec is invalid", exc.errors, code="invalid_spec") from None
    project = None
    if spec.project:  # a project named must be one the caller could submit to, as `submit` asks
        project = project_of(tx, who, spec)
    else:  # the project `submit` would take, if there is just one
        with suppress(Invalid):
            project = project_of(tx, who, spec)
    can_spend = _funds(tx, project, now)
    job = spec_job(spec, "quote", now, spec.priority_rank)
    pools = {p.label: p for p in pool_views(tx, now, lease_ttl, releases=True)}
    unfunded = {j for j, gate in (held_back or {}).items() if gate in ("funds", "budget")}
    ahead = [
        j for j in tx.jobs.pending() if j.priority >= job.priority and j.id not in unfunded
    ]  # older: ahead at a tie
    ahead.sort(key=lambda j: (-j.priority, j.created_at, j.id))
    seen = outlook(job, list(pools.values()), [pending_job(j) for j in ahead[:AHEAD_LIMIT]], PROFILES, now)
    rows = []
    for c in explain(job, list(pools.values()), PROFILES):
        pool = pools[c.pool]
        # its whole price book on what it would hold there, as its hold at placement is
        hourly, total = hourly_price(job, pool), expected_cost(job, pool, hold_default_s)
        kwh, grams = energy_kwh(job, pool), carbon_g(job, pool)
        code, reason = c.code, c.reason
        short = can_spend(total) if c.fits and total else None
        if short is not None:  # it would wait for funds, as the funds gate would make it
            code, reason = Code.UNSCHEDULABLE, short
        rows.append(
            {
                "pool": c.pool,
                "fits": c.fits and short is None,
                "code": code.value,
                "reason": reason,
                "score": c.score,
                "price_per_hour": str(hourly) if hourly else None,
                "expected_cost": str(total) if total else None,
                "energy_kwh": f"{kwh:.2f}" if kwh is not None else None,
                "carbon_kg": f"{grams / 1000:.2f}" if grams is not None else None,
                "expected_start": None if short else _start(seen.starts.get(pool.id), pool, now, c.code),
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


def funding_note(tx: Tx, job: Job, now: datetime, lease_ttl: float, hold_default_s: int) -> str | None:
    """Why a job just submitted will wait for money wherever it could run (None: some pool it
    could run on is free, or its project can pay the hold there): what `submit` warns of, so a
    tenant learns it at once rather than from a job that never starts."""
    project = tx.tenancy.project(job.project_id)
    pending = pending_job(job)
    short = _funds(tx, project, now)
    refusals = []
    for pool in could_run(pending, pool_views(tx, now, lease_ttl)):
        total = expected_cost(pending, pool, hold_default_s)
        reason = short(total) if total else None
        if reason is None:
            return None
        refusals.append((total.minor if total else 0, pool.label, reason))
    if not refusals:
        return None
    _, label, reason = min(refusals)
    return f"it will wait: {reason} (the hold on {label}, the cheapest pool that could run it)"


def _funds(tx: Tx, project: Project | None, now: datetime) -> Callable[[Money], str | None]:
    """For a total on a pool, why the project could not pay its hold now (None: it could, or no
    project is known to judge by): what the scheduler's funds gate says, from the same figures
    (`holds.spendable`: cash available, stretched by the org's vouchers), then what the `budget`
    gate says of a hard-capped budget (`caps.cap_room`)."""
    known: dict[str, int] = {}
    room = caps.cap_room(tx, project.id, now) if project is not None else None

    def short(total: Money) -> str | None:
        if project is None or total.minor == 0:
            return None
        if total.currency not in known:
            known[total.currency] = holds.spendable(tx, project.id, project.org_id, total.currency, now)
        have = known[total.currency]
        if have < total.minor:
            return funds_refusal(total, Money(have, total.currency))
        if room is not None and room.currency == total.currency and total.minor > room.left:
            return room.refusal(total.minor)
        return None

    return short


def _start(at: datetime | None, pool: PoolView, now: datetime, code: Code) -> str | None:
    """ "now", the expected start as RFC 3339, or None (never here, or it hangs on an unknown end)."""
    if code is Code.UNRESOLVABLE or not pool.online or at is None:
        return None
    return "now" if at <= now else at.isoformat().replace("+00:00", "Z")
