"""Hard caps: what a project's hard-capped budget leaves this month for new holds.

A budget row is for one month (`YYYY-MM`) or for every month without its own row (`*`); what a
month has spent is the sum of its charges (every funding source, net of refunds) in the budget's
currency. A hard-capped budget refuses new jobs at submit once spent (`budgets.refuse_over_cap`),
and holds queued ones to it: a placement's hold must fit in `cap_room` (the scheduler's `budget`
gate reads it in the snapshot; the applier's hold checks it again, `charging.hold_for`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from suanli.control import holds
from suanli.domain.billing import cap_refusal, month_of
from suanli.domain.money import Money
from suanli.store import Tx
from suanli.store.tables import Budget

EVERY_MONTH = "*"


class OverCap(Exception):
    """A hold does not fit in what the project's hard-capped budget leaves; the job waits."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def in_force(tx: Tx, project_id: str, month: str) -> Budget | None:
    """The month's own budget, else the standing one."""
    return tx.billing.budget(project_id, month) or tx.billing.budget(project_id, EVERY_MONTH)


def spent(tx: Tx, project_id: str, currency: str, month: str) -> int:
    """The month's charges of the project in `currency`, every funding source, net of refunds."""
    return tx.ledger.month_spent(project_id, currency, month)


@dataclass(frozen=True)
class CapRoom:
    """What a project's hard-capped budget leaves for new holds this month: the budget, less the
    month's charges, less what its open holds still reserve (cash and voucher parts alike, as the
    month's spending counts every funding source). May be negative."""

    left: int
    budget: int
    currency: str
    month: str

    def refusal(self, needs: int) -> str:
        """The reason a placement needing `needs` waits (`suanli why`, the quote)."""
        cur = self.currency
        return cap_refusal(Money(needs, cur), Money(self.left, cur), Money(self.budget, cur), self.month)


def cap_rooms(tx: Tx, project_ids: Iterable[str], now: datetime) -> dict[str, CapRoom]:
    """The room of each of these projects that has a hard-capped budget in force this month."""
    month = month_of(now)
    wanted = set(project_ids)
    if not wanted:
        return {}
    capped = {r.project_id for r in tx.billing.budgets(months=[month, EVERY_MONTH]) if r.project_id in wanted}
    out = {}
    for project_id in sorted(capped):
        room = cap_room(tx, project_id, now)
        if room is not None:
            out[project_id] = room
    return out


def cap_room(tx: Tx, project_id: str, now: datetime) -> CapRoom | None:
    """The project's room under its hard-capped budget this month; None without a hard cap."""
    month = month_of(now)
    budget = in_force(tx, project_id, month)
    if budget is None or not budget.hard_cap:
        return None
    reserved = sum(
        holds.cash_reserved(h) + holds.voucher_reserved(h)
        for h in tx.ledger.open_holds(project_id, budget.currency)
    )
    used = spent(tx, project_id, budget.currency, month)
    return CapRoom(budget.amount_minor - used - reserved, budget.amount_minor, budget.currency, month)
