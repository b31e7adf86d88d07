"""The ledger on both databases: append-only transfers, holds, captures, vouchers, refunds, expiry,
and a differential stateful run of the service against the in-memory `Ledger`."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from store_migrations import load_migration

from suanli.control import holds, ledger, ledger_check
from suanli.control.errors import Conflict, Forbidden
from suanli.control.principal import Principal
from suanli.domain.billing import TENANT_SIDE, month_of
from suanli.domain.ledger import (
    ChargeContext,
    HoldResolved,
    HoldState,
    InsufficientFunds,
    PriceBook,
    Rates,
    Transfer,
    TransferKind,
    Usage,
    Voucher,
    account_kind,
    cash_account,
    programme_account,
    voucher_account,
)
from suanli.domain.ledger_engine import Ledger, Programme
from suanli.store import Conflict as StoreConflict
from suanli.store import Database, PoolOffer

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
OPERATOR = Principal(kind="user", token_id="tok_op", user_id="usr_op", user_name="op", operator=True)
BOOK = PriceBook(
    "CNY", Rates(Decimal(3600), Decimal(36)), Rates(Decimal(2880), Decimal(18)), minimum_minor=500
)
_serial = itertools.count()


def seed(db: Database, book: PriceBook = BOOK) -> dict[str, str]:
    """A tenant org with a project, a provider with a priced A100 pool; names unique per call."""
    n = next(_serial)
    with db.transaction() as tx:
        org = tx.tenancy.add_org(f"t{n}", "tenant", NOW)
        project = tx.tenancy.add_project(org.id, "default", NOW)
        provider = tx.tenancy.add_org(f"p{n}", "provider", NOW)
        site = tx.sites.add_site(f"s{n}", provider.id, "cn", NOW)
        tx.sites.offer(site.id, [PoolOffer("gpu", "A100", 8, 2, 64, 1024)], NOW)
        pool = tx.sites.pools([site.id])[0]
        t, w = book.tenant, book.wholesale
        tx.ledger.add_price_version(
            pool_id=pool.id,
            version=1,
            currency=book.currency,
            tenant_accelerator_hour=str(t.accelerator_hour),
            tenant_cpu_hour=str(t.cpu_hour),
            tenant_gb_hour=str(t.gb_hour),
            wholesale_accelerator_hour=str(w.accelerator_hour),
            wholesale_cpu_hour=str(w.cpu_hour),
            wholesale_gb_hour=str(w.gb_hour),
            minimum_minor=book.minimum_minor,
            effective_at=NOW - timedelta(days=1),
            created_by="test",
            created_at=NOW,
        )
        programme = tx.ledger.add_programme(f"pg{n}", "district", "CNY", 100_000, NOW)
        return {
            "org": org.id,
            "project": project.id,
            "provider": provider.id,
            "site": site.id,
            "pool": pool.id,
            "programme": programme.name,
        }


def voucher(ids: dict[str, str], share: str, face: int, days: int = 30) -> Voucher:
    return Voucher(
        "", "", ids["org"], "CNY", face, Decimal(share), NOW - timedelta(days=1), NOW + timedelta(days=days)
    )


def grant(db: Database, ids: dict[str, str], v: Voucher, tid: str) -> str:
    with db.transaction() as tx:
        programme = tx.ledger.programme_by_name(ids["programme"])
        assert programme is not None
        return ledger.grant_voucher(tx, tid, programme, v, NOW, "op").id


def test_a_job_is_held_charged_by_interval_and_finished(db: Database) -> None:
    ids = seed(db)
    with db.transaction() as tx:
        ledger.topup(tx, "top1", ids["project"], 10_000, "CNY", NOW, "op")
        with pytest.raises(InsufficientFunds):
            holds.hold(tx, "h0", project_id=ids["project"], pool_id=ids["pool"], amount=10_001, now=NOW)
    vid = grant(db, ids, voucher(ids, "0.3", 1_000), "g1")
    with db.transaction() as tx:
        holds.hold(tx, "h1", project_id=ids["project"], pool_id=ids["pool"], amount=8_000, now=NOW)
        assert holds.funds(tx, ids["project"], "CNY").available == 2_000
        first = holds.capture(tx, "h1", "u1", Usage(accelerator_seconds=3600), NOW)
        holds.capture(tx, "h1", "u2", Usage(accelerator_seconds=1800), NOW, final=True)
    with db.transaction() as tx:
        assert holds.capture(tx, "h1", "u1", Usage(accelerator_seconds=3600), NOW).id == first.id  # replay
        with pytest.raises(HoldResolved):
            holds.release(tx, "h1", NOW)
        # 5400 fen charged: the voucher covers 30% of each capture (1080 + 540 → capped at its 1000)
        assert ledger.balance(tx, voucher_account(vid)) == 0
        assert ledger.balance(tx, cash_account(ids["project"], "CNY")) == 10_000 - 4_400
        assert ledger.balance(tx, f"payable:{ids['provider']}:CNY") == 4_320
        assert ledger.balance(tx, "revenue:platform:CNY") == 1_080
        assert holds.funds(tx, ids["project"], "CNY").available == 5_600  # the rest of the hold released
        assert set(tx.ledger.sums_by_currency().values()) == {0}


def test_a_refund_pays_a_live_voucher_back_and_claws_back_one_past_its_validity(db: Database) -> None:
    """A refund pays each source back what it paid: a voucher while it is valid and not written off
    (it may pay again), else its programme, as the voucher's expiry would have written it off."""
    ids = seed(db)
    with db.transaction() as tx:
        ledger.topup(tx, "top", ids["project"], 10_000, "CNY", NOW, "op")
    vid = grant(db, ids, voucher(ids, "1", 2_000, days=1), "g")
    with db.transaction() as tx:
        programme = programme_account(tx.ledger.voucher(vid).programme_id)  # type: ignore[union-attr]
        holds.hold(tx, "h", project_id=ids["project"], pool_id=ids["pool"], amount=3_000, now=NOW)
        first = holds.capture(tx, "h", "u1", Usage(accelerator_seconds=1000), NOW)
        second = holds.capture(tx, "h", "u2", Usage(accelerator_seconds=1000), NOW)
        third = holds.capture(tx, "h", "u3", Usage(accelerator_seconds=1000), NOW, final=True)
        assert ledger.balance(tx, voucher_account(vid)) == 0  # 1,000 a charge: the third paid in cash
        ledger.refund(tx, "r", first.id, NOW, "op")
        with pytest.raises(Conflict):
            ledger.refund(tx, "r2", first.id, NOW, "op")
    with db.transaction() as tx:
        assert ledger.balance(tx, voucher_account(vid)) == 1_000  # given back: the voucher is valid
        assert ledger.balance(tx, programme) == 2_000  # granted, none of it clawed back
        ledger.refund_many(tx, [third.id], NOW, "op")  # cash alone
        assert ledger.balance(tx, voucher_account(vid)) == 1_000
        # its validity over, not yet written off: the part goes to the programme, not to the voucher
        ledger.refund(tx, "r3", second.id, NOW + timedelta(days=1), "op")
        assert ledger.balance(tx, voucher_account(vid)) == 1_000
        assert ledger.balance(tx, programme) == 1_000  # 1,000 of the grant clawed back
        assert ledger.expire_vouchers(tx, NOW + timedelta(days=2)) != []
    with db.transaction() as tx:
        assert ledger.balance(tx, voucher_account(vid)) == 0
        assert ledger.balance(tx, programme) == 0  # clawed back or written off: nothing out any more
        assert ledger.balance(tx, cash_account(ids["project"], "CNY")) == 10_000
        assert ledger.expire_vouchers(tx, NOW + timedelta(days=3)) == []
        assert set(tx.ledger.sums_by_currency().values()) == {0}


def test_a_months_spend_moves_with_each_charge_and_refund_and_migration_0013_fills_it_alike(
    db: Database,
) -> None:
    """A budget's spend is kept per project and month as charges post (vouchers and cash alike),
    less refunds in the month they are dated; 0013 fills the same figures from the ledger, and a
    downgrade drops them."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations
    from sqlalchemy import inspect

    migration = load_migration("0013_month_spend")
    ids, other = seed(db), seed(db)
    later = NOW + timedelta(days=10)  # December
    with db.transaction() as tx:
        for project in (ids["project"], other["project"]):
            ledger.topup(tx, f"t-{project}", project, 100_000, "CNY", NOW, "op")
    grant(db, ids, voucher(ids, "0.3", 1_000), "g")
    with db.transaction() as tx:
        holds.hold(tx, "h", project_id=ids["project"], pool_id=ids["pool"], amount=20_000, now=NOW)
        holds.hold(tx, "o", project_id=other["project"], pool_id=other["pool"], amount=20_000, now=NOW)
        first = holds.capture(tx, "h", "u1", Usage(accelerator_seconds=3600), NOW)  # 1,000 of it vouchers
        holds.capture(tx, "o", "v1", Usage(accelerator_seconds=600), NOW)
        holds.capture(tx, "h", "u2", Usage(accelerator_seconds=1800), later, final=True)
        ledger.refund(tx, "r", first.id, later, "op")

    def spent() -> list[int]:
        with db.read() as tx:
            return [
                tx.ledger.month_spent(ids["project"], "CNY", "2026-11"),
                tx.ledger.month_spent(ids["project"], "CNY", "2026-12"),
                tx.ledger.month_spent(ids["project"], "USD", "2026-11"),
                tx.ledger.month_spent(other["project"], "CNY", "2026-11"),
            ]

    assert spent() == [3_600, 1_800 - 3_600, 0, 600]
    with db.engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        migration.downgrade()
        assert "month_spend" not in inspect(conn).get_table_names()
        migration.upgrade()
    assert spent() == [3_600, 1_800 - 3_600, 0, 600]


def test_the_ledger_check_finds_nothing_on_a_ledger_the_service_wrote_and_each_change_made_behind_it(
    db: Database,
) -> None:
    """`suanli ledger check`'s reads: a ledger of top-ups, a voucher, charges and a refund is
    consistent; then each cache or line changed behind the service's back is named with its figures."""
    from sqlalchemy import text

    ids = seed(db)
    with db.transaction() as tx:
        ledger.topup(tx, "t", ids["project"], 10_000, "CNY", NOW, "op")
    vid = grant(db, ids, voucher(ids, "0.3", 5_000), "g")  # 16.20 of it spent, 10.80 paid back
    with db.transaction() as tx:
        holds.hold(tx, "h", project_id=ids["project"], pool_id=ids["pool"], amount=8_000, now=NOW)
        first = holds.capture(tx, "h", "u1", Usage(accelerator_seconds=3600), NOW)
        holds.capture(tx, "h", "u2", Usage(accelerator_seconds=1800), NOW, final=True)
        ledger.refund(tx, "r", first.id, NOW, "op")

    def findings() -> dict[str, list[str]]:
        with db.read() as tx:
            found = ledger_check.check(tx, OPERATOR)
            assert found["read"]["vouchers"] >= 1 and found["read"]["month_spends"] >= 1
            assert found["consistent"] == all(c["ok"] for c in found["checks"])
            return {c["name"]: c["findings"] for c in found["checks"] if c["findings"]}

    assert findings() == {}
    with pytest.raises(Forbidden), db.read() as tx:
        ledger_check.check(tx, replace(OPERATOR, operator=False))
    cash = cash_account(ids["project"], "CNY")
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE ledger_accounts SET signed_sum = signed_sum - 7 WHERE id = :a"), {"a": cash}
        )
        conn.execute(
            text("UPDATE month_spend SET charged_minor = charged_minor + 1 WHERE project_id = :p"),
            {"p": ids["project"]},
        )
        conn.execute(text("UPDATE vouchers SET face_minor = 400 WHERE id = :v"), {"v": vid})
    found = findings()
    assert found.pop("account_balances") == [
        f"account {cash}: kept balance 87.47 CNY, its entries make 87.40 CNY"
    ]
    [spend] = found.pop("month_spends")
    assert spend.startswith(f"project {ids['project']}, 2026-11: kept spend ") and "sum to 18.00 CNY" in spend
    assert found.pop("vouchers") == [f"voucher {vid}: holds 44.60 CNY, its face value is 4.00 CNY"]
    assert found == {}
    with db.engine.begin() as conn:  # a line added to the top-up: it no longer balances, nor does the ledger
        conn.execute(
            text(
                "INSERT INTO ledger_entries (transfer_id, account_id, amount_minor, currency, source) "
                "VALUES ('t', :a, 5, 'CNY', '')"
            ),
            {"a": cash},
        )
    found = findings()
    assert found["transfers_balance"] == ["transfer t: its entries sum to 0.05 CNY, not 0"]
    assert found["ledger_balances"][0].startswith("CNY: all entries sum to ")


def test_reads_by_more_ids_than_a_statement_takes_parameters_are_batched(db: Database) -> None:
    """A month's settlement reads a key per usage record, a job's charges a row per charge; past 65,535 ids (PostgreSQL's
    limit on parameters) the reads must still answer, and find what is there."""
    ids = seed(db)
    many = [f"x{i}" for i in range(70_000)]
    with db.transaction() as tx:
        topup = ledger.topup(tx, "t", ids["project"], 10_000, "CNY", NOW, "op")
        holds.hold(tx, "h", project_id=ids["project"], pool_id=ids["pool"], amount=1_000, now=NOW)
        holds.capture(tx, "h", "u1", Usage(accelerator_seconds=60), NOW)
    with db.read() as tx:
        assert {e.transfer_id for e in tx.ledger.entries([*many, topup.id])} == {topup.id}
        rows = [
            (e.transfer_id, e.account_id, e.amount_minor, e.source, e.currency)
            for e in tx.ledger.entries([topup.id])
        ]
        assert tx.ledger.entry_lines([*many, topup.id]) == rows and len(rows) == 2
        assert list(tx.ledger.charges_by_once_key([*many, "u1"])) == ["u1"]
        assert tx.ledger.charged_keys([*many, "u1"]) == {"u1"}
        assert [h.id for h in tx.ledger.holds([*many, "h"])] == ["h"]
        assert tx.ledger.held_attempts(many) == set()
        assert tx.billing.usage_at(ids["site"], range(1, 70_001)) == []
        assert tx.sequences.of_attempts(ids["site"], set(many), since=NOW, until=NOW, reaching=None) == (
            [],
            [],
        )
        assert tx.jobs.by_ids(many) == {} and tx.jobs.attempts_by_ids(many) == {}


def test_a_voucher_pays_its_share_of_what_was_charged_while_it_was_valid_however_many_charges(
    db: Database,
) -> None:
    """Each capture asks what the hold was charged while each voucher was valid, summed in the
    database between the vouchers' bounds (`LedgerRepo.past_charges`): a charge before a voucher
    began does not count towards its share, the ones after do, floored once on their total."""
    ids = seed(db, replace(BOOK, minimum_minor=0))
    later = NOW + timedelta(hours=1)
    vid = grant(db, ids, replace(voucher(ids, "0.3", 1_000), valid_from=later), "g")
    with db.transaction() as tx:
        ledger.topup(tx, "t", ids["project"], 10_000, "CNY", NOW, "op")
        holds.hold(tx, "h", project_id=ids["project"], pool_id=ids["pool"], amount=1_000, now=NOW)
        holds.capture(tx, "h", "before", Usage(accelerator_seconds=100), NOW)  # 1.00, before it began
        for i in range(10):  # ten charges of one fen each: 0.3 fen apiece, 3 fen in all
            holds.capture(tx, "h", f"u{i}", Usage(accelerator_seconds=1), later + timedelta(seconds=i))
    with db.read() as tx:
        assert [len(tx.ledger.past_charges("h", [later]))] == [2]  # a stretch before it began, one after
        assert ledger.balance(tx, voucher_account(vid)) == 1_000 - 3


def test_a_usage_record_is_charged_once_even_across_holds(db: Database) -> None:
    ids = seed(db)
    with db.transaction() as tx:
        ledger.topup(tx, "t", ids["project"], 10_000, "CNY", NOW, "op")
        holds.hold(tx, "a", project_id=ids["project"], pool_id=ids["pool"], amount=100, now=NOW)
        holds.hold(tx, "b", project_id=ids["project"], pool_id=ids["pool"], amount=100, now=NOW)
        first = holds.capture(tx, "a", "u", Usage(10), NOW)
        assert holds.capture(tx, "b", "u", Usage(10), NOW).id == first.id
    with pytest.raises(StoreConflict), db.transaction() as tx:  # the database refuses it too
        tx.ledger.post(
            Transfer("other", TransferKind.CHARGE, NOW, (), "b", once_key="u"),
            "x",
        )


def test_a_transfer_that_would_pass_what_a_balance_can_hold_is_refused_whole(db: Database) -> None:
    """Amounts are capped where they are read (`parse_money`); the store still refuses a balance past
    64 bits, with nothing of the transfer written, rather than failing inside the database."""
    ids = seed(db)
    cash = cash_account(ids["project"], "CNY")
    huge = 2**62
    with db.transaction() as tx:
        ledger.topup(tx, "t1", ids["project"], huge, "CNY", NOW, "op")
    with pytest.raises(StoreConflict, match="largest the ledger keeps"), db.transaction() as tx:
        ledger.topup(tx, "t2", ids["project"], huge, "CNY", NOW, "op")
    with db.read() as tx:
        assert ledger.balance(tx, cash) == huge  # the second top-up left no trace
        assert set(tx.ledger.sums_by_currency().values()) == {0}


class StoreMachine(RuleBasedStateMachine):
    """The service on a real database must agree with the in-memory `Ledger` after every step."""

    db: Database

    def __init__(self) -> None:
        super().__init__()
        self.ids = seed(self.db)
        self.model = Ledger()
        self.model.add_programme(Programme("pg", "district", "CNY", 100_000))
        self.n = 0
        self.vouchers: dict[str, str] = {}  # model id → store id
        self.ctx = ChargeContext(
            self.ids["org"], self.ids["project"], self.ids["provider"], self.ids["site"], "A100", "CNY"
        )
        self.now = NOW
        with self.db.read() as tx:  # accounts shared with earlier examples: compare what moved since
            self.base = {a: ledger.balance(tx, a) for a in ("funding:external:CNY", "revenue:platform:CNY")}

    def _id(self, p: str) -> str:
        self.n += 1
        return f"{p}-{self.ids['project']}-{self.n}"

    @rule(amount=st.integers(1, 20_000))
    def topup(self, amount: int) -> None:
        tid = self._id("t")
        self.model.topup(tid, self.ids["project"], amount, "CNY", self.now)
        with self.db.transaction() as tx:
            ledger.topup(tx, tid, self.ids["project"], amount, "CNY", self.now, "op")

    @rule(face=st.integers(1, 5_000), share=st.sampled_from(["0.3", "1"]), days=st.integers(0, 3))
    def grant(self, face: int, share: str, days: int) -> None:
        tid = self._id("g")
        v = voucher(self.ids, share, face, days)
        store_id = grant(self.db, self.ids, v, tid)
        self.model.grant(tid, replace(v, id=store_id, programme_id="pg"), self.now)
        self.vouchers[store_id] = store_id

    @rule(amount=st.integers(0, 5_000))
    def hold(self, amount: int) -> None:
        hid, outcomes = self._id("h"), []
        for apply in (
            lambda: self.model.hold(hid, self.ctx, BOOK, amount),
            lambda: self._store_hold(hid, amount),
        ):
            try:
                apply()
                outcomes.append(True)
            except InsufficientFunds:
                outcomes.append(False)
        assert outcomes[0] == outcomes[1]

    def _store_hold(self, hid: str, amount: int) -> None:
        with self.db.transaction() as tx:
            holds.hold(
                tx, hid, project_id=self.ids["project"], pool_id=self.ids["pool"], amount=amount, now=self.now
            )

    def _open(self) -> list[str]:
        return [h for h, v in self.model.holds.items() if v.state is HoldState.OPEN]

    @precondition(lambda self: self._open())
    @rule(i=st.integers(0, 100), acc=st.integers(0, 20_000), final=st.booleans())
    def capture(self, i: int, acc: int, final: bool) -> None:
        hid, key = self._open()[i % len(self._open())], self._id("u")
        self.model.capture(hid, key, Usage(acc, acc * 2), self.now, final=final)
        with self.db.transaction() as tx:
            holds.capture(tx, hid, key, Usage(acc, acc * 2), self.now, final=final)

    @precondition(lambda self: self._open())
    @rule(i=st.integers(0, 100))
    def release(self, i: int) -> None:
        hid = self._open()[i % len(self._open())]
        self.model.release(hid)
        with self.db.transaction() as tx:
            holds.release(tx, hid, self.now)

    @rule(hours=st.integers(1, 48))
    def expire(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        for vid in list(self.model.vouchers):
            self.model.expire(f"expire:{vid}", vid, self.now)
        with self.db.transaction() as tx:
            ledger.expire_vouchers(tx, self.now)

    @rule(i=st.integers(0, 100))
    def refund(self, i: int) -> None:
        charges = [
            t
            for t in self.model.transfers.values()
            if t.kind.value == "charge" and t.id not in self.model.refunded
        ]
        if charges:
            cid = charges[i % len(charges)].id
            self.model.refund(f"r-{cid}", cid, self.now)
            with self.db.transaction() as tx:
                ledger.refund(tx, f"r-{cid}", cid, self.now, "op")

    @rule(every=st.integers(1, 3))
    def refund_many(self, every: int) -> None:
        """Refunds of many charges at once (`ledger.refund_many`, one post for all) leave the books
        as the model's refunds one by one do."""
        charges = [
            t.id
            for t in self.model.transfers.values()
            if t.kind.value == "charge" and t.id not in self.model.refunded
        ][::every]
        for cid in charges:
            self.model.refund(f"refund:{cid}", cid, self.now)
        with self.db.transaction() as tx:
            assert [t.id for t in ledger.refund_many(tx, charges, self.now, "op")] == [
                f"refund:{c}" for c in charges
            ]

    @invariant()
    def store_agrees_with_the_model(self) -> None:
        with self.db.read() as tx:
            for account in self.model.sums:
                store_account = account.replace("programme:pg", f"programme:{self._programme_id(tx)}")
                assert ledger.balance(tx, store_account) - self.base.get(account, 0) == self.model.balance(
                    account
                ), account
            assert holds.funds(tx, self.ids["project"], "CNY").available == self.model.available(
                self.ids["project"], "CNY"
            )
            assert set(tx.ledger.sums_by_currency().values()) <= {0}
            spend: dict[str, int] = {}  # the budget's spend by month: charges and refunds, tenant side
            for t in self.model.transfers.values():
                if t.kind in (TransferKind.CHARGE, TransferKind.REFUND):
                    lines = sum(e.amount for e in t.entries if account_kind(e.account) in TENANT_SIDE)
                    spend[month_of(t.at)] = spend.get(month_of(t.at), 0) + lines
            for month in {month_of(NOW), month_of(self.now), *spend}:
                assert tx.ledger.month_spent(self.ids["project"], "CNY", month) == spend.get(month, 0), month

    @invariant()
    def voucher_sums_are_their_entries_added_up(self) -> None:
        """A programme's report reads its accounts' entries summed in the database
        (`BillingRepo.voucher_sums`); they are what adding the entries up one by one gives."""
        with self.db.read() as tx:
            pid = self._programme_id(tx)
            accounts = [voucher_account(v.id) for v in tx.ledger.vouchers(programme_id=pid)] + [
                programme_account(pid)
            ]
            folded: dict[tuple, int] = {}
            for e, t in tx.ledger.entries_of_accounts(accounts):
                hold_id = t.ref
                if t.kind == "refund":
                    charge = tx.ledger.transfer(t.ref)
                    hold_id = charge.ref if charge else ""
                hold = tx.ledger.hold(hold_id) if t.kind in ("charge", "refund") else None
                key = (
                    t.kind,
                    e.account_id,
                    e.source,
                    e.amount_minor < 0,
                    hold.provider_org_id if hold else None,
                )
                folded[key] = folded.get(key, 0) + e.amount_minor
            assert {row[:5]: row[5] for row in tx.billing.voucher_sums(accounts)} == folded

    def _programme_id(self, tx: object) -> str:
        programme = tx.ledger.programme_by_name(self.ids["programme"])  # type: ignore[attr-defined]
        return str(programme.id)


def test_service_matches_the_in_memory_ledger(db: Database) -> None:
    StoreMachine.db = db
    StoreMachine.TestCase.settings = settings(
        max_examples=8, stateful_step_count=20, deadline=None, suppress_health_check=list(HealthCheck)
    )
    StoreMachine.TestCase("runTest").runTest()


def test_a_stored_usage_record_is_charged_under_its_site_and_seq(db: Database) -> None:
    ids = seed(db)
    with db.transaction() as tx:
        user = tx.tenancy.add_user(f"u{ids['project']}", NOW)
        job = tx.jobs.add(
            org_id=ids["org"],
            project_id=ids["project"],
            user_id=user.id,
            name="j",
            spec={},
            retries=0,
            now=NOW,
        )
        attempt = tx.jobs.add_attempt(
            job,
            site_id=ids["site"],
            pool_id=ids["pool"],
            accelerator="A100",
            accelerators_per_node=8,
            cpus_per_node=2,
            memory_mib_per_node=2048,
            nodes=[0],
            lease_expires_at=NOW,
            created_at=NOW,
        )
        # measured CPU time is not what is charged: the allocation (2 CPUs × 1 h) is
        fields = {"wall_seconds": 3600, "cpu_seconds": 60, "accelerator_seconds": 8 * 3600}
        tx.jobs.add_usage(site_id=ids["site"], seq=1, attempt=attempt, now=NOW, **fields)
        ledger.topup(tx, "t", ids["project"], 10**6, "CNY", NOW, "op")
        amount = ledger.expected_amount(tx, ids["pool"], Usage(8 * 3600, 7200), NOW)
        assert amount == 8 * 3600 + 2 * 36
        holds.hold(tx, "h", project_id=ids["project"], pool_id=ids["pool"], amount=amount, now=NOW)
    with db.transaction() as tx:
        record = tx.jobs.usage(job.id)[0]
        usage = ledger.usage_of(record, attempt)
        assert usage == Usage(8 * 3600, 7200, 2048 * 3600)  # 2 GiB for an hour, in MiB-seconds
        first = holds.capture(tx, "h", ledger.usage_key(record), usage, NOW, final=True)
        assert holds.capture(tx, "h", ledger.usage_key(record), usage, NOW).id == first.id
        assert holds.funds(tx, ids["project"], "CNY").balance == 10**6 - amount


def test_migration_0009_counts_a_holds_memory_in_mib_seconds_both_ways(db: Database) -> None:
    """Holds stored with whole GiB-seconds are converted (× 1024), and back on a downgrade."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations
    from sqlalchemy import text

    migration = load_migration("0009_hold_memory_in_mib_seconds")
    ids = seed(db)
    with db.transaction() as tx:
        holds.hold(tx, "h", project_id=ids["project"], pool_id=ids["pool"], amount=0, now=NOW)
        row = tx.ledger.hold("h")
        assert row is not None
        row.mib_seconds = 3 * 1024
    with db.engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        migration.downgrade()
        assert conn.execute(text("SELECT gb_seconds FROM holds WHERE id = 'h'")).scalar() == 3
        conn.execute(text("UPDATE holds SET gb_seconds = 5 WHERE id = 'h'"))
        migration.upgrade()
    with db.transaction() as tx:
        row = tx.ledger.hold("h")
        assert row is not None and row.mib_seconds == 5 * 1024
