"""Budgets: what a project means to spend per month, alerts at thresholds, and an optional hard cap.

A budget row is for one month (`YYYY-MM`) or for every month without its own row (`*`). What a
month has spent is the sum of its charges (every funding source, net of refunds) in the budget's
currency. `check(tx, now)` records each threshold reached once per project and month (the
scheduling loop calls it periodically); `refuse_over_cap` is what `jobs.submit` asks, and
`caps.cap_room` what a placement may still hold under a hard cap. Owners, admins and finance
members of the org (and operators) set and see budgets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from suanli.control import audit
from suanli.control.accounts import org_for
from suanli.control.caps import EVERY_MONTH, in_force, spent
from suanli.control.charges import month_bounds
from suanli.control.errors import Conflict, Invalid, NotFound
from suanli.control.money import money_view, read_amount, refuse_unused_currency, require_finance
from suanli.control.principal import Principal
from suanli.control.views import ts
from suanli.domain.billing import (
    DEFAULT_THRESHOLDS,
    BillingError,
    check_thresholds,
    crossed,
    month_of,
    over_cap,
)
from suanli.domain.errors import FieldError
from suanli.store import Tx
from suanli.store.tables import Project


def check(tx: Tx, now: datetime) -> list[dict[str, Any]]:
    """Record every threshold reached this month and not recorded before; returns the new events."""
    month = month_of(now)
    projects = {r.project_id for r in tx.billing.budgets(months=[month, EVERY_MONTH])}
    return [event for project_id in sorted(projects) for event in _check_project(tx, project_id, month, now)]


def _check_project(tx: Tx, project_id: str, month: str, now: datetime) -> list[dict[str, Any]]:
    """Record each threshold of the project's budget for `month` reached and not recorded before."""
    budget = in_force(tx, project_id, month)
    if budget is None or budget.amount_minor <= 0:
        return []
    used = spent(tx, project_id, budget.currency, month)
    done = [e.threshold for e in tx.billing.budget_events([project_id], month)]
    new = []
    for threshold in crossed(used, budget.amount_minor, budget.thresholds, done):
        event = {"project_id": project_id, "month": month, "threshold": threshold, "spent_minor": used,
                 "budget_minor": budget.amount_minor, "currency": budget.currency, "at": now}  # fmt: skip
        if tx.billing.add_budget_event(**event):
            new.append(event)
    return new


def refuse_over_cap(tx: Tx, project: Project, org_name: str, now: datetime) -> None:
    """Raise when the project's hard-capped budget for this month is used up."""
    month = month_of(now)
    budget = in_force(tx, project.id, month)
    if budget is None or not budget.hard_cap:
        return
    used = spent(tx, project.id, budget.currency, month)
    if over_cap(used, budget.amount_minor):
        raise Conflict(
            f"project {org_name}/{project.name} has reached its hard-capped budget for {month}: "
            f"{money_view(used, budget.currency)['text']} charged of {money_view(budget.amount_minor, budget.currency)['text']}; "
            "finance can raise it with `suanli budget set`",
            code="budget_exceeded",
        )


def _project(tx: Tx, who: Principal, org_name: str, project_name: str) -> tuple[str, Project]:
    org = org_for(tx, who, org_name)
    require_finance(who, org)
    project = tx.tenancy.project_by_name(org.id, project_name)
    if project is None:
        raise NotFound(f"no project {org_name}/{project_name}")
    return org.id, project


def set_budget(
    tx: Tx,
    who: Principal,
    org_name: str,
    project_name: str,
    *,
    month: str,
    amount: str,
    thresholds: list[int] | None,
    hard_cap: bool,
    reason: str,
    now: datetime,
) -> dict[str, Any]:
    org_id, project = _project(tx, who, org_name, project_name)
    if month != EVERY_MONTH:
        _, end = month_bounds(month)
        if end <= now:  # a past month's spending is done: a budget there would limit nothing
            current = month_of(now)
            raise Invalid(
                f"{month} has ended; a budget is for this month or a later one",
                [FieldError("month", f"{current} or later, or * for every month")],
            )
    money = read_amount("amount", amount, what="a budget")
    refuse_unused_currency(tx, project, money.currency)
    try:
        levels = check_thresholds(thresholds or DEFAULT_THRESHOLDS)
    except BillingError as exc:
        raise Invalid(str(exc), [FieldError("thresholds", "percentages 1–1000")]) from None
    tx.billing.set_budget(
        project.id, month, amount_minor=money.minor, currency=money.currency, thresholds=list(levels),
        hard_cap=hard_cap, updated_by=who.key, updated_at=now,
    )  # fmt: skip
    audit.record(
        tx, who, "budget", org_id, f"/orgs/{org_name}/projects/{project_name}/budget", now,
        amount=money, reason=reason, detail={"month": month, "thresholds": list(levels), "hard_cap": hard_cap},
    )  # fmt: skip
    if month in (EVERY_MONTH, month_of(now)):  # a budget set below what was spent alerts at once
        _check_project(tx, project.id, month_of(now), now)
    return show(tx, who, org_name, project_name, month if month != EVERY_MONTH else month_of(now))


def show(tx: Tx, who: Principal, org_name: str, project_name: str, month: str) -> dict[str, Any]:
    """The budget in force for `month`, what was spent, and the thresholds reached (all months)."""
    _, project = _project(tx, who, org_name, project_name)
    month_bounds(month)
    budget = in_force(tx, project.id, month)
    events = [
        {"month": e.month, "threshold": e.threshold, "at": ts(e.at),
         "spent": money_view(e.spent_minor, e.currency), "budget": money_view(e.budget_minor, e.currency)}
        for e in tx.billing.budget_events([project.id])
    ]  # fmt: skip
    view: dict[str, Any] = {
        "org": org_name,
        "project": project_name,
        "month": month,
        "budget": None,
        "events": events,
    }
    if budget is not None:
        used = spent(tx, project.id, budget.currency, month)
        view["budget"] = {
            "month": budget.month,
            "amount": money_view(budget.amount_minor, budget.currency),
            "thresholds": list(budget.thresholds),
            "hard_cap": budget.hard_cap,
            "spent": money_view(used, budget.currency),
            "percent": used * 100 // budget.amount_minor if budget.amount_minor else None,
            "blocked": budget.hard_cap and over_cap(used, budget.amount_minor),
        }
    return view
