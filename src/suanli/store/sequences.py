"""A site's usage sequence over a month, read the way settlement checks it: counted, its gaps
found and the records that may repeat another narrowed down in the database, so that settlement
reads, of a month of metering, only what it flags (ADR 0040)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, case, cast, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from suanli.store.batches import batches, distinct
from suanli.store.tables import Hold, LedgerTransfer, UsageRecord

# (seq, attempt, job, started, ended, recorded, wall seconds): a record as settlement reads it
UsageRow = tuple[int, str, str, datetime | None, datetime | None, datetime, int]

_ROW = (
    UsageRecord.seq,
    UsageRecord.attempt_id,
    UsageRecord.job_id,
    UsageRecord.started_at,
    UsageRecord.ended_at,
    UsageRecord.recorded_at,
    UsageRecord.wall_seconds,
)


def _rows(result: Any) -> list[UsageRow]:
    return [(int(n), a, j, b, e, r, int(w)) for n, a, j, b, e, r, w in result]


class SequenceRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def _month(self, site_id: str, since: datetime, until: datetime) -> Any:
        return (
            UsageRecord.site_id == site_id,
            UsageRecord.recorded_at >= since,
            UsageRecord.recorded_at < until,
        )

    def max_seq_before(self, site_id: str, at: datetime) -> int:
        """The site's highest number received before `at` (0: none)."""
        q = select(func.max(UsageRecord.seq)).where(
            UsageRecord.site_id == site_id, UsageRecord.recorded_at < at
        )
        return int(self._s.scalar(q) or 0)

    def summary(
        self, site_id: str, *, since: datetime, until: datetime
    ) -> tuple[int, int | None, datetime | None]:
        """The site's records received in `[since, until)`: how many, the highest number, and the
        earliest start among them (what an earlier record must reach to be repeated)."""
        q = select(func.count(), func.max(UsageRecord.seq), func.min(UsageRecord.started_at))
        n, top, first = self._s.execute(q.where(*self._month(site_id, since, until))).one()
        return int(n), (int(top) if top is not None else None), first

    def gaps(self, site_id: str, *, above: int, upto: int) -> list[tuple[int, int]]:
        """Runs `(first, last)` of the site's numbers in `(above, upto]` never received (whenever the
        others were), in order: each number's predecessor read in the database."""
        if upto <= above:
            return []
        prev = func.coalesce(func.lag(UsageRecord.seq).over(order_by=UsageRecord.seq), above)
        numbers = (
            select(UsageRecord.seq.label("seq"), prev.label("prev"))
            .where(UsageRecord.site_id == site_id, UsageRecord.seq > above, UsageRecord.seq <= upto)
            .subquery()
        )
        q = select(numbers.c.prev + 1, numbers.c.seq - 1).where(numbers.c.seq > numbers.c.prev + 1)
        found = [(int(a), int(b)) for a, b in self._s.execute(q.order_by(numbers.c.seq)).tuples()]
        top = self._s.scalar(
            select(func.max(UsageRecord.seq)).where(
                UsageRecord.site_id == site_id, UsageRecord.seq > above, UsageRecord.seq <= upto
            )
        )
        last = int(top) if top is not None else above
        return found + ([(last + 1, upto)] if last < upto else [])

    def _candidates(self, site_id: str, since: datetime, until: datetime, reaching: datetime | None) -> Any:
        """The month's records and, of the same attempts, the earlier ones that may be repeated
        (ending at `reaching` or later, or missing a time), each with the latest end among the
        records it comes after as `check_sequence` sees them: every earlier one, then the month's
        by number."""
        attempts = select(UsageRecord.attempt_id).where(*self._month(site_id, since, until))
        earlier = UsageRecord.recorded_at < since
        reach = or_(UsageRecord.ended_at.is_(None), UsageRecord.started_at.is_(None))
        if reaching is not None:
            reach = or_(reach, UsageRecord.ended_at >= reaching)
        before = func.max(UsageRecord.ended_at).over(
            partition_by=UsageRecord.attempt_id,
            order_by=(case((earlier, 0), else_=1), UsageRecord.seq),
            rows=(None, -1),
        )
        return (
            select(
                UsageRecord.attempt_id.label("attempt"),
                UsageRecord.started_at.label("started"),
                UsageRecord.ended_at.label("ended"),
                (~earlier).label("in_month"),
                before.label("before"),
            )
            .where(
                UsageRecord.site_id == site_id,
                UsageRecord.recorded_at < until,
                or_(UsageRecord.recorded_at >= since, UsageRecord.attempt_id.in_(attempts) & reach),
            )
            .subquery()
        )

    def may_repeat(
        self, site_id: str, *, since: datetime, until: datetime, reaching: datetime | None
    ) -> set[str]:
        """The attempts with a record received in `[since, until)` that may repeat an earlier record
        of theirs: one without an interval of some length (it repeats only its like), or one that
        starts before an earlier record ends. A superset of those with a repeat by
        `domain.billing.check_sequence`, found in the database; most attempts have none."""
        c = self._candidates(site_id, since, until, reaching)
        suspect = or_(
            c.c.started.is_(None), c.c.ended.is_(None), c.c.started == c.c.ended, c.c.before > c.c.started
        )
        q = select(c.c.attempt).where(c.c.in_month, suspect).distinct()
        return set(self._s.scalars(q))

    def of_attempts(
        self,
        site_id: str,
        attempt_ids: set[str],
        *,
        since: datetime,
        until: datetime,
        reaching: datetime | None,
    ) -> tuple[list[UsageRow], list[UsageRow]]:
        """These attempts' records at the site: those received in `[since, until)`, and the earlier
        ones they may repeat (ending at `reaching` or later, or missing a time), each by number."""
        reach = or_(UsageRecord.ended_at.is_(None), UsageRecord.started_at.is_(None))
        if reaching is not None:
            reach = or_(reach, UsageRecord.ended_at >= reaching)
        month: list[UsageRow] = []
        earlier: list[UsageRow] = []
        for part in batches(distinct(attempt_ids)):
            mine = select(*_ROW).where(UsageRecord.site_id == site_id, UsageRecord.attempt_id.in_(part))
            month += _rows(
                self._s.execute(mine.where(UsageRecord.recorded_at >= since, UsageRecord.recorded_at < until))
            )
            earlier += _rows(self._s.execute(mine.where(UsageRecord.recorded_at < since, reach)))
        return sorted(month), sorted(earlier)

    def uncharged(self, site_id: str, *, since: datetime, until: datetime) -> list[UsageRow]:
        """The month's records of attempts that took a hold (ran on a priced pool) with no charge
        under their key (`usage:<site>:<seq>`), by number: found in the database from each record's
        side, by the charges' unique key."""
        key = literal("usage:") + UsageRecord.site_id + literal(":") + cast(UsageRecord.seq, String)
        held = exists(select(Hold.id).where(Hold.attempt_id == UsageRecord.attempt_id))
        charged = exists(select(LedgerTransfer.id).where(LedgerTransfer.once_key == key))
        q = select(*_ROW).where(*self._month(site_id, since, until), held, ~charged)
        return _rows(self._s.execute(q.order_by(UsageRecord.seq)).tuples())
