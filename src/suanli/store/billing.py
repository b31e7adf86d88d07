"""Budgets, their threshold events, the audit trail, and the usage reads that statements and
settlement are built from."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from suanli.store.batches import batches, distinct
from suanli.store.tables import Attempt, AuditEvent, Budget, BudgetEvent, Job, UsageRecord


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
    def usage(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        site_ids: Iterable[str] | None = None,
        org_ids: Iterable[str] | None = None,
    ) -> list[tuple[UsageRecord, Job, Attempt]]:
        """Usage records received (`recorded_at`) in `[since, until)`, with their job and attempt,
        in site and sequence order."""
        q = (
            select(UsageRecord, Job, Attempt)
            .join(Job, Job.id == UsageRecord.job_id)
            .join(Attempt, Attempt.id == UsageRecord.attempt_id)
            .order_by(UsageRecord.site_id, UsageRecord.seq)
        )
        if since is not None:
            q = q.where(UsageRecord.recorded_at >= since)
        if until is not None:
            q = q.where(UsageRecord.recorded_at < until)
        if site_ids is not None:
            q = q.where(UsageRecord.site_id.in_(list(site_ids)))
        if org_ids is not None:
            q = q.where(Job.org_id.in_(list(org_ids)))
        return [(u, j, a) for u, j, a in self._s.execute(q).tuples()]

    def usage_of_attempts(
        self, attempt_ids: Iterable[str], *, before: datetime | None = None
    ) -> list[UsageRecord]:
        """These attempts' records (received before `before`): what a later record may repeat."""
        found: list[UsageRecord] = []
        for part in batches(distinct(attempt_ids)):
            q = select(UsageRecord).where(UsageRecord.attempt_id.in_(part))
            if before is not None:
                q = q.where(UsageRecord.recorded_at < before)
            found += self._s.scalars(q)
        return sorted(found, key=lambda u: (u.site_id, u.seq))

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

    def usage_amounts_at(self, site_id: str, seqs: Iterable[int]) -> list[tuple[int, str, int, int, int]]:
        """`usage_at` as plain rows: (seq, attempt, wall, accelerator and CPU seconds), by seq."""
        cols = (UsageRecord.seq, UsageRecord.attempt_id, UsageRecord.wall_seconds,
                UsageRecord.accelerator_seconds, UsageRecord.cpu_seconds)  # fmt: skip
        found = [
            row
            for part in batches(distinct(seqs))
            for row in self._s.execute(
                select(*cols).where(UsageRecord.site_id == site_id, UsageRecord.seq.in_(part))
            ).tuples()
        ]
        return sorted(found)

    def usage_seqs(self, site_id: str, *, above: int, upto: int) -> set[int]:
        """The site's sequence numbers in `(above, upto]`, whenever they were received."""
        q = select(UsageRecord.seq).where(
            UsageRecord.site_id == site_id, UsageRecord.seq > above, UsageRecord.seq <= upto
        )
        return set(self._s.scalars(q))

    def max_seq_before(self, site_id: str, at: datetime) -> int:
        q = select(func.max(UsageRecord.seq)).where(
            UsageRecord.site_id == site_id, UsageRecord.recorded_at < at
        )
        return int(self._s.scalar(q) or 0)
