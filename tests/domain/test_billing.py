"""Billing rules: months, a site's usage sequence (gaps, duplicates), budget thresholds, charge parts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.billing import (
    BillingError,
    Line,
    Reported,
    _overlap,
    cash_refusal,
    check_sequence,
    check_thresholds,
    crossed,
    funds_refusal,
    month_of,
    over_cap,
    parse_month,
    parts_of,
)
from suanli.domain.money import Money

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def rec(seq: int, attempt: str = "a1", start: int = 0, end: int = 10) -> Reported:
    return Reported(seq, attempt, at(start), at(end))


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026-11", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("2027-01", datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC)),
    ],
)
def test_a_month_is_half_open_in_utc(text: str, start: datetime, end: datetime) -> None:
    assert parse_month(text) == (start, end)
    assert month_of(start) == text and month_of(end - timedelta(microseconds=1)) == text


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "26-11", "2026/11", "", "2026-00"])
def test_a_month_must_be_yyyy_mm(bad: str) -> None:
    with pytest.raises(BillingError, match="YYYY-MM"):
        parse_month(bad)


# (records in the period, every seq known, last seq before, earlier records) → (gaps, duplicates)
SEQUENCES = [
    ("contiguous", [rec(1, "a1"), rec(2, "a2"), rec(3, "a3")], [], 0, [], (), ()),
    ("one missing", [rec(1, "a1"), rec(2, "a2"), rec(4, "a4")], [], 0, [], ((3, 3),), ()),
    ("a run missing at the start", [rec(5, "a5")], [], 1, [], ((2, 4),), ()),
    ("a late record fills the gap", [rec(1, "a1"), rec(3, "a3")], [2], 0, [], (), ()),
    ("same interval twice", [rec(1, "a1"), rec(2, "a1")], [], 0, [], (), ((2, 1),)),
    ("overlapping interval", [rec(1, "a1", 0, 10), rec(2, "a1", 5, 15)], [], 0, [], (), ((2, 1),)),
    ("adjacent intervals are not duplicates", [rec(1, "a1", 0, 10), rec(2, "a1", 10, 20)], [], 0, [], (), ()),
    ("another attempt's interval", [rec(1, "a1"), rec(2, "a2")], [], 0, [], (), ()),
    ("repeats last month's record", [rec(7, "a1")], [], 6, [rec(6, "a1")], (), ((7, 6),)),
    (
        "gap and duplicate",
        [rec(1, "a1"), rec(2, "a2"), rec(4, "a4"), rec(5, "a2")],
        [],
        0,
        [],
        ((3, 3),),
        ((5, 2),),
    ),
]


@pytest.mark.parametrize(
    ("case", "period", "known", "before", "earlier", "gaps", "duplicates"),
    SEQUENCES,
    ids=[c[0] for c in SEQUENCES],
)
def test_a_sites_sequence_flags_gaps_and_duplicates(
    case: str,
    period: list[Reported],
    known: list[int],
    before: int,
    earlier: list[Reported],
    gaps: tuple[tuple[int, int], ...],
    duplicates: tuple[tuple[int, int], ...],
) -> None:
    check = check_sequence(period, known, before, earlier)
    assert (check.gaps, check.duplicates) == (gaps, duplicates)


def test_an_empty_period_has_no_flags() -> None:
    check = check_sequence([], [1, 2], 2)
    assert (check.first, check.last, check.gaps, check.duplicates) == (3, 2, (), ())


def test_records_without_times_repeat_only_when_identical() -> None:
    a = Reported(1, "a1", None, None)
    assert check_sequence([a, Reported(2, "a1", None, None)], [], 0).duplicates == ((2, 1),)
    assert check_sequence([a, Reported(2, "a1", at(0), None)], [], 0).duplicates == ()


def _repeats_by_scanning(period: list[Reported], earlier: list[Reported]) -> tuple[tuple[int, int], ...]:
    """What `check_sequence` finds, as it was first written: each record against every one seen."""
    found, seen = [], sorted(earlier, key=lambda r: r.seq)
    for record in sorted(period, key=lambda r: r.seq):
        original = next((s for s in seen if _overlap(s, record)), None)
        if original is None:
            seen.append(record)
        else:
            found.append((record.seq, original.seq))
    return tuple(found)


_times = st.one_of(st.none(), st.integers(0, 12).map(at))
_records = st.lists(
    st.builds(lambda a, s, e: (a, s, e), st.sampled_from(["a1", "a2"]), _times, _times), max_size=25
)


@settings(max_examples=400, deadline=None)
@given(period=_records, earlier=_records)
def test_duplicates_found_by_the_index_are_those_a_scan_over_every_record_finds(
    period: list[tuple[str, datetime | None, datetime | None]],
    earlier: list[tuple[str, datetime | None, datetime | None]],
) -> None:
    """Overlapping, nested, touching, instant and open records of two attempts, reported late or
    early: the same repeats, each of the same original, as checking every record seen."""
    olds = [Reported(1 + i, a, s, e) for i, (a, s, e) in enumerate(earlier)]
    news = [Reported(100 + i, a, s, e) for i, (a, s, e) in enumerate(period)]
    expected = _repeats_by_scanning(news, olds)
    assert check_sequence(news, [], 99, olds).duplicates == expected


def test_a_record_resent_in_a_month_of_one_attempts_records_repeats_the_one_it_falls_in() -> None:
    """A busy site's month: 8,640 five-minute records of one attempt and one resent inside the
    4,001st (what `bench/month_spend.py` times as a settlement)."""
    period = [Reported(1 + i, "a1", at(5 * i), at(5 * i + 5)) for i in range(8640)]
    period.append(Reported(9000, "a1", at(5 * 4000 + 1), at(5 * 4000 + 4)))
    assert check_sequence(period, [], 0).duplicates == ((9000, 4001),)


@pytest.mark.parametrize(
    ("spent", "budget", "already", "expected"),
    [
        (0, 1000, [], []),
        (499, 1000, [], []),
        (500, 1000, [], [50]),
        (850, 1000, [], [50, 80]),
        (850, 1000, [50], [80]),
        (850, 1000, [50, 80], []),
        (1000, 1000, [50, 80], [100]),
        (5000, 1000, [50, 80, 100], []),
        (1, 3, [], []),  # 33% in integers: no float rounding lifts it to 50
        (2, 3, [], [50]),
    ],
)
def test_thresholds_are_announced_once_each(
    spent: int, budget: int, already: list[int], expected: list[int]
) -> None:
    assert crossed(spent, budget, (50, 80, 100), already) == expected


def test_thresholds_announced_once_over_a_month_of_checks() -> None:
    announced: list[int] = []
    for spent in (100, 499, 500, 501, 790, 800, 999, 1000, 1200, 1200):
        announced += crossed(spent, 1000, (50, 80, 100), announced)
    assert announced == [50, 80, 100]


def test_threshold_lists_are_checked_and_sorted() -> None:
    assert check_thresholds([100, 50, 80, 50]) == (50, 80, 100)
    for bad in ([], [0], [1001], [-5]):
        with pytest.raises(BillingError):
            check_thresholds(bad)


def test_the_cap_is_reached_at_the_budget() -> None:
    assert (over_cap(999, 1000), over_cap(1000, 1000), over_cap(1001, 1000)) == (False, True, True)


def test_a_refund_reads_as_a_negative_charge() -> None:
    charge = [
        Line("voucher:v1", 300, "voucher:v1"),
        Line("cash:p1:CNY", 700, "cash"),
        Line("payable:dc:CNY", -240, "voucher:v1"),
        Line("revenue:platform:CNY", -60, "voucher:v1"),
        Line("payable:dc:CNY", -560, "cash"),
        Line("revenue:platform:CNY", -140, "cash"),
    ]
    refund = [
        Line("programme:pg" if e.account == "voucher:v1" else e.account, -e.amount, e.source) for e in charge
    ]
    c, r = parts_of(charge), parts_of(refund)
    assert (c.tenant, c.payable, c.revenue, c.charged) == ({"voucher:v1": 300, "cash": 700}, 800, 200, 1000)
    assert (r.tenant, r.payable, r.revenue, r.charged) == (
        {"voucher:v1": -300, "cash": -700},
        -800,
        -200,
        -1000,
    )


def test_funds_refusals_say_what_a_hold_needs_in_the_words_balance_uses() -> None:
    """The gate's figure is what the project can hold (cash stretched by its vouchers), never
    called "available", which `suanli balance` uses for cash alone; the applier's names the cash
    part of a hold that vouchers share."""
    cny = partial(Money, currency="CNY")
    assert funds_refusal(cny(1337), cny(1250)) == "insufficient funds: needs 13.37 CNY, can hold 12.50 CNY"
    assert funds_refusal(cny(100), cny(-500)) == "insufficient funds: needs 1.00 CNY, can hold 0.00 CNY"
    assert cash_refusal(cny(3600), cny(3600), cny(3000), "gpu") == (
        "insufficient funds: needs 36.00 CNY, available 30.00 CNY (the hold on gpu)"
    )
    assert cash_refusal(cny(3600), cny(2520), cny(500), "gpu") == (
        "insufficient funds: the hold on gpu of 36.00 CNY needs 25.20 CNY in cash (vouchers pay the rest), "
        "available 5.00 CNY"
    )
