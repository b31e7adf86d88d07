"""Ledger rules: prices and rounding, allocation, the charge split, voucher order, caps and eligibility."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.ledger import (
    ChargeContext,
    HoldEvent,
    HoldResolved,
    HoldState,
    HoldTotals,
    PastCharge,
    PriceBook,
    Rates,
    Transfer,
    TransferKind,
    Usage,
    Voucher,
    allocate,
    book_in_force,
    charge_entries,
    check_balanced,
    estimate,
    hold_transition,
    next_charge,
    refund_entries,
    split_charge,
    to_minor,
    voucher_applies,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CTX = ChargeContext("org_t", "prj_t", "org_p", "site_1", "A100", "CNY")
BOOK = PriceBook(
    "CNY",
    tenant=Rates(Decimal(3800), Decimal(10)),
    wholesale=Rates(Decimal(3000), Decimal(8)),
    minimum_minor=100,
)


def voucher(vid: str = "v1", share: str = "1", days: int = 30, **kw: object) -> Voucher:
    base: dict[str, object] = {
        "id": vid,
        "programme_id": "pg",
        "org_id": "org_t",
        "currency": "CNY",
        "face_minor": 10_000,
        "share": Decimal(share),
        "valid_from": NOW - timedelta(days=1),
        "valid_until": NOW + timedelta(days=days),
    }
    base.update(kw)
    return Voucher(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "minor"),
    [("0.5", 0), ("1.5", 2), ("2.5", 2), ("2.5000001", 3), ("-0.5", 0), ("3.49", 3)],
)
def test_amounts_round_half_even_once(value: str, minor: int) -> None:
    assert to_minor(Decimal(value)) == minor


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        (10, [1, 1, 1], [4, 3, 3]),
        (100, [30, 70], [30, 70]),
        (7, [0, 0], [7, 0]),
        (1, [1, 2], [0, 1]),
        (0, [5, 5], [0, 0]),
    ],
)
def test_allocation_sums_exactly(total: int, weights: list[int], parts: list[int]) -> None:
    assert allocate(total, weights) == parts


@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**6), min_size=1, max_size=6))
def test_allocation_always_sums_to_the_total(total: int, weights: list[int]) -> None:
    parts = allocate(total, weights)
    assert sum(parts) == total and all(p >= 0 for p in parts)


def test_interval_captures_sum_to_the_rounded_total() -> None:
    totals, charged = HoldTotals(), 0
    for _ in range(7):  # seven intervals of 7 accelerator-seconds: each alone rounds differently
        amount, payable, usage = next_charge(BOOK, totals, Usage(accelerator_seconds=7), final=False)
        totals = HoldTotals(usage, totals.charged + amount, totals.payable + payable)
        charged += amount
    assert charged == to_minor(Decimal(3800) * 49 / 3600)


def test_final_capture_lifts_to_the_minimum_charge() -> None:
    amount, payable, _ = next_charge(BOOK, HoldTotals(), Usage(accelerator_seconds=1), final=True)
    assert (amount, payable) == (100, 1)


def test_book_in_force_is_the_newest_effective_version() -> None:
    books = [
        PriceBook("CNY", Rates(), Rates(), version=1, effective_at=NOW - timedelta(days=2)),
        PriceBook("CNY", Rates(), Rates(), version=2, effective_at=NOW),
        PriceBook("CNY", Rates(), Rates(), version=3, effective_at=NOW + timedelta(hours=1)),
    ]
    assert book_in_force(books, NOW - timedelta(seconds=1)) == books[0]
    assert book_in_force(books, NOW) == books[1]
    assert book_in_force(books, NOW - timedelta(days=3)) is None


@pytest.mark.parametrize(
    ("vouchers", "cash", "parts", "cash_part", "arrears"),
    [
        ([(voucher(share="0.3"), 10_000)], 10_000, (("v1", 300),), 700, 0),
        ([(voucher(share="1"), 10_000)], 0, (("v1", 1000),), 0, 0),
        ([(voucher(share="1"), 250)], 10_000, (("v1", 250),), 750, 0),
        # soonest expiry first, whatever the order given
        (
            [(voucher("late", days=60), 10_000), (voucher("soon", days=2), 400)],
            0,
            (("soon", 400), ("late", 600)),
            0,
            0,
        ),
        # each share capped separately and rounded down: 33.3% of 1000 is 333
        (
            [(voucher("a", share="0.333"), 10_000), (voucher("b", share="0.333", days=40), 10_000)],
            0,
            (("a", 333), ("b", 333)),
            0,
            334,
        ),
        ([], 600, (), 600, 400),
    ],
)
def test_charge_split_vouchers_then_cash_then_arrears(
    vouchers: list[tuple[Voucher, int]],
    cash: int,
    parts: tuple[tuple[str, int], ...],
    cash_part: int,
    arrears: int,
) -> None:
    split = split_charge(1000, vouchers, cash)
    assert (split.voucher_parts, split.cash, split.arrears) == (parts, cash_part, arrears)


@given(
    st.integers(0, 10**7),
    st.lists(st.tuples(st.sampled_from(["0.01", "0.3", "0.5", "1"]), st.integers(0, 10**6)), max_size=4),
    st.integers(0, 10**7),
    st.integers(0, 10**7),
)
def test_split_parts_always_sum_to_the_charge(
    amount: int, vs: list[tuple[str, int]], cash: int, payable: int
) -> None:
    vouchers = [(voucher(f"v{i}", share, days=i + 1), bal) for i, (share, bal) in enumerate(vs)]
    split = split_charge(amount, vouchers, cash)
    assert sum(p for _, p in split.voucher_parts) + split.cash + split.arrears == amount
    for (v, bal), (_, part) in zip(
        vouchers, [(v.id, dict(split.voucher_parts).get(v.id, 0)) for v, _ in vouchers], strict=True
    ):
        assert part <= bal and part <= v.share * amount
    entries = charge_entries(split, min(payable, amount), CTX)
    check_balanced(entries)
    assert all(e.source for e in entries)


@pytest.mark.parametrize(
    ("v", "ctx", "applies"),
    [
        (voucher(), CTX, True),
        (voucher(org_id="org_x"), CTX, False),
        (voucher(providers=frozenset({"org_q"})), CTX, False),
        (voucher(sites=frozenset({"site_1"})), CTX, True),
        (voucher(accelerators=frozenset({"H100"})), CTX, False),
        (
            voucher(accelerators=frozenset({"cpu"})),
            ChargeContext("org_t", "p", "org_p", "s", None, "CNY"),
            True,
        ),
        (voucher(valid_from=NOW + timedelta(seconds=1)), CTX, False),
        (voucher(valid_until=NOW), CTX, False),
        (voucher(currency="USD"), CTX, False),
    ],
)
def test_voucher_eligibility(v: Voucher, ctx: ChargeContext, applies: bool) -> None:
    assert voucher_applies(v, ctx, NOW, frozenset()) is applies


def test_voucher_never_pays_a_related_provider() -> None:
    assert not voucher_applies(voucher(), CTX, NOW, frozenset({("org_p", "org_t")}))
    assert not voucher_applies(
        voucher(), ChargeContext("org_t", "p", "org_t", "s", "A100", "CNY"), NOW, frozenset()
    )


def test_refund_claws_the_voucher_part_back_to_its_programme() -> None:
    split = split_charge(1000, [(voucher(share="0.3"), 10_000)], 10_000)
    charge = Transfer("c", TransferKind.CHARGE, NOW, charge_entries(split, 800, CTX))
    refund = refund_entries(charge, {"v1": "pg"})
    check_balanced(refund)
    assert {e.account for e in refund if e.source == "voucher:v1" and e.amount < 0} == {"programme:pg"}
    assert sum(e.amount for e in refund if e.account == "cash:prj_t:CNY") == -700


@pytest.mark.parametrize(
    ("state", "event", "after"),
    [
        (HoldState.OPEN, HoldEvent.CAPTURE, HoldState.OPEN),
        (HoldState.OPEN, HoldEvent.FINISH, HoldState.CAPTURED),
        (HoldState.OPEN, HoldEvent.RELEASE, HoldState.RELEASED),
        (HoldState.CAPTURED, HoldEvent.RELEASE, None),
        (HoldState.RELEASED, HoldEvent.CAPTURE, None),
        (HoldState.RELEASED, HoldEvent.FINISH, None),
    ],
)
def test_a_hold_resolves_once(state: HoldState, event: HoldEvent, after: HoldState | None) -> None:
    if after is None:
        with pytest.raises(HoldResolved):
            hold_transition(state, event)
    else:
        assert hold_transition(state, event) is after


def test_estimate_is_what_a_hold_reserves() -> None:
    assert estimate(BOOK, Usage(accelerator_seconds=8 * 3600, cpu_seconds=64 * 3600)) == 8 * 3800 + 64 * 10
    assert estimate(BOOK, Usage()) == BOOK.minimum_minor


def test_a_voucher_pays_its_share_of_a_hold_however_finely_it_is_charged() -> None:
    v = voucher(share="0.3")
    one = split_charge(413, [(v, 10_000)], 10_000)
    past: list[PastCharge] = []
    for _ in range(413):  # one minor unit at a time
        piece = split_charge(1, [(v, 10_000)], 10_000, past)
        past.append(PastCharge(NOW, 1, dict(piece.voucher_parts)))
    assert one.voucher_parts == ((v.id, 123),)
    assert sum(c.voucher_parts.get(v.id, 0) for c in past) == 123  # not 0: floor(0.3 × 1) each time
    # charges made before the voucher was valid are not its to pay
    earlier = [PastCharge(v.valid_from - timedelta(seconds=1), 1000, {})]
    assert split_charge(2, [(v, 10_000)], 10_000, earlier).voucher_parts == ()  # floor(0.3 × 2) = 0
