"""Budgets, their threshold events, the audit trail, and the usage reads that statements and
settlement are built from."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CursorResult,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from suanli.domain.billing import TENANT_SIDE
from suanli.store.batches import batches, distinct
from suanli.store.tables import (
    AuditEvent,
    Budget,
    BudgetEvent,
    Hold,
    Job,
    LedgerEntry,
    LedgerTransfer,
    UsageRecord,
)

# (hold, transfer kind, account, source, Σ signed amount) and (hold, transfer kind, transfers, first
# and last date): a month's charges and refunds summed per hold (`BillingRepo.hold_sums`)
HoldSum = tuple[str, str, str, str, int]
HoldCount = tuple[str, str, int, datetime, datetime]
# (group key, attempt, records, Σ wall, accelerator and CPU seconds) and (group key, currency, Σ
# charged net of refunds): usage grouped in the database (`BillingRepo.usage_sums`)
UsageSum = tuple[str, str, int, int, int, int]
ChargedSum = tuple[str, str, int]


class BillingRepo:
    def __init__(self, session: Session, *, sqlite: bool) -> None:
        self._s = session
        self._sqlite = sqlite

    # budgets
    def budget(self, project_id: str, month: str) -> Budget | None:
        q = select(Budget).where(Budget.project_id == project_id, Budget.month == month)
        return self._s.scalar(q)

    def budgets(self, *, months: Iterable[str] | None = None) -> list[Budget]:
        q = select(Budget).order_by(Budget.project_id, Budget.month)
        if months is not None:
            q = q.where(Budget.month.in_(list(months)))
        return list(self._s.scalars(q))

    def set_budget(self, project_id: str, month: str, **fields: Any) -> Budget:
        row = self.budget(project_id, month)
        if row is None:
            row = Budget(project_id=project_id, month=month, **fields)
            self._s.add(row)
        else:
            for name, value in fields.items():
                setattr(row, name, value)
        self._s.flush()
        return row

    def budget_events(self, project_ids: Iterable[str], month: str | None = None) -> list[BudgetEvent]:
        q = select(BudgetEvent).where(BudgetEvent.project_id.in_(list(project_ids)))
        if month is not None:
            q = q.where(BudgetEvent.month == month)
        return list(self._s.scalars(q.order_by(BudgetEvent.at, BudgetEvent.id)))

    def add_budget_event(self, **fields: Any) -> bool:
        """Record a threshold once; False when (project, month, threshold) was recorded before,
        also by a concurrent transaction (insert-if-absent on the unique key)."""
        insert = sqlite_insert if self._sqlite else pg_insert
        stmt = (
            insert(BudgetEvent)
            .values(**fields)
            .on_conflict_do_nothing(index_elements=["project_id", "month", "threshold"])
        )
        result: CursorResult[Any] = self._s.execute(stmt)  # type: ignore[assignment]
        return bool(result.rowcount)

    # audit
    def add_audit(self, **fields: Any) -> AuditEvent:
        row = AuditEvent(**fields)
        self._s.add(row)
        self._s.flush()
        return row

    def audit(self, *, action: str | None = None, org_ids: list[str] | None = None) -> list[AuditEvent]:
        q = select(AuditEvent).order_by(AuditEvent.at, AuditEvent.id)
        if action is not None:
            q = q.where(AuditEvent.action == action)
        if org_ids is not None:
            q = q.where(AuditEvent.org_id.in_(org_ids))
        return list(self._s.scalars(q))

    # usage
    def usage_sums(
        self,
        by: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        site_ids: Iterable[str] | None = None,
        org_ids: Iterable[str] | None = None,
        charged: bool = False,
    ) -> tuple[list[UsageSum], list[ChargedSum]]:
        """Usage records received (`recorded_at`) in `[since, until)` on these sites (or of jobs of
        these orgs), grouped in the database by `by` (`project` or `user`: ids; `site`: the
        site's id; `month`: `YYYY-MM` of when it was received, UTC) and attempt: how many and their
        seconds; with `charged`, also what their charges took from tenants, net of refunds of them
        (whenever those were dated), per group and currency. A record's charge is found by its key
        (`once_key`, `usage:<site>:<seq>`) and a refund by the charge's."""
        group = {
            "project": Job.project_id,
            "user": Job.user_id,
            "site": UsageRecord.site_id,
            "month": month_column(UsageRecord.recorded_at, sqlite=self._sqlite),
        }[by]

        def records(q: Any) -> Any:
            q = q.select_from(UsageRecord).join(Job, Job.id == UsageRecord.job_id)
            if since is not None:
                q = q.where(UsageRecord.recorded_at >= since)
            if until is not None:
                q = q.where(UsageRecord.recorded_at < until)
            if site_ids is not None:
                q = q.where(UsageRecord.site_id.in_(list(site_ids)))
            if org_ids is not None:
                q = q.where(Job.org_id.in_(list(org_ids)))
            return q

        seconds = (UsageRecord.wall_seconds, UsageRecord.accelerator_seconds, UsageRecord.cpu_seconds)
        q = records(select(group, UsageRecord.attempt_id, func.count(), *(func.sum(c) for c in seconds)))
        sums = [
            (k, a, int(n), int(w), int(x), int(c))
            for k, a, n, w, x, c in self._s.execute(q.group_by(group, UsageRecord.attempt_id)).tuples()
        ]
        money: list[ChargedSum] = []
        if charged:
            key = literal("usage:") + UsageRecord.site_id + literal(":") + cast(UsageRecord.seq, String)
            charge, refund = aliased(LedgerTransfer), aliased(LedgerTransfer)
            for transfer in (charge, refund):
                q = records(select(group, LedgerEntry.currency, func.sum(LedgerEntry.amount_minor)))
                q = q.join(charge, charge.once_key == key)
                if transfer is refund:
                    q = q.join(refund, refund.once_key == literal("refund-of:") + charge.id)
                q = q.join(LedgerEntry, LedgerEntry.transfer_id == transfer.id).where(tenant_side())
                money += [
                    (k, cur, int(v)) for k, cur, v in self._s.execute(q.group_by(group, LedgerEntry.currency))
                ]
        return sums, money

    def usage_it_may_repeat(self, record: UsageRecord) -> list[UsageRecord]:
        """The attempt's earlier records (lower seq) that may cover the same time as `record`: those
        whose interval meets or overlaps its own, or, for a record missing an end or a start, those
        with the same two. A superset of what `domain.billing.check_sequence` calls a repeat, read
        by the attempt's index of where its records end, not the attempt's whole history."""
        q = select(UsageRecord).where(
            UsageRecord.attempt_id == record.attempt_id, UsageRecord.seq < record.seq
        )
        if record.started_at is None or record.ended_at is None:
            q = q.where(
                UsageRecord.started_at.is_not_distinct_from(record.started_at),
                UsageRecord.ended_at.is_not_distinct_from(record.ended_at),
            )
        else:
            q = q.where(UsageRecord.ended_at >= record.started_at, UsageRecord.started_at <= record.ended_at)
        return list(self._s.scalars(q.order_by(UsageRecord.seq)))

    def usage_at(self, site_id: str, seqs: Iterable[int]) -> list[UsageRecord]:
        """One site's records with these sequence numbers."""
        found = [
            u
            for part in batches(distinct(seqs))
            for u in self._s.scalars(
                select(UsageRecord).where(UsageRecord.site_id == site_id, UsageRecord.seq.in_(part))
            )
        ]
        return sorted(found, key=lambda u: u.seq)

    # a month's charges, summed per hold: what statements and settlements are made of
    def hold_sums(
        self,
        since: datetime | None,
        until: datetime | None,
        *,
        project_ids: Iterable[str] | None = None,
        provider_org_ids: Iterable[str] | None = None,
        hold_ids: Iterable[str] | None = None,
    ) -> tuple[list[HoldSum], list[HoldCount]]:
        """The entries of charges and refunds dated in `[since, until)` (None: ever) of these
        projects' (or providers') holds, or of these holds, summed in the database per hold, transfer kind, account and source; and
        per hold and kind, how many transfers and the first and last date. A refund counts against
        the hold of the charge it reverses. However many charges metering made, the rows are a few
        per hold."""
        charge = aliased(LedgerTransfer)
        sums: list[HoldSum] = []
        counts: list[HoldCount] = []
        for kind, source in (("charge", LedgerTransfer), ("refund", charge)):

            def month(q: Any, source: Any = source, kind: str = kind) -> Any:
                q = q.select_from(LedgerTransfer).where(LedgerTransfer.kind == kind)
                if since is not None:
                    q = q.where(LedgerTransfer.at >= since)
                if until is not None:
                    q = q.where(LedgerTransfer.at < until)
                if source is charge:
                    q = q.join(charge, charge.id == LedgerTransfer.ref)
                if hold_ids is not None:
                    q = q.where(source.ref.in_(list(hold_ids)))
                return _holds_of(q.join(Hold, Hold.id == source.ref), project_ids, provider_org_ids)

            total = func.sum(LedgerEntry.amount_minor)
            q = month(select(Hold.id, LedgerEntry.account_id, LedgerEntry.source, total))
            q = q.join(LedgerEntry, LedgerEntry.transfer_id == LedgerTransfer.id)
            q = q.group_by(Hold.id, LedgerEntry.account_id, LedgerEntry.source)
            sums += [(h, kind, a, src, int(v)) for h, a, src, v in self._s.execute(q).tuples()]
            q = month(select(Hold.id, func.count(), func.min(LedgerTransfer.at), func.max(LedgerTransfer.at)))
            counts += [
                (h, kind, int(n), a, b) for h, n, a, b in self._s.execute(q.group_by(Hold.id)).tuples()
            ]
        return sums, counts

    def charged_usage(
        self,
        since: datetime,
        until: datetime,
        *,
        project_ids: Iterable[str] | None = None,
        provider_org_ids: Iterable[str] | None = None,
    ) -> dict[str, tuple[int, int, int]]:
        """Σ (wall, accelerator, CPU seconds) of the usage records charged by the charges dated in
        `[since, until)` of these projects' (or providers') holds, per hold, summed in the database.
        A charge names its record by its `once_key`, `usage:<site>:<seq>`: the record is found by
        the site's sequence number read from it (the site's index), and the key checked whole."""
        number = func.substr(LedgerTransfer.once_key, func.length(Hold.site_id) + len("usage::") + 1)
        seq = case((LedgerTransfer.once_key.like("usage:%"), cast(number, BigInteger)), else_=None)
        key = literal("usage:") + UsageRecord.site_id + literal(":") + cast(UsageRecord.seq, String)
        q = (
            select(
                Hold.id,
                func.sum(UsageRecord.wall_seconds),
                func.sum(UsageRecord.accelerator_seconds),
                func.sum(UsageRecord.cpu_seconds),
            )
            .select_from(LedgerTransfer)
            .join(Hold, Hold.id == LedgerTransfer.ref)
            .join(UsageRecord, and_(UsageRecord.site_id == Hold.site_id, UsageRecord.seq == seq))
            .where(
                LedgerTransfer.kind == "charge",
                LedgerTransfer.at >= since,
                LedgerTransfer.at < until,
                LedgerTransfer.once_key == key,
            )
            .group_by(Hold.id)
        )
        q = _holds_of(q, project_ids, provider_org_ids)
        return {h: (int(w or 0), int(a or 0), int(c or 0)) for h, w, a, c in self._s.execute(q).tuples()}

    def voucher_sums(self, account_ids: Iterable[str]) -> list[tuple[str, str, str, bool, str | None, int]]:
        """The entries on these (voucher and programme) accounts summed in the database per transfer
        kind, account, source, sign and provider (the org of the hold a charge was taken under, or
        of the refunded charge's): (kind, account, source, credit, provider, Σ amount). What a
        programme's report is made of, however many charges its vouchers paid a part of."""
        ids = list(account_ids)
        if not ids:
            return []
        charge, by_charge, by_refund = aliased(LedgerTransfer), aliased(Hold), aliased(Hold)
        credit = LedgerEntry.amount_minor < 0
        provider = func.coalesce(by_charge.provider_org_id, by_refund.provider_org_id)
        keys = (LedgerTransfer.kind, LedgerEntry.account_id, LedgerEntry.source, credit, provider)
        q = (
            select(*keys, func.sum(LedgerEntry.amount_minor))
            .select_from(LedgerEntry)
            .join(LedgerTransfer, LedgerTransfer.id == LedgerEntry.transfer_id)
            .outerjoin(by_charge, (LedgerTransfer.kind == "charge") & (by_charge.id == LedgerTransfer.ref))
            .outerjoin(charge, (LedgerTransfer.kind == "refund") & (charge.id == LedgerTransfer.ref))
            .outerjoin(by_refund, by_refund.id == charge.ref)
            .where(LedgerEntry.account_id.in_(ids))
            .group_by(*keys)
        )
        return [(k, a, src, bool(c), p, int(v)) for k, a, src, c, p, v in self._s.execute(q).tuples()]


def _holds_of(q: Any, project_ids: Iterable[str] | None, provider_org_ids: Iterable[str] | None) -> Any:
    """`q` kept to the holds of these projects (or of these providers' sites)."""
    if project_ids is not None:
        q = q.where(Hold.project_id.in_(list(project_ids)))
    if provider_org_ids is not None:
        q = q.where(Hold.provider_org_id.in_(list(provider_org_ids)))
    return q


def month_column(at: Any, *, sqlite: bool) -> ColumnElement[str]:
    """`YYYY-MM` of a stored instant, in UTC, as the database computes it."""
    if sqlite:
        return func.strftime("%Y-%m", at)
    return func.to_char(func.timezone("UTC", at), "YYYY-MM")


def tenant_side() -> ColumnElement[bool]:
    """A ledger entry on a tenant-side account (cash, vouchers, arrears, a voucher programme)."""
    return or_(*(LedgerEntry.account_id.like(f"{kind.value}:%") for kind in sorted(TENANT_SIDE)))
