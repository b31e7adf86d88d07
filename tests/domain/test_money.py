"""Money: exact minor units, parsing with clear errors, rounding half-even."""

from __future__ import annotations

from decimal import Decimal

import pytest

from suanli.domain.money import MAX_MINOR, Money, parse_money


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("38.00", Money(3800, "CNY")),
        ("38", Money(3800, "CNY")),
        ("0.5 USD", Money(50, "USD")),
        ("12usd", Money(1200, "USD")),
        ("1000 JPY", Money(1000, "JPY")),
    ],
)
def test_amounts_parse_to_minor_units(text: str, expected: Money) -> None:
    assert parse_money(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-1", "is not an amount"),
        ("1.001", "more decimals than CNY"),
        ("1.5 JPY", "more decimals than JPY"),
        ("3 XYZ", "unknown currency 'XYZ'"),
        ("ten", "is not an amount"),
    ],
)
def test_bad_amounts_say_what_is_allowed(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_money(text)


def test_a_signed_amount_may_be_negative_for_its_caller_to_refuse_with_a_reason() -> None:
    assert parse_money("-5", signed=True) == Money(-500, "CNY")
    assert parse_money("-0.5 USD", signed=True) == Money(-50, "USD")
    with pytest.raises(ValueError, match="is not an amount"):
        parse_money("--5", signed=True)


def test_multiplying_rounds_half_even_to_a_whole_minor_unit() -> None:
    assert Money(3800).times(Decimal("1.5")) == Money(5700)
    assert Money(1).times(Decimal("0.5")) == Money(0)  # half to even
    assert Money(3).times(Decimal("0.5")) == Money(2)
    assert str(Money(3800)) == "38.00 CNY" and str(Money(5, "JPY")) == "5 JPY"


def test_an_amount_past_ten_trillion_yuan_is_refused_with_the_largest_allowed() -> None:
    assert parse_money("10000000000000.00") == Money(MAX_MINOR, "CNY")
    with pytest.raises(ValueError, match=r"largest amount allowed, 10,?000,?000,?000,?000\.00 CNY"):
        parse_money("10000000000000.01")
    with pytest.raises(ValueError, match="largest amount allowed"):
        parse_money("-99999999999999999999", signed=True)
