"""Charges and refunds of a period read back from the ledger, each with its hold and its parts.

Statements, settlement, budgets and usage views all sum the same ledger lines, so what they show
reconciles with the ledger by construction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from suanli.domain.billing import Line, Parts, parts_of
from suanli.domain.ledger import TransferKind
from suanli.store import Tx
from suanli.store.tables import Hold, LedgerTransfer


@dataclass(frozen=True)
class Posted:
    """A charge or a refund (a negative charge) against `hold`; `usage_key` is the usage record it
    charged (a refund: the one its charge charged), or None."""

    transfer: LedgerTransfer
    hold: Hold
    parts: Parts
    usage_key: str | None

    @property
    def refund(self) -> bool:
        return self.transfer.kind == TransferKind.REFUND.value


def posted(tx: Tx, holds: Iterable[Hold], since: datetime, until: datetime) -> list[Posted]:
    """Charges and refunds of these holds dated in `[since, until)`, oldest first."""
    by_id = {h.id: h for h in holds}
    if not by_id:
        return []
    charges = tx.ledger.transfers(kinds=[TransferKind.CHARGE.value], refs=list(by_id))
    charge_of = {c.id: c for c in charges}  # a refund this month may reverse an older charge
    found = [c for c in charges if since <= c.at < until]
    found += tx.ledger.transfers_between(
        since, until, kinds=[TransferKind.REFUND.value], refs=list(charge_of)
    )
    return _with_parts(tx, found, by_id, charge_of)


def parts_by_transfer(tx: Tx, transfer_ids: Iterable[str]) -> dict[str, Parts]:
    lines: dict[str, list[Line]] = defaultdict(list)
    for e in tx.ledger.entries(list(transfer_ids)):
        lines[e.transfer_id].append(Line(e.account_id, e.amount_minor, e.source))
    return {tid: parts_of(ls) for tid, ls in lines.items()}


def _with_parts(
    tx: Tx, found: list[LedgerTransfer], holds: dict[str, Hold], charge_of: dict[str, LedgerTransfer]
) -> list[Posted]:
    parts = parts_by_transfer(tx, (t.id for t in found))
    out = []
    for t in sorted(found, key=lambda t: (t.at, t.id)):
        charge = charge_of[t.ref] if t.kind == TransferKind.REFUND.value else t
        out.append(Posted(t, holds[charge.ref], parts.get(t.id, Parts({}, 0, 0)), charge.once_key))
    return out
