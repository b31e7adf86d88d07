"""A voucher programme's report, read from the ledger lines themselves so that it reconciles exactly.

issued (grants) − redeemed (charges) + restored (refunds paid back to live vouchers) − expired
(write-offs) = what its vouchers still hold, and the programme account's balance = issued − expired −
clawed back (refunds of parts paid by vouchers no longer valid, ADR 0041).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from suanli.control import ledger
from suanli.control.accounts import require_operator
from suanli.control.errors import NotFound
from suanli.control.money import money_view
from suanli.control.principal import Principal
from suanli.domain.ledger import TransferKind, programme_account, voucher_account
from suanli.store import Tx

FIGURES = ("issued", "redeemed", "restored", "expired", "clawed_back")


def report(tx: Tx, who: Principal, name: str) -> dict[str, Any]:
    require_operator(who)
    programme = tx.ledger.programme_by_name(name)
    if programme is None:
        raise NotFound(f"no voucher programme {name!r}")
    vouchers = {v.id: v for v in tx.ledger.vouchers(programme_id=programme.id)}
    totals: dict[str, int] = dict.fromkeys(FIGURES, 0)
    by_org: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    by_provider: dict[str, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(("redeemed", "restored", "clawed_back"), 0)
    )
    accounts = [voucher_account(v) for v in vouchers] + [programme_account(programme.id)]
    for kind, account, source, _, provider, amount in tx.billing.voucher_sums(accounts):
        figure = _figure(kind, account, amount)
        if figure is None:
            continue
        amount = abs(amount)  # summed per sign
        voucher = vouchers.get(source.removeprefix("voucher:"))
        totals[figure] += amount
        if voucher is not None:
            by_org[voucher.org_id][figure] += amount
        if figure in ("redeemed", "restored", "clawed_back"):
            by_provider[provider or "?"][figure] += amount
    outstanding = sum(ledger.balance(tx, voucher_account(v)) for v in vouchers)
    programme_balance = ledger.balance(tx, programme_account(programme.id))
    cur = programme.currency
    names = {o.id: o.name for o in tx.tenancy.orgs(list(by_org) + list(by_provider))}

    def figures(row: dict[str, int]) -> dict[str, Any]:
        return {k: money_view(v, cur) for k, v in row.items()}

    return {
        "programme": programme.name,
        "issuer": programme.issuer,
        "budget": money_view(programme.budget_minor, cur),
        **figures(totals),
        "outstanding": money_view(outstanding, cur),
        "reconciles": totals["issued"] - totals["redeemed"] + totals["restored"] - totals["expired"]
        == outstanding
        and programme_balance == totals["issued"] - totals["expired"] - totals["clawed_back"],
        "by_org": [{"org": names.get(k, k), **figures(v)} for k, v in sorted(by_org.items())],
        "by_provider": [{"provider": names.get(k, k), **figures(v)} for k, v in sorted(by_provider.items())],
    }


def _figure(kind: str, account: str, amount: int) -> str | None:
    on_voucher = account.startswith("voucher:")
    if kind == TransferKind.GRANT and on_voucher:
        return "issued"
    if kind == TransferKind.CHARGE and on_voucher:
        return "redeemed"
    if kind == TransferKind.REFUND and on_voucher:
        return "restored"
    if kind == TransferKind.EXPIRE and on_voucher:
        return "expired"
    if kind == TransferKind.REFUND and not on_voucher and amount < 0:
        return "clawed_back"
    return None
