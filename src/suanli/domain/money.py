"""Money: integer minor units with a currency (fen, cents); prices parsed from decimal text, never floats."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

# ISO 4217 minor-unit exponents of the currencies the network prices in.
EXPONENT = {"CNY": 2, "USD": 2, "EUR": 2, "HKD": 2, "JPY": 0}
DEFAULT_CURRENCY = "CNY"
AMOUNT_EXAMPLE = "38.00 or '38.00 CNY'"  # the one example every amount error gives
# The largest amount one request may name, in minor units (10 trillion yuan): sums of many such stay
# far inside the 64-bit integers the ledger keeps.
MAX_MINOR = 10**15
_AMOUNT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z]{3})?\s*$", re.ASCII)


@dataclass(frozen=True, order=True)
class Money:
    """An amount in minor units of `currency`: Money(3800, "CNY") is ¥38.00."""

    minor: int
    currency: str = DEFAULT_CURRENCY

    def __str__(self) -> str:
        exp = EXPONENT[self.currency]
        value = Decimal(self.minor).scaleb(-exp)
        return f"{value:.{exp}f} {self.currency}"

    def times(self, factor: Decimal) -> Money:
        """This amount × `factor`, rounded half-even to a whole minor unit."""
        return Money(int((Decimal(self.minor) * factor).to_integral_value(ROUND_HALF_EVEN)), self.currency)


class AmountTooLarge(ValueError):
    """An amount past `MAX_MINOR`; `largest` is the most allowed, in the amount's currency."""

    def __init__(self, text: str, largest: Money) -> None:
        super().__init__(f"{text!r} is more than the largest amount allowed, {largest}")
        self.largest = largest


_RATE = re.compile(
    r"^\d{1,9}(?:\.\d{1,6})?$", re.ASCII
)  # major units per hour: below a billion, to a millionth
RATE_RULE = "a decimal such as 38.00 or 0.005: at most 999999999.999999 per hour"


def parse_rate(text: str) -> Decimal:
    """A price per hour in major units (`38.00`, or `0.005` per GiB-hour) → an exact Decimal, never a
    float: plain digits, at most 9 before the point and 6 after it (no sign, no exponent); ValueError
    says `RATE_RULE` otherwise. Rates may be finer than the currency's minor unit; charges round."""
    if not _RATE.match(text.strip()):
        raise ValueError(f"{text!r} is not a rate: {RATE_RULE}")
    return Decimal(text.strip())


def parse_money(text: str, currency: str | None = None, *, signed: bool = False) -> Money:
    """`38.00`, `38 CNY` or `0.5USD` → Money; refuses more decimals than the currency has, and a
    negative amount unless `signed` (then the caller's rule says why it is refused)."""
    m = _AMOUNT.match(text)
    if not m or (m.group(1).startswith("-") and not signed):
        raise ValueError(f"{text!r} is not an amount: use e.g. {AMOUNT_EXAMPLE}")
    code = (m.group(2) or currency or DEFAULT_CURRENCY).upper()
    if code not in EXPONENT:
        raise ValueError(f"unknown currency {code!r}: allowed {', '.join(sorted(EXPONENT))}")
    try:
        amount = Decimal(m.group(1))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount") from None
    scaled = amount.scaleb(EXPONENT[code])
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{text!r} has more decimals than {code} allows ({EXPONENT[code]})")
    if abs(scaled) > MAX_MINOR:
        raise AmountTooLarge(text, Money(MAX_MINOR, code))
    return Money(int(scaled), code)
