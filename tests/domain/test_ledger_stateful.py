"""The in-memory ledger under random top-ups, holds, captures, releases, grants, expiries and refunds.

After every step: per currency debits equal credits; no cash account below its credit limit and no
voucher below zero; every hold resolved at most once; no voucher over its face, its share of a charge,
or used outside its validity; every usage record charged exactly once; each programme reconciles.
`max_examples × stateful_step_count` is 10,000 steps per run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from suanli.domain.ledger import (
    AccountKind,
    ChargeContext,
    HoldResolved,
    HoldState,
    InsufficientFunds,
    LedgerError,
    PriceBook,
    Rates,
    TransferKind,
    Usage,
    Voucher,
    account_kind,
    cash_account,
    programme_account,
    voucher_account,
)
from suanli.domain.ledger_engine import Ledger, Programme

START = datetime(2026, 1, 1, tzinfo=UTC)
PROJECTS = [("org_a", "prj_a1"), ("org_a", "prj_a2"), ("org_b", "prj_b1")]
PROVIDERS = [("org_p", "site_p1", "A100"), ("org_q", "site_q1", "H100"), ("org_b", "site_b1", None)]
BOOKS = [
    PriceBook("CNY", Rates(Decimal(3800), Decimal(10), Decimal("0.7")), Rates(Decimal(3000), Decimal(8)), 50),
    PriceBook("CNY", Rates(Decimal("1234.567"), Decimal(3)), Rates(Decimal("1234.567"), Decimal(3))),
]


class LedgerMachine(RuleBasedStateMachine):
    checks = 0  # invariant rounds, across examples
    examples = 0

    def __init__(self) -> None:
        super().__init__()
        self.ledger = Ledger()
        self.now = START
        self.serial = 0
        self.resolutions: dict[str, int] = {}
        self.usage_keys: list[str] = []
        self.hold_of: dict[str, str] = {}
        LedgerMachine.examples += 1
        for pid, budget in (("pg_city", 50_000), ("pg_district", 20_000)):
            self.ledger.add_programme(Programme(pid, pid, "CNY", budget))

    def _id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}{self.serial}"

    @rule(p=st.sampled_from(PROJECTS), amount=st.integers(1, 200_000))
    def topup(self, p: tuple[str, str], amount: int) -> None:
        tid = self._id("top")
        first = self.ledger.topup(tid, p[1], amount, "CNY", self.now)
        assert self.ledger.topup(tid, p[1], amount, "CNY", self.now) is first  # idempotent

    @rule(p=st.sampled_from(PROJECTS), limit=st.sampled_from([0, 1000, 20_000]))
    def credit_limit(self, p: tuple[str, str], limit: int) -> None:
        account = cash_account(p[1], "CNY")
        # Lowering a limit below what is already used would break the invariant: the service refuses it.
        if self.ledger.balance(account) + limit >= 0:
            self.ledger.credit_limits[account] = limit

    @rule(
        org=st.sampled_from(["org_a", "org_b"]),
        programme=st.sampled_from(["pg_city", "pg_district"]),
        face=st.integers(1, 15_000),
        share=st.sampled_from(["0.3", "0.5", "1"]),
        days=st.integers(0, 20),
        provider=st.sampled_from([None, "org_p", "org_q"]),
        accelerator=st.sampled_from([None, "A100", "cpu"]),
    )
    def grant(
        self,
        org: str,
        programme: str,
        face: int,
        share: str,
        days: int,
        provider: str | None,
        accelerator: str | None,
    ) -> None:
        v = Voucher(
            self._id("v"),
            programme,
            org,
            "CNY",
            face,
            Decimal(share),
            self.now,
            self.now + timedelta(days=days, hours=1),
            frozenset({provider}) if provider else frozenset(),
            frozenset(),
            frozenset({accelerator}) if accelerator else frozenset(),
        )
        over = self.ledger.issued(programme) + face > self.ledger.programmes[programme].budget_minor
        try:
            self.ledger.grant(self._id("g"), v, self.now)
            assert not over
        except LedgerError:
            assert over

    @rule(a=st.sampled_from(["org_a", "org_b"]), b=st.sampled_from(["org_p", "org_q"]))
    def relate(self, a: str, b: str) -> None:
        self.ledger.relations = self.ledger.relations | {(a, b)}

    @rule(hours=st.integers(0, 24 * 5))
    def advance(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule(
        p=st.sampled_from(PROJECTS),
        where=st.sampled_from(PROVIDERS),
        book=st.sampled_from(BOOKS),
        amount=st.integers(0, 10_000),
    )
    def hold(
        self, p: tuple[str, str], where: tuple[str, str, str | None], book: PriceBook, amount: int
    ) -> None:
        ctx = ChargeContext(p[0], p[1], where[0], where[1], where[2], "CNY")
        free = self.ledger.available(p[1], "CNY")
        try:
            self.ledger.hold(self._id("h"), ctx, book, amount)
            assert amount <= free
        except InsufficientFunds:
            assert amount > free

    def _open(self) -> list[str]:
        return [h.id for h in self.ledger.holds.values() if h.state is HoldState.OPEN]

    @precondition(lambda self: self._open())
    @rule(
        i=st.integers(0, 10**6), acc=st.integers(0, 40_000), cpu=st.integers(0, 100_000), final=st.booleans()
    )
    def capture(self, i: int, acc: int, cpu: int, final: bool) -> None:
        holds = self._open()
        hold_id = holds[i % len(holds)]
        key = self._id("u")
        self.usage_keys.append(key)
        self.hold_of[key] = hold_id
        self.ledger.capture(hold_id, key, Usage(acc, cpu, cpu * 4), self.now, final=final)
        if final:
            self.resolutions[hold_id] = self.resolutions.get(hold_id, 0) + 1

    @precondition(lambda self: self.usage_keys)
    @rule(i=st.integers(0, 10**6))
    def capture_again(self, i: int) -> None:
        key = self.usage_keys[i % len(self.usage_keys)]
        before = len(self.ledger.transfers)
        self.ledger.capture(self.hold_of[key], key, Usage(3600), self.now)
        assert len(self.ledger.transfers) == before

    @precondition(lambda self: self.ledger.holds)
    @rule(i=st.integers(0, 10**6))
    def release(self, i: int) -> None:
        hold_id = list(self.ledger.holds)[i % len(self.ledger.holds)]
        if self.ledger.holds[hold_id].state is HoldState.OPEN:
            self.ledger.release(hold_id)
            self.resolutions[hold_id] = self.resolutions.get(hold_id, 0) + 1
        else:
            try:
                self.ledger.release(hold_id)
                raise AssertionError("a resolved hold was released again")
            except HoldResolved:
                pass

    @precondition(lambda self: self.ledger.vouchers)
    @rule(i=st.integers(0, 10**6))
    def expire(self, i: int) -> None:
        vid = list(self.ledger.vouchers)[i % len(self.ledger.vouchers)]
        self.ledger.expire(f"exp:{vid}", vid, self.now)

    @rule(i=st.integers(0, 10**6))
    def refund(self, i: int) -> None:
        charges = [t.id for t in self.ledger.transfers.values() if t.kind is TransferKind.CHARGE]
        if not charges:
            return
        cid = charges[i % len(charges)]
        if cid in self.ledger.refunded:
            try:
                self.ledger.refund(self._id("r"), cid, self.now)
                raise AssertionError("a charge was refunded twice")
            except LedgerError:
                return
        refund = self.ledger.refund(f"refund:{cid}", cid, self.now)
        # each voucher's part back to it while it is valid and not written off, else to its programme
        for e in refund.entries:
            if account_kind(e.account) in (AccountKind.VOUCHER, AccountKind.PROGRAMME):
                v = self.ledger.vouchers[e.source.removeprefix("voucher:")]
                live = v.id not in self.ledger.expired and self.now < v.valid_until
                assert e.account == (voucher_account(v.id) if live else programme_account(v.programme_id))

    # --- invariants -----------------------------------------------------------------------------
    @invariant()
    def debits_equal_credits(self) -> None:
        sums: dict[str, int] = {}
        for t in self.ledger.transfers.values():
            assert sum(e.amount for e in t.entries) == 0
            for e in t.entries:
                sums[e.account] = sums.get(e.account, 0) + e.amount
        assert sums == {a: s for a, s in self.ledger.sums.items() if s or a in sums}

    @invariant()
    def no_account_below_its_limit(self) -> None:
        for account in self.ledger.sums:
            kind = account_kind(account)
            if kind is AccountKind.CASH:
                assert self.ledger.balance(account) >= -self.ledger.credit_limits.get(account, 0)
            elif kind is AccountKind.VOUCHER:
                assert self.ledger.balance(account) >= 0

    @invariant()
    def holds_resolve_at_most_once(self) -> None:
        assert all(n <= 1 for n in self.resolutions.values())
        for hold_id, n in self.resolutions.items():
            assert self.ledger.holds[hold_id].state is not HoldState.OPEN and n == 1

    @invariant()
    def vouchers_keep_their_rules(self) -> None:
        redeemed: dict[str, int] = {}
        charged: dict[tuple[str, str], int] = {}  # (hold, voucher) → charged while it was valid
        paid: dict[tuple[str, str], int] = {}  # (hold, voucher) → what it paid of those charges
        for t in self.ledger.transfers.values():
            if t.kind is TransferKind.REFUND:  # paid back to a live voucher: it may pay again
                for e in t.entries:
                    if account_kind(e.account) is AccountKind.VOUCHER:
                        vid = e.account.split(":", 1)[1]
                        redeemed[vid] = redeemed.get(vid, 0) + e.amount
            if t.kind is not TransferKind.CHARGE:
                continue
            amount = sum(e.amount for e in t.entries if e.amount > 0)
            for v in self.ledger.vouchers.values():
                if v.valid_from <= t.at < v.valid_until:
                    charged[(t.ref, v.id)] = charged.get((t.ref, v.id), 0) + amount
            for e in t.entries:
                if e.amount > 0 and account_kind(e.account) is AccountKind.VOUCHER:
                    v = self.ledger.vouchers[e.account.split(":", 1)[1]]
                    assert v.valid_from <= t.at < v.valid_until
                    assert e.amount <= (v.share * amount).to_integral_value(ROUND_CEILING)
                    redeemed[v.id] = redeemed.get(v.id, 0) + e.amount
                    paid[(t.ref, v.id)] = paid.get((t.ref, v.id), 0) + e.amount
        for v in self.ledger.vouchers.values():
            assert redeemed.get(v.id, 0) <= v.face_minor
        # never more than its share of what a hold was charged while it was valid, all told
        for (hold, vid), part in paid.items():
            assert part <= self.ledger.vouchers[vid].share * charged[(hold, vid)]

    @invariant()
    def usage_charged_exactly_once(self) -> None:
        keys = [t.once_key for t in self.ledger.transfers.values() if t.once_key is not None]
        assert len(keys) == len(set(keys))
        assert set(self.usage_keys) == set(self.ledger.charged_usage)

    @invariant()
    def programmes_reconcile(self) -> None:
        for pid in self.ledger.programmes:
            expired = clawed = 0
            for t in self.ledger.transfers.values():
                for e in t.entries:
                    if e.account == programme_account(pid) and e.amount < 0:
                        if t.kind is TransferKind.EXPIRE:
                            expired -= e.amount
                        else:
                            clawed -= e.amount
            assert self.ledger.balance(programme_account(pid)) == self.ledger.issued(pid) - expired - clawed
            outstanding = sum(
                self.ledger.balance(voucher_account(v.id))
                for v in self.ledger.vouchers.values()
                if v.programme_id == pid
            )
            redeemed = sum(
                e.amount
                for t in self.ledger.transfers.values()
                if t.kind in (TransferKind.CHARGE, TransferKind.REFUND)
                for e in t.entries
                if account_kind(e.account) is AccountKind.VOUCHER
                and self.ledger.vouchers[e.account.split(":", 1)[1]].programme_id == pid
            )  # net of what refunds paid back
            assert outstanding == self.ledger.issued(pid) - redeemed - expired

    @invariant()
    def count_step(self) -> None:
        LedgerMachine.checks += 1


def test_the_ledger_keeps_its_invariants_for_10000_steps() -> None:
    """Invariants run once at the start of each example and after every step; some examples stop
    early, so 120 steps × 100 examples leaves room above the 10,000 steps asserted."""
    LedgerMachine.checks = LedgerMachine.examples = 0
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=100, stateful_step_count=120, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
    assert LedgerMachine.checks - LedgerMachine.examples >= 10_000
