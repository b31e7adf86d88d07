"""Billing periods and the checks run over them: months, a site's usage sequence, budget thresholds.

Pure values and functions: `control/settlement.py`, `control/statements.py` and `control/budgets.py`
load rows and hand them here. A month is a calendar month in UTC, `YYYY-MM`, half-open
`[start, end)`.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from suanli.domain.errors import DomainError
from suanli.domain.ledger import AccountKind, account_kind
from suanli.domain.money import Money

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$", re.ASCII)
DEFAULT_THRESHOLDS = (50, 80, 100)


class BillingError(DomainError):
    """A billing period or budget was given in a form the rules cannot use."""


# --- months -------------------------------------------------------------------------------------


def parse_month(text: str) -> tuple[datetime, datetime]:
    """`2026-11` → (2026-11-01T00:00Z, 2026-12-01T00:00Z)."""
    m = _MONTH.match(text)
    if not m:
        raise BillingError(f"{text!r} is not a month: use YYYY-MM, e.g. 2026-11")
    year, month = int(m.group(1)), int(m.group(2))
    if not 1 <= year <= 9998:  # the month after must exist too
        raise BillingError(f"{text!r} is not a month we can count: the year must be 0001 to 9998")
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def month_of(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m")


def hours(seconds: int) -> str:
    """Seconds as hours with two decimals, half-even (text, never a float)."""
    return str((Decimal(seconds) / 3600).quantize(Decimal("0.01")))


def hours_shown(seconds: int) -> str:
    """`hours` for a reader: a time that ran but rounds to nothing (18 s or less) is `<0.01`, never
    a `0.00` that says it did not run. Documents keep `hours` and the exact seconds."""
    shown = hours(seconds)
    return "<0.01" if seconds > 0 and shown == "0.00" else shown


# --- what a charge moved -----------------------------------------------------------------------

TENANT_SIDE = frozenset({AccountKind.CASH, AccountKind.VOUCHER, AccountKind.ARREARS, AccountKind.PROGRAMME})


@dataclass(frozen=True)
class Line:
    """One ledger entry as billing reads it (debit positive, credit negative)."""

    account: str
    amount: int
    source: str


@dataclass(frozen=True)
class Parts:
    """A charge (positive) or a refund (negative) seen from each side: what the tenant paid from
    each funding source, what the provider is owed, what the platform kept."""

    tenant: dict[str, int]
    payable: int
    revenue: int

    @property
    def charged(self) -> int:
        return sum(self.tenant.values())


def parts_of(lines: Iterable[Line]) -> Parts:
    """A charge debits its funding sources (vouchers, cash, arrears) and credits the payable and
    the revenue; a refund reverses it, a voucher's part credited to the voucher or, where it is no
    longer valid, to its programme (ADR 0041). Reading sides by account kind gives both the same
    signs: a refund is a negative charge."""
    tenant: dict[str, int] = {}
    payable = revenue = 0
    for line in lines:
        kind = account_kind(line.account)
        if kind in TENANT_SIDE:
            tenant[line.source] = tenant.get(line.source, 0) + line.amount
        elif kind is AccountKind.PAYABLE:
            payable -= line.amount
        elif kind is AccountKind.REVENUE:
            revenue -= line.amount
    return Parts(tenant, payable, revenue)


# --- a site's usage sequence --------------------------------------------------------------------


@dataclass(frozen=True)
class Reported:
    """One usage record as reconciliation sees it."""

    seq: int
    attempt_id: str
    started_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True)
class SequenceCheck:
    """What a site's sequence numbers say about the records of a period.

    `gaps`: (first, last) runs of numbers never received, between the last number before the
    period and the highest in it. `duplicates`: (seq, seq of the record it repeats): a record for
    an attempt interval already reported under an earlier number."""

    first: int
    last: int
    gaps: tuple[tuple[int, int], ...]
    duplicates: tuple[tuple[int, int], ...]


def _overlap(a: Reported, b: Reported) -> bool:
    if a.attempt_id != b.attempt_id:
        return False
    if None in (a.started_at, a.ended_at, b.started_at, b.ended_at):
        return (a.started_at, a.ended_at) == (b.started_at, b.ended_at)
    assert a.started_at and a.ended_at and b.started_at and b.ended_at
    if a.started_at == a.ended_at or b.started_at == b.ended_at:  # instants: equal ones repeat
        return (a.started_at, a.ended_at) == (b.started_at, b.ended_at)
    return a.started_at < b.ended_at and b.started_at < a.ended_at


def check_sequence(
    period: Sequence[Reported], known: Iterable[int], before: int, earlier: Sequence[Reported] = ()
) -> SequenceCheck:
    """Reconcile the records a site reported in a period.

    `period`: its records in the period; `known`: every sequence number the site ever reported
    (a late record fills a gap wherever it landed); `before`: the highest number before the
    period (0 if none); `earlier`: records before the period that one in it may repeat."""
    seqs = sorted(r.seq for r in period)
    if not seqs:
        return SequenceCheck(before + 1, before, (), ())
    have = set(known) | set(seqs)
    gaps: list[tuple[int, int]] = []
    run: int | None = None
    for n in range(before + 1, seqs[-1] + 1):
        if n not in have and run is None:
            run = n
        elif n in have and run is not None:
            gaps.append((run, n - 1))
            run = None
    return SequenceCheck(before + 1, seqs[-1], tuple(gaps), repeats(period, earlier))


def repeats(period: Sequence[Reported], earlier: Sequence[Reported] = ()) -> tuple[tuple[int, int], ...]:
    """`check_sequence`'s duplicates: (seq, seq of the record it repeats) for each record of the
    period that repeats one of `earlier` (all of them) or of the period's own with a lower number
    that is not itself a repeat. Only records of the same attempt can repeat each other, so the
    answer for some attempts is the same read with or without the others'."""
    duplicates: list[tuple[int, int]] = []
    seen = _Seen()
    for r in sorted(earlier, key=lambda r: r.seq):
        seen.add(r)
    for record in sorted(period, key=lambda r: r.seq):
        original = seen.first_overlapping(record)
        if original is not None:
            duplicates.append((record.seq, original.seq))
        else:
            seen.add(record)
    return tuple(duplicates)


def _span(r: Reported) -> tuple[datetime, datetime] | None:
    """A record's interval, if it has one of some length (`_overlap` compares the others whole)."""
    if r.started_at is None or r.ended_at is None or r.started_at == r.ended_at:
        return None
    return r.started_at, r.ended_at


class _Seen:
    """The records a later one may repeat, searched as `_overlap` would over all of them in the
    order they were added, answering with the first it finds; but per attempt, and its intervals by
    start with the furthest end so far, so a record that repeats nothing (nearly all) costs a binary
    search, not a pass over the site's month. Records without an interval repeat only an identical
    one: a dictionary."""

    def __init__(self) -> None:
        self._added = 0
        self._exact: dict[tuple[str, datetime | None, datetime | None], tuple[int, Reported]] = {}
        self._starts: dict[str, list[datetime]] = {}
        self._spans: dict[str, list[tuple[datetime, int, Reported]]] = {}  # (end, order, record) by start
        self._reach: dict[str, list[datetime]] = {}  # the latest end among spans[:i + 1]

    def add(self, r: Reported) -> None:
        self._added += 1
        span = _span(r)
        if span is None:
            self._exact.setdefault((r.attempt_id, r.started_at, r.ended_at), (self._added, r))
            return
        starts = self._starts.setdefault(r.attempt_id, [])
        spans = self._spans.setdefault(r.attempt_id, [])
        reach = self._reach.setdefault(r.attempt_id, [])
        i = bisect.bisect_right(starts, span[0])
        starts.insert(i, span[0])
        spans.insert(i, (span[1], self._added, r))
        reach.insert(i, span[1])
        for j in range(i, len(reach)):
            reach[j] = max(reach[j - 1], spans[j][0]) if j else spans[j][0]

    def first_overlapping(self, r: Reported) -> Reported | None:
        span = _span(r)
        if span is None:
            found = self._exact.get((r.attempt_id, r.started_at, r.ended_at))
            return found[1] if found else None
        start, end = span
        k = bisect.bisect_left(self._starts.get(r.attempt_id, []), end)  # the spans starting before it ends
        if not k or self._reach[r.attempt_id][k - 1] <= start:
            return None
        overlapping = [(order, s) for _, order, s in self._spans[r.attempt_id][:k] if _overlap(s, r)]
        return min(overlapping, key=lambda found: found[0])[1]


# --- budgets ------------------------------------------------------------------------------------


def check_thresholds(values: Iterable[int]) -> tuple[int, ...]:
    """Alert thresholds in percent of a budget: 1–1000, each once, ascending."""
    out = tuple(sorted(set(values)))
    if not out or any(not 0 < t <= 1000 for t in out):
        raise BillingError("thresholds are percentages from 1 to 1000, e.g. 50, 80 and 100")
    return out


def crossed(spent: int, budget: int, thresholds: Iterable[int], already: Iterable[int]) -> list[int]:
    """Thresholds reached by `spent` (percent of `budget`, compared in integers) and not yet
    announced; each is announced once per budget and month."""
    done = set(already)
    return [t for t in sorted(set(thresholds)) if t not in done and spent * 100 >= t * budget]


def over_cap(spent: int, budget: int) -> bool:
    """A hard-capped project takes no new jobs once the month's charges reach its budget."""
    return spent >= budget


def funds_refusal(needs: Money, can_hold: Money) -> str:
    """Why a placement waits for funds, as the scheduler's `funds` gate and the quote say it:
    `can_hold` is the largest hold the project could take, its available cash (balance + credit
    limit − open holds, `suanli balance`'s AVAILABLE) stretched by what its org's vouchers would
    pay of it; so it is more than AVAILABLE where vouchers pay a share."""
    return f"insufficient funds: needs {needs}, can hold {Money(max(0, can_hold.minor), can_hold.currency)}"


def cash_refusal(hold: Money, cash: Money, available: Money, pool: str) -> str:
    """Why the applier's hold (the last word, at the chosen pool) waits: the hold's cash part,
    what its vouchers do not pay, against the cash available."""
    if cash.minor == hold.minor:
        return f"insufficient funds: needs {hold}, available {available} (the hold on {pool})"
    return f"insufficient funds: the hold on {pool} of {hold} needs {cash} in cash (vouchers pay the rest), available {available}"


def cap_refusal(needs: Money, left: Money, budget: Money, month: str) -> str:
    """Why a placement waits under a hard cap: the scheduler's `budget` gate and the applier's hold
    say it in these words (`left` below zero reads as nothing left)."""
    nothing = Money(max(left.minor, 0), left.currency)
    return f"hard-capped budget: needs {needs}, {nothing} left of the project's {budget} for {month}"
