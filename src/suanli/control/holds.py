"""Holds: what a placement reserves of a project's funds, and the captures and release against it.

A hold is opened when the applier places an attempt on a priced pool (max_runtime × the price in
force, the part the org's vouchers would pay recorded apart), charged as the attempt's usage
records arrive (vouchers first, then cash, then arrears), and released when the attempt ends. What
a project may still spend (`funds`, `spendable`) is its balance and credit less what its open
holds keep. Like `ledger.py`, each function runs inside the caller's transaction, loads and locks
the rows it moves, and leaves the decisions to the pure rules in `domain/ledger.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from suanli.control import ledger
from suanli.control.errors import Invalid, NotFound
from suanli.control.ledger import SYSTEM, book_of, voucher_of
from suanli.domain.ledger import (
    ChargeContext,
    HoldEvent,
    HoldState,
    HoldTotals,
    InsufficientFunds,
    Transfer,
    TransferKind,
    Usage,
    Voucher,
    arrears_account,
    available,
    balance_of,
    cash_account,
    charge_entries,
    hold_transition,
    next_charge,
    payable_account,
    reserved,
    revenue_account,
    split_charge,
    voucher_account,
    voucher_applies,
)
from suanli.store import Tx
from suanli.store.tables import Hold, LedgerAccount, LedgerTransfer, PriceVersion, Project


@dataclass(frozen=True)
class Funds:
    """A project's money in one currency: `available` = balance + credit limit − open holds."""

    currency: str
    balance: int
    credit_limit: int
    held: int
    arrears: int

    @property
    def available(self) -> int:
        return available(self.balance, self.credit_limit, self.held)


def _ctx(hold: Hold) -> ChargeContext:
    return ChargeContext(
        hold.org_id, hold.project_id, hold.provider_org_id, hold.site_id, hold.accelerator, hold.currency
    )


def _totals(hold: Hold) -> HoldTotals:
    usage = Usage(hold.accelerator_seconds, hold.cpu_seconds, hold.mib_seconds)
    return HoldTotals(usage, hold.charged_minor, hold.payable_minor, hold.cash_minor)


def cash_reserved(hold: Hold) -> int:
    """Cash an open hold still keeps: its amount less the part vouchers were expected to pay, less
    the cash it has captured."""
    return reserved(hold.amount_minor - hold.voucher_minor, _totals(hold))


def voucher_reserved(hold: Hold) -> int:
    """Voucher value an open hold still expects to use (charged − cash is what non-cash paid)."""
    return max(0, hold.voucher_minor - (hold.charged_minor - hold.cash_minor))


def _left_for(tx: Tx, hold: Hold, vouchers: list[Voucher], sums: dict[str, int]) -> list[tuple[Voucher, int]]:
    """Each voucher with what this hold's charge may take of it: its balance, less what the org's
    other open holds expect the vouchers to pay (taken soonest expiry first, as `voucher_room`
    counts it when a hold is placed). So one project's charges never spend what another's running
    job was placed counting on, just as cash reserved by a hold is its own."""
    promised = sum(
        voucher_reserved(h)
        for h in tx.ledger.open_holds_of_org(hold.org_id, hold.currency)
        if h.id != hold.id
    )
    out = []
    for v in sorted(vouchers, key=lambda v: (v.valid_until, v.id)):
        left = balance_of(voucher_account(v.id), sums[v.id])
        taken = min(max(0, left), promised)
        promised -= taken
        out.append((v, left - taken))
    return out


def voucher_left(tx: Tx, hold: Hold, now: datetime) -> int:
    """What the org's vouchers that would pay this hold's charges now still hold: a hold's voucher
    reservation is only an expectation, gone once they expire or another project's charges take it."""
    ctx, relations = _ctx(hold), tx.ledger.relations()
    grants = [voucher_of(r) for r in tx.ledger.vouchers(org_id=hold.org_id, live=True)]
    applying = [v for v in grants if voucher_applies(v, ctx, now, relations)]
    sums = tx.ledger.sums(voucher_account(v.id) for v in applying)
    return sum(
        max(0, balance_of(voucher_account(v.id), sums.get(voucher_account(v.id), 0))) for v in applying
    )


class OpenHolds:
    """What one transaction that opens many holds (the applier's placements) reads once: what the
    open holds keep, per project's cash and per org's vouchers, kept up to date by `hold` as it adds
    holds; the orgs' live vouchers and the provider relations; the projects' arrears; and which
    cash accounts the caller holds locked for the whole transaction (`locked`, from
    `charging.lock_for_placements`), which `hold` then does not lock again.

    Exact for the cash figures of locked accounts: nothing else opens, captures or closes their
    holds, or moves their arrears, meanwhile (a capture locks the project's cash account first). An
    org's vouchers are shared with its other projects, whose holds another transaction may capture
    or close meanwhile. That only lowers what they promise, so the kept figure is at most too high
    and a hold counts at most too little voucher room (it asks more of cash), never too much; a
    voucher granted meanwhile is not counted, with the same effect. But such a capture also spends
    the vouchers' balances, by as much as it pays or more (it pays from vouchers first, even for a
    hold that expected none), so those are not kept: `voucher_room` reads them afresh for every
    hold. Only the applier opens holds."""

    def __init__(self, locked: Iterable[tuple[str, str]] = ()) -> None:
        self.cash: dict[tuple[str, str], int] = {}  # (project, currency) → cash kept
        self.vouchers: dict[tuple[str, str], int] = {}  # (org, currency) → voucher value promised
        self.locked = frozenset(locked)  # (project, currency) whose cash account the caller locked
        self.live: dict[str, list[Voucher]] = {}  # org → its live vouchers
        self.relations: frozenset[tuple[str, str]] | None = None
        # Rows read once: the session's identity map keeps only weak references, so a row nothing
        # else holds would be read again by every hold (an account that does not exist, always).
        self.accounts: dict[str, LedgerAccount | None] = {}
        self.projects: dict[str, Project | None] = {}


def _account(tx: Tx, account_id: str, kept: OpenHolds | None) -> LedgerAccount | None:
    if kept is None:
        return tx.ledger.account(account_id)
    if account_id not in kept.accounts:
        kept.accounts[account_id] = tx.ledger.account(account_id)
    return kept.accounts[account_id]


def _balance(tx: Tx, account_id: str, kept: OpenHolds | None) -> int:
    row = _account(tx, account_id, kept)
    return balance_of(account_id, row.signed_sum if row else 0)


def funds(tx: Tx, project_id: str, currency: str, kept: OpenHolds | None = None) -> Funds:
    cash = _account(tx, cash_account(project_id, currency), kept)
    held = kept.cash.get((project_id, currency)) if kept is not None else None
    if held is None:
        held = sum(cash_reserved(h) for h in tx.ledger.open_holds(project_id, currency))
        if kept is not None:
            kept.cash[project_id, currency] = held
    return Funds(
        currency,
        balance_of(cash_account(project_id, currency), cash.signed_sum if cash else 0),
        cash.credit_limit_minor if cash else 0,
        held,
        _balance(tx, f"arrears:{project_id}:{currency}", kept),
    )


def voucher_room(
    tx: Tx,
    org_id: str,
    currency: str,
    now: datetime,
    ctx: ChargeContext | None = None,
    kept: OpenHolds | None = None,
) -> list[tuple[Voucher, int]]:
    """The org's live vouchers (those that apply to `ctx`, when given) with what is left of each
    once the org's open holds have taken what they expect to use, soonest expiry first."""
    relations: frozenset[tuple[str, str]] = frozenset()
    if ctx is not None:
        relations = (
            kept.relations if kept is not None and kept.relations is not None else tx.ledger.relations()
        )
        if kept is not None:
            kept.relations = relations
    grants = kept.live.get(org_id) if kept is not None else None
    if grants is None:
        grants = [voucher_of(r) for r in tx.ledger.vouchers(org_id=org_id, live=True)]
        if kept is not None:
            kept.live[org_id] = grants
    live = [
        v
        for v in grants
        if v.currency == currency
        and v.valid_from <= now < v.valid_until
        and (ctx is None or voucher_applies(v, ctx, now, relations))
    ]
    promised = kept.vouchers.get((org_id, currency)) if kept is not None else None
    if promised is None:
        promised = sum(voucher_reserved(h) for h in tx.ledger.open_holds_of_org(org_id, currency))
        if kept is not None:
            kept.vouchers[org_id, currency] = promised
    room = []
    live.sort(key=lambda v: (v.valid_until, v.id))
    # Read afresh for every hold, never kept: a capture of another project's hold may spend them
    # meanwhile, and nothing here locks them (`OpenHolds`).
    sums = tx.ledger.sums([voucher_account(v.id) for v in live])
    for v in live:
        account = voucher_account(v.id)
        left = balance_of(account, sums.get(account, 0))
        taken = min(left, promised)
        promised -= taken
        room.append((v, left - taken))
    return room


def cash_part(amount: int, room: list[tuple[Voucher, int]]) -> int:
    """What cash must pay of `amount` after the vouchers with this room pay their shares."""
    return split_charge(amount, room, amount).cash


def spendable(tx: Tx, project_id: str, org_id: str, currency: str, now: datetime) -> int:
    """The largest hold the project could take now, anywhere its org's vouchers apply: the
    amount whose cash part its available funds just cover. What the scheduler's funds gate reads;
    a voucher that applies only to some providers, sites or models makes this an upper bound,
    and the hold at placement decides."""
    cash = funds(tx, project_id, currency).available
    room = voucher_room(tx, org_id, currency, now)
    if cash < 0 or not any(left for _, left in room):
        return cash
    low, high = cash, cash + sum(left for _, left in room)
    while low < high:  # the cash part grows (almost) monotonically with the amount
        mid = (low + high + 1) // 2
        if cash_part(mid, room) <= cash:
            low = mid
        else:
            high = mid - 1
    return low


def hold(
    tx: Tx,
    hold_id: str,
    *,
    project_id: str,
    pool_id: str,
    amount: int,
    now: datetime,
    job_id: str | None = None,
    attempt_id: str | None = None,
    vouchers: bool = False,
    price: PriceVersion | None = None,
    kept: OpenHolds | None = None,
    new: bool = False,
) -> Hold:
    """Reserve `amount` of the project's available funds for a placement on `pool_id`, at the price
    in force now. Raises `InsufficientFunds` (the job should wait) when they do not cover it.

    With `vouchers`, the part of `amount` the org's vouchers would pay at this pool (their shares,
    eligibility and relations, less what other open holds expect of them) is recorded as
    `voucher_minor`, and only the rest is reserved from cash. `price`: the pool's price in force
    now, when the caller has read it already; `kept`: see `OpenHolds`. `new`: the caller made
    `hold_id` afresh (for an attempt id of its own), so no such hold can exist yet and it is not
    looked up; with `kept` the row is written when the transaction next flushes, with the others."""
    seen = None if new else tx.ledger.hold(hold_id)
    if seen is not None:
        return seen
    if kept is None:
        project = tx.tenancy.project(project_id)
    elif project_id in kept.projects:
        project = kept.projects[project_id]
    else:
        project = kept.projects[project_id] = tx.tenancy.project(project_id)
    pool = tx.sites.pool(pool_id)
    site = tx.sites.site(pool.site_id) if pool else None
    if project is None or pool is None or site is None:
        raise NotFound("no such project or pool")
    price = price if price is not None else ledger.price_in_force(tx, pool.id, now)
    if price is None:
        raise Invalid(f"pool {pool.name} has no price book in force")
    if kept is None or (project.id, price.currency) not in kept.locked:
        tx.ledger.lock_accounts([cash_account(project.id, price.currency)], price.currency, now)
    free = funds(tx, project.id, price.currency, kept).available
    cover = 0
    if vouchers:
        ctx = ChargeContext(
            project.org_id, project.id, site.org_id, site.id, pool.accelerator, price.currency
        )
        room = voucher_room(tx, project.org_id, price.currency, now, ctx, kept)
        cover = amount - cash_part(amount, room)
    if amount - cover > free:
        raise InsufficientFunds(amount - cover, free, price.currency, hold=amount)
    if kept is not None:  # what the new hold keeps: all of its cash part, all of its voucher part
        kept.cash[project.id, price.currency] += amount - cover
        if (project.org_id, price.currency) in kept.vouchers:
            kept.vouchers[project.org_id, price.currency] += cover
    return tx.ledger.add_hold(
        id=hold_id,
        org_id=project.org_id,
        project_id=project.id,
        provider_org_id=site.org_id,
        site_id=site.id,
        pool_id=pool.id,
        accelerator=pool.accelerator,
        price_version_id=price.id,
        currency=price.currency,
        amount_minor=amount,
        voucher_minor=cover,
        state=HoldState.OPEN.value,
        job_id=job_id,
        attempt_id=attempt_id,
        created_at=now,
        resolved_at=None,
        flush=kept is None,
    )


def release(tx: Tx, hold_id: str, now: datetime) -> Hold:
    row = _locked_hold(tx, hold_id)
    row.state = hold_transition(HoldState(row.state), HoldEvent.RELEASE).value
    row.resolved_at = now
    return row


def _locked_hold(tx: Tx, hold_id: str) -> Hold:
    row = tx.ledger.hold(hold_id, lock=True)
    if row is None:
        raise NotFound(f"no hold {hold_id}")
    return row


def capture(
    tx: Tx,
    hold_id: str,
    usage_key: str,
    usage: Usage,
    now: datetime,
    *,
    final: bool = False,
    by: str = SYSTEM,
) -> LedgerTransfer:
    """Charge one usage record (its increment) against a hold: vouchers first, then cash, then
    arrears. `final` captures to the second and releases the rest. A usage key is charged once: a
    retry returns the first transfer (with no entries when it cost nothing)."""
    seen = tx.ledger.charge_of_usage(usage_key)
    if seen is not None:
        return seen
    row = _locked_hold(tx, hold_id)
    state = hold_transition(HoldState(row.state), HoldEvent.FINISH if final else HoldEvent.CAPTURE)
    price = tx.ledger.price_version(row.price_version_id)
    assert price is not None  # a hold's price version is a foreign key
    ctx, totals = _ctx(row), _totals(row)
    relations = tx.ledger.relations()
    vouchers = [
        voucher_of(v)
        for v in tx.ledger.vouchers(org_id=row.org_id, live=True)
        if voucher_applies(voucher_of(v), ctx, now, relations)
    ]
    cash_id = cash_account(row.project_id, row.currency)
    # Every account the charge may touch, locked in one ordered pass before it is worked out: a
    # refund locks its charge's accounts so too, and one taking payable and revenue while another
    # held a voucher and waited for them would deadlock (ADR 0041).
    accounts = tx.ledger.lock_accounts(
        [
            cash_id,
            arrears_account(row.project_id, row.currency),
            payable_account(ctx.provider_org_id, row.currency),
            revenue_account(row.currency),
            *(voucher_account(v.id) for v in vouchers),
        ],
        row.currency,
        now,
    )
    amount, payable, cumulative = next_charge(book_of(price), totals, usage, final=final)
    free = funds(tx, row.project_id, row.currency).available
    split = split_charge(
        amount,
        _left_for(tx, row, vouchers, {v.id: accounts[voucher_account(v.id)].signed_sum for v in vouchers}),
        max(0, free + cash_reserved(row)),
        tx.ledger.past_charges(hold_id, [t for v in vouchers for t in (v.valid_from, v.valid_until)])
        if vouchers and row.charged_minor
        else (),
    )
    entries = charge_entries(split, payable, ctx) if amount else ()
    transfer = Transfer(f"charge:{usage_key}", TransferKind.CHARGE, now, entries, hold_id, once_key=usage_key)
    posted = ledger.post(tx, transfer, by)
    row.accelerator_seconds, row.cpu_seconds, row.mib_seconds = (
        cumulative.accelerator_seconds,
        cumulative.cpu_seconds,
        cumulative.mib_seconds,
    )
    row.charged_minor += amount
    row.payable_minor += min(payable, amount)
    row.cash_minor += split.cash
    row.state = state.value
    if state is not HoldState.OPEN:
        row.resolved_at = now
    return posted
