"""Charges and refunds of a month read back from the ledger, summed per hold in the database with
their parts (ADR 0040).

Statements, settlement, a job's charges and usage views all sum the same ledger lines (a budget's
spend is kept as they are posted, ADR 0039), so what they show reconciles with the ledger by
construction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from suanli.control.errors import Invalid
from suanli.domain.billing import BillingError, Line, Parts, month_of, parse_month, parts_of
from suanli.domain.errors import FieldError
from suanli.domain.money import Money
from suanli.store import Tx
from suanli.store.tables import Hold


@dataclass(frozen=True)
class HoldMonth:
    """A hold's charges and refunds dated in a month (or ever), summed: a line of a statement or a
    settlement, or a job's charges so far. `charges` and `refunds` are what each side got of them (a refund is a negative
    charge); `usage` is Σ (wall, accelerator, CPU seconds recorded) of the usage its charges
    charged, when asked for."""

    hold: Hold
    charges: Parts
    refunds: Parts
    charged: int  # how many charges
    refunded: int  # how many refunds
    first: datetime
    last: datetime
    usage: tuple[int, int, int] = (0, 0, 0)

    @property
    def tenant(self) -> dict[str, int]:
        """What each funding source paid, net of the refunds."""
        out = dict(self.charges.tenant)
        for source, amount in self.refunds.tenant.items():
            out[source] = out.get(source, 0) + amount
        return out

    @property
    def net(self) -> int:
        """What the tenant paid, net of the refunds."""
        return self.charges.charged + self.refunds.charged

    @property
    def payable(self) -> int:
        """What the provider is owed of it, net of the refunds."""
        return self.charges.payable + self.refunds.payable


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """`YYYY-MM` → its UTC bounds, or a 422 naming the field."""
    try:
        return parse_month(month)
    except BillingError as exc:
        raise Invalid(str(exc), [FieldError("month", "YYYY-MM, e.g. 2026-11")]) from None


def reported_month(month: str, now: datetime) -> str:
    """A month a statement or settlement can report: `YYYY-MM`, begun by `now` (a later one has
    nothing to say yet, and an empty document would read as a month without charges)."""
    start, _ = month_bounds(month)
    if start > now:
        current = month_of(now)
        raise Invalid(
            f"{month} has not begun; it is {current} now", [FieldError("month", f"a month up to {current}")]
        )
    return month


def hold_months(
    tx: Tx,
    since: datetime | None,
    until: datetime | None,
    *,
    project_ids: Iterable[str] | None = None,
    provider_org_ids: Iterable[str] | None = None,
    hold_ids: Iterable[str] | None = None,
    usage: bool = False,
) -> list[HoldMonth]:
    """The charges and refunds dated in `[since, until)` (None: ever) of these projects' (or
    providers') holds, or of these holds, one `HoldMonth` per hold, summed in the database (a
    refund against the hold of the charge it reverses); with `usage` (a month, by projects or
    providers), also what its charges charged of usage. Ordered by first date."""
    sums, counts = tx.billing.hold_sums(
        since, until, project_ids=project_ids, provider_org_ids=provider_org_ids, hold_ids=hold_ids
    )
    lines: dict[tuple[str, str], list[Line]] = defaultdict(list)
    for hold_id, kind, account, source, amount in sums:
        lines[(hold_id, kind)].append(Line(account, amount, source))
    seen: dict[str, dict[str, tuple[int, datetime, datetime]]] = defaultdict(dict)
    for hold_id, kind, n, first, last in counts:
        seen[hold_id][kind] = (n, first, last)
    used: dict[str, tuple[int, int, int]] = {}
    if usage:
        if since is None or until is None or hold_ids is not None:
            raise ValueError("the usage of a month's charges: give the month, and projects or providers")
        used = tx.billing.charged_usage(
            since, until, project_ids=project_ids, provider_org_ids=provider_org_ids
        )
    holds = {h.id: h for h in tx.ledger.holds(seen)}
    out = []
    for hold_id, kinds in seen.items():
        c, r = kinds.get("charge", (0, None, None)), kinds.get("refund", (0, None, None))
        dates = [d for d in (c[1], c[2], r[1], r[2]) if d is not None]
        out.append(
            HoldMonth(
                holds[hold_id],
                parts_of(lines.get((hold_id, "charge"), [])),
                parts_of(lines.get((hold_id, "refund"), [])),
                c[0],
                r[0],
                min(dates),
                max(dates),
                used.get(hold_id, (0, 0, 0)),
            )
        )
    return sorted(out, key=lambda m: (m.first, m.hold.id))


def parts_by_transfer(tx: Tx, transfer_ids: Iterable[str]) -> dict[str, Parts]:
    lines: dict[str, list[Line]] = defaultdict(list)
    for transfer_id, account, amount, source, _ in tx.ledger.entry_lines(transfer_ids):
        lines[transfer_id].append(Line(account, amount, source))
    return {tid: parts_of(ls) for tid, ls in lines.items()}


def job_charges(tx: Tx, hold_ids: Iterable[str]) -> list[dict[str, Any]]:
    """What a job has been charged so far under these holds (its attempts'), net of refunds, by
    funding source, what refunds gave back of it (so `charged + refunded` was charged before them,
    as a statement line's `amount + refunded`), and what its open holds still reserve: one entry per
    currency it was priced in (none: it never ran on a priced pool). Summed from the ledger's lines
    in the database, per hold, as statements are (`hold_months`), so it adds up with them and costs
    a few rows however long the job has been metered."""
    holds = tx.ledger.holds(hold_ids)
    if not holds:
        return []
    sums = {c: dict.fromkeys(_SOURCES, 0) for c in sorted({h.currency for h in holds})}
    for hold in holds:
        if hold.state == "open":
            sums[hold.currency]["held"] += max(0, hold.amount_minor - hold.charged_minor)
    for m in hold_months(tx, None, None, hold_ids=[h.id for h in holds]):
        mine = sums[m.hold.currency]
        for source, amount in m.tenant.items():
            mine["vouchers" if source.startswith("voucher:") else source] += amount
        mine["refunded"] -= m.refunds.charged  # a refund is a negative charge
    return [
        {
            "currency": currency,
            "charged": str(Money(x["vouchers"] + x["cash"] + x["arrears"], currency)),
            **{k: str(Money(x[k], currency)) for k in _SOURCES},
        }
        for currency, x in sums.items()
    ]


_SOURCES = ("vouchers", "cash", "arrears", "held", "refunded")
