"""Ledger rules: accounts, double-entry transfers, prices, the split of a charge, the hold lifecycle.

Pure values and functions only; `domain/ledger_engine.py` (in memory) and `control/ledger.py` (the
database) both apply what these functions decide.

Sign convention: an entry's `amount` is signed, debit positive, credit negative. Every transfer's
entries sum to zero per currency. An account's *balance* is shown on its normal side: credit-normal
accounts (what the platform owes: project cash, vouchers, provider payables, platform revenue) show
credits − debits; debit-normal ones (external funding, voucher programmes, arrears) debits − credits.

Rounding: prices are exact `Decimal`s (minor units per hour); an amount becomes whole minor units
once, half-even, on the *cumulative* usage of a hold, so interval captures never drift from the
total. Every split into parts (voucher / cash / arrears; payable per part) is done in integers so
the parts sum exactly to the whole: a voucher's part is rounded down (it never pays more than its
share), the cash part is what is left, and a payable is allocated over parts by largest remainder.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from suanli.domain.errors import DomainError

SECONDS_PER_HOUR = Decimal(3600)
MIB_PER_GIB = Decimal(1024)


class LedgerError(DomainError):
    """A ledger rule refused an operation."""


class InsufficientFunds(LedgerError):
    """`needed`: the cash a hold needs (its amount less what vouchers pay, `hold`)."""

    def __init__(self, needed: int, available: int, currency: str, hold: int | None = None) -> None:
        super().__init__(
            f"insufficient funds: needs {needed}, available {available} (minor units {currency})"
        )
        self.needed, self.available, self.currency = needed, available, currency
        self.hold = needed if hold is None else hold


class HoldResolved(LedgerError):
    """The hold was captured or released already; a hold resolves exactly once."""


class TransferMismatch(LedgerError):
    """A transfer id was reused for a different operation (transfer ids are idempotency keys)."""


class AccountKind(StrEnum):
    CASH = "cash"  # a project's money, per currency (credit-normal, may go to −credit_limit)
    VOUCHER = "voucher"  # one voucher grant's remaining value (credit-normal, never below 0)
    PAYABLE = "payable"  # owed to a provider org (credit-normal)
    REVENUE = "revenue"  # the platform's margin (credit-normal)
    FUNDING = "funding"  # money from outside: top-ups (debit-normal)
    PROGRAMME = "programme"  # a voucher programme's outstanding grants (debit-normal)
    ARREARS = "arrears"  # usage a project could not pay when captured (debit-normal, a receivable)


CREDIT_NORMAL = frozenset({AccountKind.CASH, AccountKind.VOUCHER, AccountKind.PAYABLE, AccountKind.REVENUE})


def cash_account(project_id: str, currency: str) -> str:
    return f"cash:{project_id}:{currency}"


def arrears_account(project_id: str, currency: str) -> str:
    return f"arrears:{project_id}:{currency}"


def hold_id(attempt_id: str) -> str:
    """The hold a placement takes for an attempt (one per attempt)."""
    return f"hold:{attempt_id}"


def voucher_account(voucher_id: str) -> str:
    return f"voucher:{voucher_id}"


def payable_account(provider_org_id: str, currency: str) -> str:
    return f"payable:{provider_org_id}:{currency}"


def revenue_account(currency: str) -> str:
    return f"revenue:platform:{currency}"


def funding_account(currency: str) -> str:
    return f"funding:external:{currency}"


def programme_account(programme_id: str) -> str:
    return f"programme:{programme_id}"


def account_kind(account: str) -> AccountKind:
    return AccountKind(account.split(":", 1)[0])


def balance_of(account: str, signed_sum: int) -> int:
    """The balance on the account's normal side, from the sum of its signed entries."""
    return -signed_sum if account_kind(account) in CREDIT_NORMAL else signed_sum


class TransferKind(StrEnum):
    TOPUP = "topup"
    GRANT = "grant"
    CHARGE = "charge"
    REFUND = "refund"
    EXPIRE = "expire"
    PAYOUT = "payout"  # money paid out to a provider against what it is owed


@dataclass(frozen=True)
class Entry:
    """One line: `amount` debit positive, credit negative; `source` is the funding source it moves
    ("cash", "voucher:<id>", "arrears", or "" for lines outside a charge)."""

    account: str
    amount: int
    currency: str
    source: str = ""


@dataclass(frozen=True)
class Transfer:
    """A balanced set of entries, written once under its id and never changed."""

    id: str
    kind: TransferKind
    at: datetime
    entries: tuple[Entry, ...]
    ref: str = ""  # the hold, voucher or charge it concerns
    once_key: str | None = None  # a charge: its usage record; a refund: "refund-of:<charge>" (each once)


def check_balanced(entries: Sequence[Entry]) -> None:
    sums: dict[str, int] = {}
    for e in entries:
        sums[e.currency] = sums.get(e.currency, 0) + e.amount
    if any(sums.values()):
        raise LedgerError(f"unbalanced transfer: {sums}")


def to_minor(value: Decimal) -> int:
    """Exact minor units → whole minor units, half-even (the one rounding of an amount)."""
    return int(value.to_integral_value(ROUND_HALF_EVEN))


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` over non-negative integer weights; parts sum to `total` exactly (largest remainder,
    ties to the earlier part). All-zero weights put everything on the first part."""
    whole = sum(weights)
    if not weights:
        return []
    if whole == 0:
        return [total] + [0] * (len(weights) - 1)
    shares = [divmod(total * w, whole) for w in weights]
    parts = [q for q, _ in shares]
    left = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-shares[i][1], i))
    for i in order[:left]:
        parts[i] += 1
    return parts


# --- prices -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rates:
    """Minor units per hour: per accelerator, per CPU, per GiB of memory."""

    accelerator_hour: Decimal = Decimal(0)
    cpu_hour: Decimal = Decimal(0)
    gb_hour: Decimal = Decimal(0)

    def covers(self, other: Rates) -> bool:
        """Every rate at least `other`'s (a tenant price must cover the provider's wholesale rate)."""
        return (
            self.accelerator_hour >= other.accelerator_hour
            and self.cpu_hour >= other.cpu_hour
            and self.gb_hour >= other.gb_hour
        )


@dataclass(frozen=True)
class PriceBook:
    """One immutable version of a pool's prices, in force from `effective_at`."""

    currency: str
    tenant: Rates
    wholesale: Rates
    minimum_minor: int = 0
    version: int = 1
    effective_at: datetime | None = None


@dataclass(frozen=True)
class Usage:
    accelerator_seconds: int = 0
    cpu_seconds: int = 0
    mib_seconds: int = 0  # memory, in MiB-seconds (priced per GiB-hour)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.accelerator_seconds + other.accelerator_seconds,
            self.cpu_seconds + other.cpu_seconds,
            self.mib_seconds + other.mib_seconds,
        )


def planned_usage(seconds: int, accelerators: int, cpus: int, memory_mib: int) -> Usage:
    """What an allocation uses in `seconds` (all nodes together): what a placement holds for."""
    return Usage(accelerators * seconds, cpus * seconds, memory_mib * seconds)


def exact_cost(rates: Rates, usage: Usage) -> Decimal:
    return (
        rates.accelerator_hour * usage.accelerator_seconds
        + rates.cpu_hour * usage.cpu_seconds
        + rates.gb_hour * usage.mib_seconds / MIB_PER_GIB
    ) / SECONDS_PER_HOUR


def estimate(book: PriceBook, usage: Usage) -> int:
    """What `usage` costs a tenant in whole minor units: the amount to hold for a placement."""
    return max(to_minor(exact_cost(book.tenant, usage)), book.minimum_minor)


def book_in_force(books: Sequence[PriceBook], at: datetime) -> PriceBook | None:
    """The newest version whose `effective_at` is not after `at`."""
    live = [b for b in books if b.effective_at is None or b.effective_at <= at]
    return max(live, key=lambda b: b.version) if live else None


# --- vouchers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Voucher:
    """A grant to `org_id`; empty eligibility sets mean "any"."""

    id: str
    programme_id: str
    org_id: str
    currency: str
    face_minor: int
    share: Decimal  # 0 < share ≤ 1: the most of each charge it may cover
    valid_from: datetime
    valid_until: datetime  # exclusive
    providers: frozenset[str] = frozenset()
    sites: frozenset[str] = frozenset()
    accelerators: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ChargeContext:
    """Where and for whom a charge happens: what voucher eligibility is judged on."""

    org_id: str
    project_id: str
    provider_org_id: str
    site_id: str
    accelerator: str | None
    currency: str


def related(relations: frozenset[tuple[str, str]], a: str, b: str) -> bool:
    return a == b or (a, b) in relations or (b, a) in relations


def voucher_applies(
    v: Voucher, ctx: ChargeContext, at: datetime, relations: frozenset[tuple[str, str]]
) -> bool:
    return (
        v.org_id == ctx.org_id
        and v.currency == ctx.currency
        and v.valid_from <= at < v.valid_until
        and (not v.providers or ctx.provider_org_id in v.providers)
        and (not v.sites or ctx.site_id in v.sites)
        and (not v.accelerators or (ctx.accelerator or "cpu") in v.accelerators)
        and not related(relations, v.org_id, ctx.provider_org_id)
    )


def voucher_order(vouchers: Sequence[Voucher]) -> list[Voucher]:
    """Soonest expiry first; ties by id so the order is total."""
    return sorted(vouchers, key=lambda v: (v.valid_until, v.id))


@dataclass(frozen=True)
class Split:
    """A charge divided by funding source; `voucher_parts + cash + arrears == amount`."""

    amount: int
    voucher_parts: tuple[tuple[str, int], ...]
    cash: int
    arrears: int


@dataclass(frozen=True)
class PastCharge:
    """One charge already posted against a hold: when, how much, and what each voucher paid of it."""

    at: datetime
    amount: int
    voucher_parts: Mapping[str, int]


def voucher_before(v: Voucher, charges: Sequence[PastCharge]) -> tuple[int, int]:
    """(what the hold was charged while `v` was valid, what `v` paid of it) over `charges`."""
    within = [c for c in charges if v.valid_from <= c.at < v.valid_until]
    return sum(c.amount for c in within), sum(c.voucher_parts.get(v.id, 0) for c in charges)


def split_charge(
    amount: int,
    vouchers: Sequence[tuple[Voucher, int]],
    cash_available: int,
    past: Sequence[PastCharge] = (),
) -> Split:
    """Vouchers first, soonest expiry first, then cash up to what is available, then arrears.
    `vouchers` are (eligible voucher, balance) pairs; `past` the hold's earlier charges.

    A voucher pays its share of what the hold was charged while it was valid, rounded down once on
    that running total: at most `floor(share × (charged while valid + amount)) − paid before`, and
    at most its share of this charge rounded up. So a job charged in many small pieces gets the
    same voucher part as one charged once (a share of one minor unit, floored each time, would be
    nothing), and no voucher pays for what was charged before it was valid."""
    left = amount
    parts: list[tuple[str, int]] = []
    for v, balance in sorted(vouchers, key=lambda vb: (vb[0].valid_until, vb[0].id)):
        eligible, paid = voucher_before(v, past) if past else (0, 0)
        due = int((v.share * (eligible + amount)).to_integral_value(ROUND_FLOOR)) - paid
        cap = min(due, int((v.share * amount).to_integral_value(ROUND_CEILING)))
        take = max(0, min(cap, balance, left))
        if take:
            parts.append((v.id, take))
            left -= take
    cash = max(0, min(left, cash_available))
    return Split(amount, tuple(parts), cash, left - cash)


# --- holds --------------------------------------------------------------------------------------


class HoldState(StrEnum):
    OPEN = "open"
    CAPTURED = "captured"  # finished: the last usage captured, the rest released
    RELEASED = "released"  # given up before the end (e.g. never started); captures made stay


class HoldEvent(StrEnum):
    CAPTURE = "capture"  # an interval's usage
    FINISH = "finish"  # the final usage, to the second; resolves the hold
    RELEASE = "release"  # resolves the hold with nothing more charged


HOLD_TRANSITIONS: dict[tuple[HoldState, HoldEvent], HoldState] = {
    (HoldState.OPEN, HoldEvent.CAPTURE): HoldState.OPEN,
    (HoldState.OPEN, HoldEvent.FINISH): HoldState.CAPTURED,
    (HoldState.OPEN, HoldEvent.RELEASE): HoldState.RELEASED,
}


def hold_transition(state: HoldState, event: HoldEvent) -> HoldState:
    try:
        return HOLD_TRANSITIONS[(state, event)]
    except KeyError:
        raise HoldResolved(f"hold is {state.value}: cannot {event.value}") from None


@dataclass(frozen=True)
class HoldTotals:
    """What a hold has charged so far, cumulatively: the base of interval rounding."""

    usage: Usage = field(default_factory=Usage)
    charged: int = 0  # tenant amount, all sources
    payable: int = 0  # provider's part of it
    cash: int = 0  # the part paid from cash (what the hold reserved for)


def reserved(amount: int, totals: HoldTotals) -> int:
    """Cash an open hold still keeps from its project's available funds."""
    return max(0, amount - totals.cash)


def available(balance: int, credit_limit: int, open_reserved: int) -> int:
    return balance + credit_limit - open_reserved


def next_charge(
    book: PriceBook, totals: HoldTotals, increment: Usage, *, final: bool
) -> tuple[int, int, Usage]:
    """(tenant amount, provider payable, new cumulative usage) for one capture. Both are rounded on
    the cumulative usage, so captures sum to the rounded total; a final capture lifts the tenant
    total to the book's minimum charge."""
    usage = totals.usage + increment
    tenant_total = to_minor(exact_cost(book.tenant, usage))
    if final:
        tenant_total = max(tenant_total, book.minimum_minor)
    payable_total = min(to_minor(exact_cost(book.wholesale, usage)), tenant_total)
    return max(0, tenant_total - totals.charged), max(0, payable_total - totals.payable), usage


def charge_entries(split: Split, payable: int, ctx: ChargeContext) -> tuple[Entry, ...]:
    """Debit each funding source, credit the provider's payable and the platform's margin, with each
    credit split over the sources in proportion (so every line carries one funding source)."""
    cur = ctx.currency
    sources = [(f"voucher:{vid}", voucher_account(vid), part) for vid, part in split.voucher_parts]
    sources.append(("cash", cash_account(ctx.project_id, cur), split.cash))
    sources.append(("arrears", arrears_account(ctx.project_id, cur), split.arrears))
    sources = [s for s in sources if s[2]]
    pays = allocate(min(payable, split.amount), [s[2] for s in sources])
    entries: list[Entry] = []
    for (tag, account, part), pay in zip(sources, pays, strict=True):
        entries.append(Entry(account, part, cur, tag))
        if pay:
            entries.append(Entry(payable_account(ctx.provider_org_id, cur), -pay, cur, tag))
        if part - pay:
            entries.append(Entry(revenue_account(cur), -(part - pay), cur, tag))
    return tuple(entries)


def refund_entries(
    charge: Transfer, programme_of: dict[str, str], live: Collection[str] = frozenset()
) -> tuple[Entry, ...]:
    """The charge reversed: each source gets back what it paid. A voucher's part goes back to the
    voucher while it is `live` (not expired, still valid: ADR 0041); a voucher past its validity gets
    nothing back, its part goes to its programme (clawed back), which is what its expiry would have
    written off."""
    out: list[Entry] = []
    for e in charge.entries:
        account = e.account
        if account_kind(account) is AccountKind.VOUCHER:
            voucher = account.split(":", 1)[1]
            if voucher not in live:
                account = programme_account(programme_of[voucher])
        out.append(Entry(account, -e.amount, e.currency, e.source))
    return tuple(out)


def voucher_live(valid_until: datetime, expired: bool, at: datetime) -> bool:
    """Whether a voucher may be paid back at `at`: not written off, and `at` before its validity
    ends (between that end and the sweep that writes it off it is no longer live)."""
    return not expired and at < valid_until


def topup_entries(project_id: str, amount: int, currency: str) -> tuple[Entry, ...]:
    return (
        Entry(funding_account(currency), amount, currency),
        Entry(cash_account(project_id, currency), -amount, currency, "cash"),
    )


def payout_entries(provider_org_id: str, amount: int, currency: str) -> tuple[Entry, ...]:
    """A payment to a provider outside the ledger (a bank transfer): what it is owed goes down by it."""
    return (
        Entry(payable_account(provider_org_id, currency), amount, currency),
        Entry(funding_account(currency), -amount, currency),
    )


def grant_entries(v: Voucher) -> tuple[Entry, ...]:
    return (
        Entry(programme_account(v.programme_id), v.face_minor, v.currency),
        Entry(voucher_account(v.id), -v.face_minor, v.currency, f"voucher:{v.id}"),
    )


def expire_entries(v: Voucher, remaining: int) -> tuple[Entry, ...]:
    """The remainder written off: back to the programme, which never paid it out."""
    return (
        Entry(voucher_account(v.id), remaining, v.currency, f"voucher:{v.id}"),
        Entry(programme_account(v.programme_id), -remaining, v.currency),
    )
