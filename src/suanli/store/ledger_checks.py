"""The ledger's own consistency, read back for `control.ledger_check` (`suanli ledger check`):
each a full read of a table, for operators; part of `LedgerRepo`."""

from __future__ import annotations

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session, aliased

from suanli.domain.ledger import voucher_account
from suanli.store.billing import month_column, tenant_side
from suanli.store.tables import Hold, LedgerAccount, LedgerEntry, LedgerTransfer, MonthSpend, VoucherGrant


class LedgerChecks:
    _s: Session
    _sqlite: bool

    def sizes(self) -> dict[str, int]:
        """How many transfers, entries, accounts, month spends and vouchers the ledger holds."""
        tables = {
            "transfers": LedgerTransfer,
            "entries": LedgerEntry,
            "accounts": LedgerAccount,
            "month_spends": MonthSpend,
            "vouchers": VoucherGrant,
        }
        return {
            name: int(self._s.scalar(select(func.count()).select_from(t)) or 0) for name, t in tables.items()
        }

    def unbalanced_transfers(self) -> list[tuple[str, str, int]]:
        """(transfer, currency, Σ signed entries) of every transfer whose entries do not sum to zero
        in a currency."""
        total = func.sum(LedgerEntry.amount_minor)
        q = (
            select(LedgerEntry.transfer_id, LedgerEntry.currency, total)
            .group_by(LedgerEntry.transfer_id, LedgerEntry.currency)
            .having(total != 0)
            .order_by(LedgerEntry.transfer_id)
        )
        return [(t, c, int(v)) for t, c, v in self._s.execute(q).tuples()]

    def drifted_accounts(self) -> list[tuple[str, str, int, int]]:
        """(account, currency, cached `signed_sum`, Σ its entries) of every account where the two differ."""
        sums = (
            select(LedgerEntry.account_id.label("account"), func.sum(LedgerEntry.amount_minor).label("total"))
            .group_by(LedgerEntry.account_id)
            .subquery()
        )
        total = func.coalesce(sums.c.total, 0)
        q = (
            select(LedgerAccount.id, LedgerAccount.currency, LedgerAccount.signed_sum, total)
            .outerjoin(sums, sums.c.account == LedgerAccount.id)
            .where(LedgerAccount.signed_sum != total)
            .order_by(LedgerAccount.id)
        )
        return [(a, c, int(cached), int(found)) for a, c, cached, found in self._s.execute(q).tuples()]

    def month_spends(self) -> dict[tuple[str, str, str], int]:
        """Every kept month spend (`MonthSpend`) by (project, currency, month)."""
        q = select(MonthSpend.project_id, MonthSpend.currency, MonthSpend.month, MonthSpend.charged_minor)
        return {(p, c, m): int(v) for p, c, m, v in self._s.execute(q).tuples()}

    def month_spends_from_entries(self) -> dict[tuple[str, str, str], int]:
        """What each month spend sums to from the ledger itself: per project, currency and month of
        the transfer's date (UTC), the tenant-side lines of its charges and of refunds of them."""
        month = month_column(LedgerTransfer.at, sqlite=self._sqlite)
        charge = aliased(LedgerTransfer)
        found: dict[tuple[str, str, str], int] = {}
        for kind, hold_ref in (("charge", LedgerTransfer.ref), ("refund", charge.ref)):
            q = (
                select(Hold.project_id, Hold.currency, month, func.sum(LedgerEntry.amount_minor))
                .select_from(LedgerTransfer)
                .join(LedgerEntry, LedgerEntry.transfer_id == LedgerTransfer.id)
            )
            if kind == "refund":
                q = q.join(charge, charge.id == LedgerTransfer.ref)
            q = (
                q.join(Hold, Hold.id == hold_ref)
                .where(LedgerTransfer.kind == kind, tenant_side())
                .group_by(Hold.project_id, Hold.currency, month)
            )
            for p, c, m, v in self._s.execute(q).tuples():
                found[(p, c, m)] = found.get((p, c, m), 0) + int(v)
        return {key: v for key, v in found.items() if v}

    def voucher_faces(self) -> dict[str, tuple[str, int, int]]:
        """Each voucher grant's (currency, face value, the signed sum of its account; 0 if none yet)."""
        q = select(
            VoucherGrant.id, VoucherGrant.currency, VoucherGrant.face_minor, LedgerAccount.signed_sum
        ).outerjoin(LedgerAccount, LedgerAccount.id == literal(voucher_account("")) + VoucherGrant.id)
        return {v: (c, int(face), int(signed or 0)) for v, c, face, signed in self._s.execute(q).tuples()}
