"""Statements and budgets on both databases: a statement's totals equal the ledger, its balances
reconcile; a budget's thresholds are recorded once per month and a hard cap refuses new jobs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from billing_builders import NOW, OPERATOR, World, charge, job, report, world

from suanli.control import budgets, holds, ledger, statements
from suanli.control.errors import Conflict, Forbidden
from suanli.control.principal import Principal
from suanli.domain.ledger import Voucher
from suanli.store import Database, Tx

OCTOBER = NOW - timedelta(days=30)


def grant(tx: Tx, w: World, share: str) -> str:
    programme = tx.ledger.add_programme(f"pg-{w.org}", "district", "CNY", 1_000_000, NOW)
    voucher = Voucher(
        "", "", w.org_id, "CNY", 100_000, Decimal(share), NOW - timedelta(days=60), NOW + timedelta(days=30)
    )
    return ledger.grant_voucher(tx, f"grant-{w.org}", programme, voucher, NOW, "op").id


def test_a_statement_totals_the_ledger_by_job_and_funding_source(db: Database) -> None:
    with db.transaction() as tx:
        w = world(tx)
        grant(tx, w, "0.3")
        _, old = job(tx, w, "october")
        _, a1 = job(tx, w, "train <big>")
        _, a2 = job(tx, w, "refunded")
        charge(tx, report(tx, old, 1, OCTOBER, 500, recorded=OCTOBER), at=OCTOBER)  # 150 voucher + 350 cash
        charge(tx, report(tx, a1, 2, NOW, 3600))  # 1080 voucher + 2520 cash
        c2 = charge(tx, report(tx, a2, 3, NOW, 1000))  # 300 voucher + 700 cash ...
        assert c2 is not None
        ledger.refund(tx, "refund:2", c2, NOW, "op")  # ... given back
        ledger.topup(tx, "top:nov", w.project_id, 10_000, "CNY", NOW - timedelta(days=5), "op")
        balance_now = holds.funds(tx, w.project_id, "CNY").balance
    with db.read() as tx:
        st = statements.statement(tx, OPERATOR, w.org, None, "2026-11")
    lines = sorted((line.name, line.amount, line.refunded, line.hours, line.pool) for line in st.lines)
    assert lines == [("refunded", 0, 1_000, "0.28", "gpu"), ("train <big>", 3_600, 0, "1.00", "gpu")]
    assert st.totals() == {"CNY": 3_600}
    assert {f.source: f.amount for f in st.funding} == {"cash": 2_520, f"voucher:pg-{w.org}": 1_080}
    [b] = st.balances
    assert (b.opening, b.topups, b.cash_charged, b.closing) == (1_000_000 - 350, 10_000, 2_520, balance_now)
    assert b.reconciles and b.closing == 1_000_000 - 350 + 10_000 - 2_520
    october = statements.view(statements_of(db, w, "2026-10"))
    assert [t["minor"] for t in october["totals"]] == [500]


def statements_of(db: Database, w: World, month: str) -> statements.Statement:
    with db.read() as tx:
        return statements.statement(tx, OPERATOR, w.org, "default", month)


def test_only_finance_roles_see_a_statement(db: Database) -> None:
    with db.transaction() as tx:
        w = world(tx)
    member = Principal(kind="user", token_id="t", user_id="u", user_name="m", roles={w.org_id: "member"})
    finance = Principal(kind="user", token_id="t", user_id="u", user_name="f", roles={w.org_id: "finance"})
    with db.read() as tx:
        with pytest.raises(Forbidden):
            statements.statement(tx, member, w.org, None, "2026-11")
        assert statements.statement(tx, finance, w.org, None, "2026-11").lines == ()


def test_thresholds_are_recorded_once_and_the_hard_cap_refuses_jobs(db: Database) -> None:
    with db.transaction() as tx:
        w = world(tx)
        budgets.set_budget(
            tx, OPERATOR, w.org, "default", month="2026-11", amount="50.00", thresholds=None,
            hard_cap=True, reason="pilot", now=NOW,
        )  # fmt: skip
        _, a1 = job(tx, w, "one")
        charge(tx, report(tx, a1, 1, NOW, 3_600))  # 36.00 of 50.00: 72%
    seen = []
    for seconds in (0, 1_000, 0, 1_000, 0):
        with db.transaction() as tx:
            if seconds:
                _, attempt = job(tx, w, "more")
                charge(tx, report(tx, attempt, len(seen) + 10, NOW, seconds))
            seen.append([e["threshold"] for e in budgets.check(tx, NOW)])
    assert seen == [[50], [80], [], [100], []]
    with db.transaction() as tx:
        project = tx.tenancy.project(w.project_id)
        assert project is not None
        with pytest.raises(Conflict, match=r"tenant\d+/default .*budget for 2026-11.*56.00 CNY.*50.00 CNY"):
            budgets.refuse_over_cap(tx, project, w.org, NOW)
        budgets.refuse_over_cap(tx, project, w.org, NOW + timedelta(days=10))  # December: no budget
        view = budgets.show(tx, OPERATOR, w.org, "default", "2026-11")
        assert [e["threshold"] for e in view["events"]] == [50, 80, 100]
        assert view["budget"]["percent"] == 112 and view["budget"]["blocked"] is True
        assert [a.action for a in tx.billing.audit()] == ["budget"]


def test_a_standing_budget_applies_to_months_without_their_own(db: Database) -> None:
    with db.transaction() as tx:
        w = world(tx)
        for month, amount in (("*", "100.00"), ("2026-12", "10.00")):
            budgets.set_budget(
                tx, OPERATOR, w.org, "default", month=month, amount=amount, thresholds=[90],
                hard_cap=False, reason="", now=NOW,
            )  # fmt: skip
        nov = budgets.show(tx, OPERATOR, w.org, "default", "2026-11")["budget"]
        dec = budgets.show(tx, OPERATOR, w.org, "default", "2026-12")["budget"]
        assert (nov["month"], nov["amount"]["minor"], dec["month"], dec["amount"]["minor"]) == (
            "*",
            10_000,
            "2026-12",
            1_000,
        )
