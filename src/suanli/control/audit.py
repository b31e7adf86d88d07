"""The audit trail: every money change a person makes (top-ups, credit limits, budgets) is recorded
with who, when, what, how much and why, in the same transaction as the change. Reading it is a
money operation (`money.audit_events`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from suanli.control.principal import Principal
from suanli.domain.money import Money
from suanli.store import Tx
from suanli.store.tables import AuditEvent


def record(
    tx: Tx,
    who: Principal,
    action: str,
    org_id: str | None,
    target: str,
    now: datetime,
    *,
    amount: Money | None = None,
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    return tx.billing.add_audit(
        at=now,
        actor_id=who.key,
        actor=who.user_name or who.key,
        action=action,
        org_id=org_id,
        target=target,
        amount_minor=amount.minor if amount else None,
        currency=amount.currency if amount else None,
        reason=reason,
        detail=detail or {},
    )


def view(row: AuditEvent) -> dict[str, Any]:
    amount = None
    if row.amount_minor is not None and row.currency:
        money = Money(row.amount_minor, row.currency)
        amount = {"minor": money.minor, "currency": money.currency, "text": str(money)}
    return {
        "at": row.at.isoformat(),
        "actor": row.actor,
        "action": row.action,
        "target": row.target,
        "amount": amount,
        "reason": row.reason,
        "detail": row.detail,
    }
