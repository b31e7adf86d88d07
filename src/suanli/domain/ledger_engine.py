"""`Ledger`: the ledger rules applied to an in-memory book (the model the stateful test drives).

The database-backed service in `control/ledger.py` makes the same decisions with the same functions
from `domain/ledger.py`; this engine is what those rules mean without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from suanli.domain.ledger import (
    AccountKind,
    ChargeContext,
    HoldEvent,
    HoldState,
    HoldTotals,
    InsufficientFunds,
    LedgerError,
    PastCharge,
    PriceBook,
    Transfer,
    TransferKind,
    TransferMismatch,
    Usage,
    Voucher,
    account_kind,
    available,
    balance_of,
    cash_account,
    charge_entries,
    check_balanced,
    expire_entries,
    grant_entries,
    hold_transition,
    next_charge,
    refund_entries,
    reserved,
    split_charge,
    topup_entries,
    voucher_account,
    voucher_applies,
    voucher_live,
)


@dataclass(frozen=True)
class Programme:
    id: str
    issuer: str
    currency: str
    budget_minor: int


@dataclass(frozen=True)
class Hold:
    id: str
    ctx: ChargeContext
    book: PriceBook
    amount: int
    state: HoldState = HoldState.OPEN
    totals: HoldTotals = field(default_factory=HoldTotals)


class Ledger:
    """Accounts (as signed sums), transfers by id, holds, programmes and vouchers, all in memory."""

    def __init__(self) -> None:
        self.sums: dict[str, int] = {}
        self.credit_limits: dict[str, int] = {}
        self.transfers: dict[str, Transfer] = {}
        self.charged_usage: dict[str, str] = {}  # usage key → charge transfer id
        self.refunded: dict[str, str] = {}  # charge id → refund id
        self.holds: dict[str, Hold] = {}
        self.programmes: dict[str, Programme] = {}
        self.vouchers: dict[str, Voucher] = {}
        self.expired: set[str] = set()
        self.relations: frozenset[tuple[str, str]] = frozenset()

    # --- reading --------------------------------------------------------------------------------
    def balance(self, account: str) -> int:
        return balance_of(account, self.sums.get(account, 0))

    def available(self, project_id: str, currency: str) -> int:
        held = sum(
            reserved(h.amount, h.totals)
            for h in self.holds.values()
            if h.state is HoldState.OPEN and h.ctx.project_id == project_id and h.ctx.currency == currency
        )
        account = cash_account(project_id, currency)
        return available(self.balance(account), self.credit_limits.get(account, 0), held)

    def issued(self, programme_id: str) -> int:
        return sum(v.face_minor for v in self.vouchers.values() if v.programme_id == programme_id)

    # --- writing --------------------------------------------------------------------------------
    def _post(self, transfer: Transfer) -> Transfer:
        check_balanced(transfer.entries)
        self.transfers[transfer.id] = transfer
        for e in transfer.entries:
            self.sums[e.account] = self.sums.get(e.account, 0) + e.amount
        if transfer.kind is TransferKind.CHARGE and transfer.once_key is not None:
            self.charged_usage[transfer.once_key] = transfer.id
        return transfer

    def _seen(self, transfer_id: str, kind: TransferKind, ref: str) -> Transfer | None:
        seen = self.transfers.get(transfer_id)
        if seen is not None and (seen.kind, seen.ref) != (kind, ref):
            raise TransferMismatch(f"transfer {transfer_id} is a {seen.kind.value} of {seen.ref}")
        return seen

    def topup(self, transfer_id: str, project_id: str, amount: int, currency: str, at: datetime) -> Transfer:
        if amount <= 0:
            raise LedgerError("a top-up is positive")
        seen = self._seen(transfer_id, TransferKind.TOPUP, project_id)
        if seen:
            return seen
        entries = topup_entries(project_id, amount, currency)
        return self._post(Transfer(transfer_id, TransferKind.TOPUP, at, entries, project_id))

    def add_programme(self, programme: Programme) -> None:
        self.programmes.setdefault(programme.id, programme)

    def grant(self, transfer_id: str, voucher: Voucher, at: datetime) -> Transfer:
        seen = self._seen(transfer_id, TransferKind.GRANT, voucher.id)
        if seen:
            return seen
        programme = self.programmes[voucher.programme_id]
        if voucher.currency != programme.currency or voucher.face_minor <= 0:
            raise LedgerError("a voucher is positive and in its programme's currency")
        if self.issued(programme.id) + voucher.face_minor > programme.budget_minor:
            raise LedgerError("the programme's budget does not cover this grant")
        self.vouchers[voucher.id] = voucher
        return self._post(Transfer(transfer_id, TransferKind.GRANT, at, grant_entries(voucher), voucher.id))

    def expire(self, transfer_id: str, voucher_id: str, at: datetime) -> Transfer | None:
        """Write off what is left of a voucher past its validity; None if nothing was left."""
        seen = self._seen(transfer_id, TransferKind.EXPIRE, voucher_id)
        if seen:
            return seen
        v = self.vouchers[voucher_id]
        if at < v.valid_until or voucher_id in self.expired:
            return None
        self.expired.add(voucher_id)
        left = self.balance(voucher_account(v.id))
        if left <= 0:
            return None
        return self._post(Transfer(transfer_id, TransferKind.EXPIRE, at, expire_entries(v, left), v.id))

    def hold(self, hold_id: str, ctx: ChargeContext, book: PriceBook, amount: int) -> Hold:
        seen = self.holds.get(hold_id)
        if seen is not None:
            return seen
        free = self.available(ctx.project_id, ctx.currency)
        if amount > free:
            raise InsufficientFunds(amount, free, ctx.currency)
        hold = Hold(hold_id, ctx, book, amount)
        self.holds[hold_id] = hold
        return hold

    def release(self, hold_id: str) -> Hold:
        hold = self.holds[hold_id]
        hold = replace(hold, state=hold_transition(hold.state, HoldEvent.RELEASE))
        self.holds[hold_id] = hold
        return hold

    def capture(
        self, hold_id: str, usage_key: str, usage: Usage, at: datetime, *, final: bool = False
    ) -> Transfer | None:
        """Charge one usage record against a hold; the transfer id is `charge:<usage_key>`, so a usage
        record is charged once. `final` resolves the hold. None when the record costs nothing."""
        transfer_id = f"charge:{usage_key}"
        seen = self._seen(transfer_id, TransferKind.CHARGE, hold_id)
        if seen or usage_key in self.charged_usage:
            return seen
        hold = self.holds[hold_id]
        state = hold_transition(hold.state, HoldEvent.FINISH if final else HoldEvent.CAPTURE)
        amount, payable, cumulative = next_charge(hold.book, hold.totals, usage, final=final)
        split = split_charge(
            amount,
            self.eligible_vouchers(hold.ctx, at),
            self._cash_for(hold),
            self._past_charges(hold_id),
        )
        transfer = None
        if amount:
            entries = charge_entries(split, payable, hold.ctx)
            transfer = self._post(
                Transfer(transfer_id, TransferKind.CHARGE, at, entries, hold_id, once_key=usage_key)
            )
        else:
            self.charged_usage[usage_key] = ""
        totals = HoldTotals(
            cumulative,
            hold.totals.charged + amount,
            hold.totals.payable + min(payable, amount),
            hold.totals.cash + split.cash,
        )
        self.holds[hold_id] = replace(hold, state=state, totals=totals)
        return transfer

    def _past_charges(self, hold_id: str) -> list[PastCharge]:
        """The hold's charges so far: when, how much, and what each voucher paid."""
        out = []
        for t in self.transfers.values():
            if t.kind is TransferKind.CHARGE and t.ref == hold_id:
                parts: dict[str, int] = {}
                for e in t.entries:
                    if e.amount > 0 and account_kind(e.account) is AccountKind.VOUCHER:
                        voucher_id = e.account.split(":", 1)[1]
                        parts[voucher_id] = parts.get(voucher_id, 0) + e.amount
                out.append(PastCharge(t.at, sum(e.amount for e in t.entries if e.amount > 0), parts))
        return out

    def _cash_for(self, hold: Hold) -> int:
        """Cash a capture may take: its own reservation plus whatever else is available."""
        free = self.available(hold.ctx.project_id, hold.ctx.currency)
        return max(0, free + reserved(hold.amount, hold.totals))

    def eligible_vouchers(self, ctx: ChargeContext, at: datetime) -> list[tuple[Voucher, int]]:
        return [
            (v, self.balance(voucher_account(v.id)))
            for v in self.vouchers.values()
            if v.id not in self.expired and voucher_applies(v, ctx, at, self.relations)
        ]

    def refund(self, transfer_id: str, charge_id: str, at: datetime) -> Transfer:
        """Reverse a charge in full: each source gets its part back, a voucher while it is live, else
        its programme (clawed back: `refund_entries`)."""
        seen = self._seen(transfer_id, TransferKind.REFUND, charge_id)
        if seen:
            return seen
        charge = self.transfers.get(charge_id)
        if charge is None or charge.kind is not TransferKind.CHARGE:
            raise LedgerError(f"no charge {charge_id}")
        if charge_id in self.refunded:
            raise LedgerError(f"charge {charge_id} was refunded already")
        programme_of = {v.id: v.programme_id for v in self.vouchers.values()}
        live = {v.id for v in self.vouchers.values() if voucher_live(v.valid_until, v.id in self.expired, at)}
        entries = refund_entries(charge, programme_of, live)
        self.refunded[charge_id] = transfer_id
        return self._post(
            Transfer(
                transfer_id, TransferKind.REFUND, at, entries, charge_id, once_key=f"refund-of:{charge_id}"
            )
        )

    def accounts(self, kind: AccountKind | None = None) -> list[str]:
        return [a for a in self.sums if kind is None or account_kind(a) is kind]
