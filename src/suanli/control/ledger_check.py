"""The ledger's durable truths checked on the database itself, for operators and their auditors.

Each check is a full read: every transfer balances in each currency; debits equal credits per
currency over the whole ledger; each account's cached balance (`signed_sum`) is the sum of its
entries; each project's kept month spend (ADR 0039) is what its charges and their refunds add up to;
and no voucher holds more than its face value or less than nothing. The caches are moved with the
entries in the same transaction, so a finding means the database was changed outside the service
(or a defect): nothing here repairs it; it says what differs and by how much.
"""

from __future__ import annotations

from typing import Any

from suanli.control.accounts import require_operator
from suanli.control.principal import Principal
from suanli.domain.ledger import balance_of, voucher_account
from suanli.domain.money import Money
from suanli.store import Tx

SHOWN = 50  # findings listed per check; the count says how many there are

CHECKS = (
    ("transfers_balance", "every transfer balances in each currency"),
    ("ledger_balances", "debits equal credits per currency over the whole ledger"),
    ("account_balances", "each account's balance is the sum of its entries"),
    ("month_spends", "each project's month spend is what its charges and refunds add up to"),
    ("vouchers", "no voucher holds more than its face value or less than nothing"),
)


def check(tx: Tx, who: Principal) -> dict[str, Any]:
    """Every check's findings (at most `SHOWN` each, with their count), what was read, and
    `consistent`: no check found anything."""
    require_operator(who)
    found: dict[str, list[str]] = {
        "transfers_balance": [
            f"transfer {t}: its entries sum to {Money(v, c)}, not 0"
            for t, c, v in tx.ledger.unbalanced_transfers()
        ],
        "ledger_balances": [
            f"{c}: all entries sum to {Money(v, c)}, not 0"
            for c, v in sorted(tx.ledger.sums_by_currency().items())
            if v
        ],
        "account_balances": [
            f"account {a}: kept balance {Money(balance_of(a, cached), c)}, its entries make "
            f"{Money(balance_of(a, entries), c)}"
            for a, c, cached, entries in tx.ledger.drifted_accounts()
        ],
        "month_spends": _month_spends(tx),
        "vouchers": _vouchers(tx),
    }
    checks = [
        {
            "name": name,
            "what": what,
            "ok": not found[name],
            "count": len(found[name]),
            "findings": found[name][:SHOWN],
        }
        for name, what in CHECKS
    ]
    return {"consistent": all(c["ok"] for c in checks), "read": tx.ledger.sizes(), "checks": checks}


def _month_spends(tx: Tx) -> list[str]:
    kept, summed = tx.ledger.month_spends(), tx.ledger.month_spends_from_entries()
    return [
        f"project {p}, {m}: kept spend {Money(kept.get((p, c, m), 0), c)}, its charges and refunds "
        f"sum to {Money(summed.get((p, c, m), 0), c)}"
        for p, c, m in sorted(kept.keys() | summed.keys())
        if kept.get((p, c, m), 0) != summed.get((p, c, m), 0)
    ]


def _vouchers(tx: Tx) -> list[str]:
    found = []
    for voucher, (currency, face, signed) in sorted(tx.ledger.voucher_faces().items()):
        holds = balance_of(voucher_account(voucher), signed)
        if not 0 <= holds <= face:
            found.append(
                f"voucher {voucher}: holds {Money(holds, currency)}, its face value is {Money(face, currency)}"
            )
    return found
