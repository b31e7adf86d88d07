"""Ledger persistence: accounts, append-only transfers and entries, holds, price book versions,
voucher programmes, vouchers and provider relations.

Transfers and entries are only ever inserted: this repository has no way to change or delete them.
`post` writes a transfer with its entries and moves the accounts' cached `signed_sum` in the same
transaction, locking the accounts in id order (so posters cannot deadlock); a charge or a refund also
moves its project's `month_spend` (ADR 0039).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy import insert as insert_rows
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from suanli.domain.billing import TENANT_SIDE, month_of
from suanli.domain.ledger import PastCharge, Transfer, TransferKind, account_kind
from suanli.store.batches import batches, distinct
from suanli.store.errors import Conflict
from suanli.store.ids import new_id
from suanli.store.ledger_checks import LedgerChecks
from suanli.store.tables import (
    Attempt,
    Hold,
    LedgerAccount,
    LedgerEntry,
    LedgerTransfer,
    MonthSpend,
    PriceVersion,
    ProviderRelation,
    VoucherGrant,
    VoucherProgramme,
)

_BIGINT = 2**63 - 1  # the largest balance a BigInteger column keeps (SQLite and PostgreSQL alike)


class LedgerRepo(LedgerChecks):
    def __init__(self, session: Session, *, sqlite: bool) -> None:
        self._s = session
        self._sqlite = sqlite

    # accounts
    def account(self, account_id: str) -> LedgerAccount | None:
        return self._s.get(LedgerAccount, account_id)

    def sums(self, ids: Iterable[str]) -> dict[str, int]:
        """The accounts' signed sums as the database holds them now (not a row this transaction
        read earlier); an account that does not exist is left out."""
        wanted = list(ids)
        if not wanted:
            return {}
        q = select(LedgerAccount.id, LedgerAccount.signed_sum).where(LedgerAccount.id.in_(wanted))
        return {a: int(v) for a, v in self._s.execute(q).tuples()}

    def lock_accounts(self, ids: Iterable[str], currency: str, now: datetime) -> dict[str, LedgerAccount]:
        """The accounts, created at zero when new, row-locked in id order (FOR UPDATE on PostgreSQL)."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        # Two transactions may open the same new account at once: insert-if-absent, then lock.
        insert = sqlite_insert if self._sqlite else pg_insert
        rows = [
            {"id": a, "kind": account_kind(a).value, "currency": currency, "credit_limit_minor": 0,
             "signed_sum": 0, "created_at": now}
            for a in wanted
        ]  # fmt: skip
        self._s.execute(insert(LedgerAccount).values(rows).on_conflict_do_nothing(index_elements=["id"]))
        q = select(LedgerAccount).where(LedgerAccount.id.in_(wanted)).order_by(LedgerAccount.id)
        if not self._sqlite:
            q = q.with_for_update()
        # populate_existing: a row read earlier in this transaction is refreshed under the lock.
        return {a.id: a for a in self._s.scalars(q.execution_options(populate_existing=True))}

    def accounts(self, prefix: str) -> list[LedgerAccount]:
        q = select(LedgerAccount).where(LedgerAccount.id.startswith(prefix)).order_by(LedgerAccount.id)
        return list(self._s.scalars(q))

    # transfers
    def transfer(self, transfer_id: str) -> LedgerTransfer | None:
        return self._s.get(LedgerTransfer, transfer_id)

    def transfers_by_ids(self, transfer_ids: Iterable[str]) -> list[LedgerTransfer]:
        found = [
            t
            for part in batches(distinct(transfer_ids))
            for t in self._s.scalars(select(LedgerTransfer).where(LedgerTransfer.id.in_(part)))
        ]
        return sorted(found, key=lambda t: (t.at, t.id))

    def charge_of_usage(self, usage_key: str) -> LedgerTransfer | None:
        return self._s.scalar(select(LedgerTransfer).where(LedgerTransfer.once_key == usage_key))

    def post(self, transfer: Transfer, created_by: str) -> LedgerTransfer:
        """Append a balanced transfer and move its accounts' balances (callers check it balances)."""
        self.post_many([transfer], created_by)
        row = self._s.get(LedgerTransfer, transfer.id)
        assert row is not None
        return row

    def post_many(self, transfers: Sequence[Transfer], created_by: str) -> None:
        """`post` for many transfers at once, as if one after the other: their accounts locked once
        (per currency, in id order), their rows written by two executemany inserts (not an ORM object
        a row), the month spends moved once per project and month. A refund of a job metered for a
        month reverses thousands of charges."""
        by_currency: dict[str, set[str]] = defaultdict(set)
        for t in transfers:
            if t.entries:
                by_currency[t.entries[0].currency] |= {e.account for e in t.entries}
        at = min((t.at for t in transfers), default=None)
        accounts: dict[str, LedgerAccount] = {}
        for currency in sorted(by_currency):
            assert at is not None
            accounts |= self.lock_accounts(by_currency[currency], currency, at)
        rows = [
            dict(id=t.id, kind=t.kind.value, ref=t.ref, once_key=t.once_key, at=t.at, created_by=created_by)
            for t in transfers
        ]
        lines = []
        for t in transfers:
            for e in t.entries:
                lines.append({"transfer_id": t.id, "account_id": e.account, "amount_minor": e.amount,
                              "currency": e.currency, "source": e.source})  # fmt: skip
                moved = accounts[e.account].signed_sum + e.amount
                if abs(moved) > _BIGINT:  # refused whole: nothing of the transfers is written
                    raise Conflict(f"account {e.account}'s balance would pass the largest the ledger keeps")
                accounts[e.account].signed_sum = moved
        if rows:
            self._s.execute(insert_rows(LedgerTransfer), rows)
        if lines:
            self._s.execute(insert_rows(LedgerEntry), lines)
        self._count_spend([t for t in transfers if t.kind in (TransferKind.CHARGE, TransferKind.REFUND)])
        self._s.flush()

    def _count_spend(self, transfers: Sequence[Transfer]) -> None:
        """Move the month's spend of the project whose hold each charge (or each refund's charge)
        was taken under by the transfer's tenant-side lines (what `domain.billing.parts_of` reads as
        charged): insert-or-add, so two transactions opening the same month cannot both insert."""
        refunded = [t.ref for t in transfers if t.kind is TransferKind.REFUND]
        charge_hold = {
            c: h
            for part in batches(distinct(refunded))
            for c, h in self._s.execute(
                select(LedgerTransfer.id, LedgerTransfer.ref).where(LedgerTransfer.id.in_(part))
            ).tuples()
        }
        hold_of = {
            t.id: charge_hold.get(t.ref, "") if t.kind is TransferKind.REFUND else t.ref for t in transfers
        }
        holds = {h.id: h for h in self.holds(set(hold_of.values()))}
        spends: dict[tuple[str, str, str], int] = defaultdict(int)
        for t in transfers:
            spend = sum(e.amount for e in t.entries if account_kind(e.account) in TENANT_SIDE)
            hold = holds.get(hold_of[t.id])
            if spend and hold is not None:
                spends[(hold.project_id, hold.currency, month_of(t.at))] += spend
        insert = sqlite_insert if self._sqlite else pg_insert
        for (project_id, currency, month), spend in sorted(spends.items()):
            if not spend:
                continue
            row = insert(MonthSpend).values(
                project_id=project_id, currency=currency, month=month, charged_minor=spend
            )
            self._s.execute(
                row.on_conflict_do_update(
                    index_elements=["project_id", "currency", "month"],
                    set_={"charged_minor": MonthSpend.charged_minor + row.excluded.charged_minor},
                )
            )

    def past_charges(self, ref: str, boundaries: Iterable[datetime] = ()) -> list[PastCharge]:
        """The charges posted under `ref` (a hold), summed in the database over each stretch of time
        between consecutive `boundaries` (the vouchers' validity bounds): when (the stretch's first
        charge), how much, and what each voucher paid. Which side of each boundary a charge falls on
        is all `domain.ledger.voucher_before` asks of it, so the sums answer as the charges one by
        one would, in a few rows however long the hold has been metered."""
        bounds = sorted(set(boundaries))
        stretch: Any = literal(0)
        if bounds:
            stretch = case(*((LedgerTransfer.at < b, i) for i, b in enumerate(bounds)), else_=len(bounds))
        debits = (
            select(
                stretch.label("stretch"),
                LedgerEntry.account_id.label("account"),
                LedgerEntry.amount_minor.label("amount"),
                LedgerTransfer.at.label("at"),
            )
            .select_from(LedgerTransfer)
            .join(LedgerEntry, LedgerEntry.transfer_id == LedgerTransfer.id)
            .where(
                LedgerTransfer.ref == ref,
                LedgerTransfer.kind == TransferKind.CHARGE.value,
                LedgerEntry.amount_minor > 0,
            )
            .subquery()
        )
        q = select(
            debits.c.stretch, debits.c.account, func.sum(debits.c.amount), func.min(debits.c.at)
        ).group_by(debits.c.stretch, debits.c.account)
        first: dict[int, datetime] = {}
        amounts: dict[int, int] = defaultdict(int)
        parts: dict[int, dict[str, int]] = defaultdict(dict)
        for n, account, amount, at in self._s.execute(q).tuples():
            first[n] = min(first.get(n, at), at)
            amounts[n] += int(amount)
            if account.startswith("voucher:"):
                voucher_id = account.split(":", 1)[1]
                parts[n][voucher_id] = parts[n].get(voucher_id, 0) + int(amount)
        return [PastCharge(first[n], amounts[n], parts.get(n, {})) for n in sorted(first)]

    def entries(self, transfer_ids: Iterable[str]) -> list[LedgerEntry]:
        """These transfers' entries, in the order they were written."""
        found = [
            e
            for part in batches(distinct(transfer_ids))
            for e in self._s.scalars(select(LedgerEntry).where(LedgerEntry.transfer_id.in_(part)))
        ]
        return sorted(found, key=lambda e: e.id)

    def entry_lines(self, transfer_ids: Iterable[str]) -> list[tuple[str, str, int, str, str]]:
        """(transfer, account, signed amount, source, currency) of these transfers' entries, in the
        order they were written: `entries` as plain rows, for readers of a month's many charges."""
        cols = (LedgerEntry.id, LedgerEntry.transfer_id, LedgerEntry.account_id, LedgerEntry.amount_minor,
                LedgerEntry.source, LedgerEntry.currency)  # fmt: skip
        found = [
            row
            for part in batches(distinct(transfer_ids))
            for row in self._s.execute(select(*cols).where(LedgerEntry.transfer_id.in_(part))).tuples()
        ]
        return [(t, a, int(v), src, cur) for _, t, a, v, src, cur in sorted(found)]

    def transfers(
        self, *, kinds: Iterable[str] | None = None, refs: Iterable[str] | None = None
    ) -> list[LedgerTransfer]:
        q = select(LedgerTransfer).order_by(LedgerTransfer.at, LedgerTransfer.id)
        if kinds is not None:
            q = q.where(LedgerTransfer.kind.in_(list(kinds)))
        if refs is not None:
            q = q.where(LedgerTransfer.ref.in_(list(refs)))
        return list(self._s.scalars(q))

    def entries_of_accounts(self, account_ids: Iterable[str]) -> list[tuple[LedgerEntry, LedgerTransfer]]:
        q = (
            select(LedgerEntry, LedgerTransfer)
            .join(LedgerTransfer, LedgerTransfer.id == LedgerEntry.transfer_id)
            .where(LedgerEntry.account_id.in_(list(account_ids)))
            .order_by(LedgerEntry.id)
        )
        return [(e, t) for e, t in self._s.execute(q).tuples()]

    def transfers_between(
        self, since: datetime, until: datetime, *, kinds: Iterable[str], refs: Iterable[str]
    ) -> list[LedgerTransfer]:
        """Transfers of these kinds and refs with `since <= at < until`, oldest first."""
        refs = list(refs)
        if not refs:
            return []
        q = (
            select(LedgerTransfer)
            .where(
                LedgerTransfer.kind.in_(list(kinds)),
                LedgerTransfer.ref.in_(refs),
                LedgerTransfer.at >= since,
                LedgerTransfer.at < until,
            )
            .order_by(LedgerTransfer.at, LedgerTransfer.id)
        )
        return list(self._s.scalars(q))

    def month_spent(self, project_id: str, currency: str, month: str) -> int:
        """What the project's charges in `currency` dated in `month` (`YYYY-MM`, UTC) took from its
        funding sources, net of the refunds dated then (`MonthSpend`, kept by `post`)."""
        q = select(MonthSpend.charged_minor).where(
            MonthSpend.project_id == project_id, MonthSpend.currency == currency, MonthSpend.month == month
        )
        return int(self._s.scalar(q) or 0)

    def sums_between(self, account_ids: Iterable[str], since: datetime, until: datetime) -> dict[str, int]:
        """Σ signed entries on these accounts of transfers dated in `[since, until)`, per currency,
        summed in the database."""
        ids = list(account_ids)
        if not ids:
            return {}
        q = (
            select(LedgerEntry.currency, func.sum(LedgerEntry.amount_minor))
            .join(LedgerTransfer, LedgerTransfer.id == LedgerEntry.transfer_id)
            .where(LedgerEntry.account_id.in_(ids), LedgerTransfer.at >= since, LedgerTransfer.at < until)
            .group_by(LedgerEntry.currency)
        )
        return {c: int(v or 0) for c, v in self._s.execute(q).tuples()}

    def charged_keys(self, keys: Iterable[str]) -> set[str]:
        """Those of these keys a charge (or refund) was posted under."""
        return {
            k
            for part in batches(distinct(keys))
            for k in self._s.scalars(select(LedgerTransfer.once_key).where(LedgerTransfer.once_key.in_(part)))
            if k is not None
        }

    def charges_by_once_key(self, keys: Iterable[str]) -> dict[str, LedgerTransfer]:
        """The charges (or refunds) posted once under each of these keys, by key."""
        return {
            t.once_key: t
            for part in batches(distinct(keys))
            for t in self._s.scalars(select(LedgerTransfer).where(LedgerTransfer.once_key.in_(part)))
            if t.once_key is not None
        }

    def signed_sum_before(self, account_id: str, at: datetime) -> int:
        """The account's signed sum over transfers dated before `at` (its balance then)."""
        q = (
            select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0))
            .join(LedgerTransfer, LedgerTransfer.id == LedgerEntry.transfer_id)
            .where(LedgerEntry.account_id == account_id, LedgerTransfer.at < at)
        )
        return int(self._s.scalar(q) or 0)

    def sums_by_currency(self) -> dict[str, int]:
        """Σ signed entries per currency over the whole ledger: zero for every currency when it balances."""
        q = select(LedgerEntry.currency, func.sum(LedgerEntry.amount_minor)).group_by(LedgerEntry.currency)
        return {c: int(s or 0) for c, s in self._s.execute(q).tuples()}

    # holds
    def hold(self, hold_id: str, *, lock: bool = False) -> Hold | None:
        if lock and not self._sqlite:
            return self._s.scalar(select(Hold).where(Hold.id == hold_id).with_for_update())
        return self._s.get(Hold, hold_id)

    def held_attempts(self, attempt_ids: Iterable[str]) -> set[str]:
        """Those of these attempts that took a hold (ran on a priced pool)."""
        return {
            a
            for part in batches(distinct(attempt_ids))
            for a in self._s.scalars(select(Hold.attempt_id).where(Hold.attempt_id.in_(part)))
            if a is not None
        }

    def add_hold(self, *, flush: bool = True, **fields: Any) -> Hold:
        """A new hold; without `flush` it is written at the transaction's next flush (a caller
        adding many writes them together)."""
        hold = Hold(**fields)
        self._s.add(hold)
        if flush:
            self._s.flush()
        return hold

    def holds(self, hold_ids: Iterable[str]) -> list[Hold]:
        found = [
            h
            for part in batches(distinct(hold_ids))
            for h in self._s.scalars(select(Hold).where(Hold.id.in_(part)))
        ]
        return sorted(found, key=lambda h: h.id)

    def open_holds(self, project_id: str, currency: str) -> list[Hold]:
        q = select(Hold).where(Hold.project_id == project_id, Hold.currency == currency, Hold.state == "open")
        return list(self._s.scalars(q))

    def open_holds_of_org(self, org_id: str, currency: str) -> list[Hold]:
        q = select(Hold).where(Hold.org_id == org_id, Hold.currency == currency, Hold.state == "open")
        return list(self._s.scalars(q))

    def open_attempt_holds(self, attempt_states: Iterable[str]) -> list[tuple[Hold, Attempt]]:
        """Open holds of attempts in these states, with the attempt (what the loop watches)."""
        q = (
            select(Hold, Attempt)
            .join(Attempt, Attempt.id == Hold.attempt_id)
            .where(Hold.state == "open", Attempt.state.in_(list(attempt_states)))
            .order_by(Hold.id)
        )
        return [(h, a) for h, a in self._s.execute(q).tuples()]

    # price books
    def add_price_version(self, **fields: Any) -> PriceVersion:
        version = PriceVersion(id=new_id("prv"), **fields)
        self._s.add(version)
        self._s.flush()
        return version

    def price_version(self, version_id: str) -> PriceVersion | None:
        return self._s.get(PriceVersion, version_id)

    def price_versions(self, pool_ids: Iterable[str]) -> list[PriceVersion]:
        q = (
            select(PriceVersion)
            .where(PriceVersion.pool_id.in_(list(pool_ids)))
            .order_by(PriceVersion.pool_id, PriceVersion.version)
        )
        return list(self._s.scalars(q))

    def price_currencies(self) -> set[str]:
        """Every currency a price book version on the network was ever written in."""
        return set(self._s.scalars(select(PriceVersion.currency).distinct()))

    # vouchers
    def add_programme(
        self, name: str, issuer: str, currency: str, budget_minor: int, now: datetime
    ) -> VoucherProgramme:
        programme = VoucherProgramme(
            id=new_id("vpg"),
            name=name,
            issuer=issuer,
            currency=currency,
            budget_minor=budget_minor,
            created_at=now,
        )
        self._s.add(programme)
        self._s.flush()
        return programme

    def programme(self, programme_id: str) -> VoucherProgramme | None:
        return self._s.get(VoucherProgramme, programme_id)

    def programme_by_name(self, name: str, *, lock: bool = False) -> VoucherProgramme | None:
        q = select(VoucherProgramme).where(VoucherProgramme.name == name)
        if lock and not self._sqlite:
            q = q.with_for_update()
        return self._s.scalar(q)

    def programmes(self) -> list[VoucherProgramme]:
        return list(self._s.scalars(select(VoucherProgramme).order_by(VoucherProgramme.name)))

    def add_voucher(self, **fields: Any) -> VoucherGrant:
        voucher = VoucherGrant(id=new_id("vch"), expired_at=None, **fields)
        self._s.add(voucher)
        self._s.flush()
        return voucher

    def voucher(self, voucher_id: str) -> VoucherGrant | None:
        return self._s.get(VoucherGrant, voucher_id)

    def vouchers_by_ids(self, voucher_ids: Iterable[str], fresh: bool = False) -> list[VoucherGrant]:
        """These voucher grants, in id order; `fresh`: read again from the database (a sweep may have
        written one off since this transaction first read it)."""
        ids = sorted(set(voucher_ids))
        if not ids:
            return []
        q = select(VoucherGrant).where(VoucherGrant.id.in_(ids)).order_by(VoucherGrant.id)
        if fresh:
            q = q.execution_options(populate_existing=True)
        return list(self._s.scalars(q))

    def vouchers(
        self, *, org_id: str | None = None, programme_id: str | None = None, live: bool = False
    ) -> list[VoucherGrant]:
        q = select(VoucherGrant).order_by(VoucherGrant.valid_until, VoucherGrant.id)
        if org_id is not None:
            q = q.where(VoucherGrant.org_id == org_id)
        if programme_id is not None:
            q = q.where(VoucherGrant.programme_id == programme_id)
        if live:
            q = q.where(VoucherGrant.expired_at.is_(None))
        return list(self._s.scalars(q))

    def issued(self, programme_id: str) -> int:
        q = select(func.coalesce(func.sum(VoucherGrant.face_minor), 0)).where(
            VoucherGrant.programme_id == programme_id
        )
        return int(self._s.scalar(q) or 0)

    # relations
    def relate(self, org_id: str, provider_org_id: str, note: str, now: datetime) -> ProviderRelation:
        row = ProviderRelation(org_id=org_id, provider_org_id=provider_org_id, note=note, created_at=now)
        self._s.add(row)
        self._s.flush()
        return row

    def relations(self) -> frozenset[tuple[str, str]]:
        q = select(ProviderRelation.org_id, ProviderRelation.provider_org_id)
        return frozenset((a, b) for a, b in self._s.execute(q).tuples())
