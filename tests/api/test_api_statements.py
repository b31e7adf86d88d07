"""Statements, settlement, usage, budgets, credit limits and the audit trail through the real API:
who may see and change what, the documents' formats, thresholds once, and the hard cap at submit."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from api_net import GPU_POOL, Net

from suanli.control import budgets, holds, ledger, settlement
from suanli.domain.ledger import Usage

GPU_JOB = {"name": "train", "run": "python train.py", "resources": {"accelerators": "A100:1"}}


def member_token(net: Net, org: str, user: str, role: str) -> str:
    net.ok("POST", f"/orgs/{org}/members", net.operator, json={"user": user, "role": role})
    return str(net.ok("POST", "/tokens", net.operator, json={"name": "t", "user": user})["token"])


def priced_site(net: Net) -> str:
    """Site dc1 of provider dc: 36.00 CNY per A100-hour (1 fen a second), 28.80 wholesale; demo funded."""
    agent = net.add_site("dc1", [GPU_POOL])
    prices = {"tenant": {"accelerator_hour": "36.00"}, "wholesale": {"accelerator_hour": "28.80"}}
    net.ok("POST", "/sites/dc1/pools/gpu/prices", net.operator, json=prices)
    topup = {"amount": "1000.00", "reason": "invoice 2026-118 paid"}
    net.ok("POST", "/orgs/demo/projects/default/topups", net.operator, json=topup)
    return agent


def run(net: Net, agent: str, name: str, seconds: int, seq: int) -> str:
    """Submit, place and run a job to success; the site reports `seconds` of usage under `seq`,
    and the ledger charges it (what the control loop does on usage)."""
    job = net.ok("POST", "/jobs", net.tenant, json={"spec": {**GPU_JOB, "name": name}})
    net.cycle()
    [launch] = net.ok("POST", "/agent/sync", agent, json={"attempts": []})["launch"]
    start = net.clock()
    usage = {"seq": seq, "attempt_id": launch["attempt_id"], "started_at": start.isoformat(),
             "ended_at": (start + timedelta(seconds=seconds)).isoformat(), "accelerator_seconds": seconds,
             "cpu_seconds": 0, "wall_seconds": seconds}  # fmt: skip
    done = {"id": launch["attempt_id"], "fencing_token": launch["fencing_token"], "state": "SUCCEEDED"}
    net.clock.advance(seconds)  # it ran that long: a site is never paid for more than an attempt lived
    net.ok("POST", "/agent/sync", agent, json={"attempts": [done], "usage": [usage]})
    with net.cp.db.transaction() as tx:
        site = tx.sites.site_by_name("dc1")
        assert site is not None
        [record] = tx.billing.usage_at(site.id, [seq])
        attempt = tx.jobs.attempt(record.attempt_id)
        assert attempt is not None and settlement.is_duplicate(tx, record) is None
        hold_id = f"hold:{attempt.id}"
        holds.hold(tx, hold_id, project_id=_project_id(tx), pool_id=attempt.pool_id, amount=10_000,
                    now=net.clock(), job_id=job["id"], attempt_id=attempt.id)  # fmt: skip
        holds.capture(tx, hold_id, ledger.usage_key(record), Usage(seconds), net.clock(), final=True)
    return str(job["id"])


def _project_id(tx: Any) -> str:
    org = tx.tenancy.org_by_name("demo")
    return str(tx.tenancy.project_by_name(org.id, "default").id)


def test_a_statement_in_every_format_for_finance_only(net: Net) -> None:
    agent = priced_site(net)
    job = run(net, agent, "train", 5_400, 1)
    finance = member_token(net, "demo", "fin", "finance")
    member = member_token(net, "demo", "mel", "member")
    stranger = net.tenant_token("rival", "eve")
    body = net.ok("GET", "/orgs/demo/statements", finance, params={"month": "2026-11", "project": "default"})
    assert [(line["job"], line["hours"], line["amount"]["text"]) for line in body["lines"]] == [
        (job, "1.50", "54.00 CNY")
    ]
    assert [(line["seconds"], line["accelerator_seconds"]) for line in body["lines"]] == [(5_400, 5_400)]
    assert [line["cpu_hours"] for line in body["lines"]] == ["1.50"]  # 1 CPU held for 1.5 h, as charged
    assert body["funding"] == [
        {"source": "cash", "amount": {"minor": 5_400, "currency": "CNY", "text": "54.00 CNY"}}
    ]
    [balance] = body["balances"]
    assert (balance["opening"]["minor"], balance["topups"]["minor"], balance["closing"]["minor"]) == (
        0,
        100_000,
        94_600,
    )
    assert (
        balance["reconciles"]
        and net.ok("GET", "/orgs/demo/balance", finance)["projects"][0]["balance"]["minor"] == 94_600
    )
    as_csv = net.call("GET", "/orgs/demo/statements", finance, params={"month": "2026-11", "format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    job_row = list(csv.DictReader(io.StringIO(as_csv.text)))[2]
    assert (job_row["kind"], job_row["hours"], job_row["seconds"]) == ("job", "1.50", "5400")
    page = net.call(
        "GET", "/orgs/demo/statements", net.operator, params={"month": "2026-11", "format": "html"}
    )
    assert (
        page.headers["content-type"].startswith("text/html")
        and "default-src 'none'" in page.headers["content-security-policy"]
    )
    assert "54.00 CNY" in page.text and "<script" not in page.text
    assert net.call("GET", "/orgs/demo/statements", member).status_code == 403
    assert net.call("GET", "/orgs/demo/statements", stranger).status_code == 404
    assert net.call("GET", "/orgs/demo/statements", finance, params={"month": "11/2026"}).status_code == 422
    for path in ("/orgs/demo/statements", "/settlements"):  # a month not yet begun has nothing to report
        ahead = net.call("GET", path, net.operator, params={"month": "2026-12"})
        assert ahead.status_code == 422, ahead.text
        assert ahead.json()["detail"] == "2026-12 has not begun; it is 2026-11 now"
        assert ahead.json()["errors"] == [{"field": "month", "message": "a month up to 2026-11"}]


def test_usage_grouped_with_money_for_finance_only(net: Net) -> None:
    agent = priced_site(net)
    run(net, agent, "one", 3_600, 1)
    run(net, agent, "two", 1_800, 2)
    member = member_token(net, "demo", "mel", "member")
    by_site = net.ok("GET", "/usage", net.tenant, params={"by": "site", "org": "demo"})["items"]
    assert [(i["key"], i["records"], i["accelerator_hours"], i["charged"][0]["minor"]) for i in by_site] == [
        ("dc1", 2, "1.50", 5_400)
    ]
    # CPU-hours as charged: the CPUs the jobs held × the time they ran, not the CPU time reported (0)
    assert [(i["cpu_hours"], i["cpu_used_hours"]) for i in by_site] == [("1.50", "0.00")]
    mine = net.ok("GET", "/usage", member, params={"by": "user"})["items"]
    assert [(i["key"], i["hours"], i["charged"]) for i in mine] == [("demo", "1.50", None)]
    assert net.ok("GET", "/usage", net.operator, params={"by": "month"})["items"][0]["key"] == "2026-11"
    later = {"by": "month", "since": "2026-11-25T14:00:00"}  # no zone: UTC; the records came by 13:30
    assert net.ok("GET", "/usage", net.operator, params=later)["items"] == []
    assert net.call("GET", "/usage", member, params={"by": "pool"}).status_code == 422


def test_a_provider_sees_the_usage_on_its_sites_but_not_its_tenants_money_or_projects(net: Net) -> None:
    agent = priced_site(net)  # dc1 of provider dc
    run(net, agent, "one", 3_600, 1)
    net.add_site("elsewhere", [GPU_POOL])  # also dc's, unused
    owner = member_token(net, "dc", "dan", "owner")
    by_site = net.ok("GET", "/usage", owner, params={"by": "site"})["items"]  # its one org: dc
    assert [(i["key"], i["records"], i["accelerator_hours"], i["charged"]) for i in by_site] == [
        ("dc1", 1, "1.00", None)
    ]
    assert net.ok("GET", "/usage", owner, params={"by": "month", "org": "dc"})["items"][0]["records"] == 1
    refused = net.call("GET", "/usage", owner, params={"by": "project"})
    assert refused.status_code == 422 and "site, month" in refused.text
    # A tenant's view is as it was: its jobs' usage wherever they ran.
    assert (
        net.ok("GET", "/usage", net.tenant, params={"by": "site", "org": "demo"})["items"][0]["key"] == "dc1"
    )


def test_budget_roles_thresholds_once_and_the_hard_cap_at_submit(net: Net) -> None:
    agent = priced_site(net)
    finance = member_token(net, "demo", "fin", "finance")
    member = member_token(net, "demo", "mel", "member")
    stranger = net.tenant_token("rival", "eve")
    # no cap while it is spent past: a hard cap would keep each job's one-hour hold (36.00) out
    budget = {"month": "2026-11", "amount": "20.00", "hard_cap": False, "reason": "pilot"}
    path = "/orgs/demo/projects/default/budget"
    assert net.call("PUT", path, member, json=budget).status_code == 403
    assert net.call("PUT", path, stranger, json=budget).status_code == 404
    assert net.call("GET", path, stranger).status_code == 404
    assert net.ok("PUT", path, finance, json=budget)["budget"]["hard_cap"] is False
    run(net, agent, "one", 1_200, 1)  # 12.00 of 20.00: 60%
    checks = []
    for seconds in (0, 900, 0):  # then 21.00: 105%
        if seconds:
            run(net, agent, "two", seconds, 2)
        with net.cp.db.transaction() as tx:
            checks.append([e["threshold"] for e in budgets.check(tx, net.clock())])
    assert checks == [[50], [80, 100], []]
    budget = {**budget, "hard_cap": True}
    assert net.ok("PUT", path, finance, json=budget)["budget"]["hard_cap"] is True
    shown = net.ok("GET", path, finance)
    assert [e["threshold"] for e in shown["events"]] == [50, 80, 100] and shown["budget"]["blocked"]
    refused = net.call("POST", "/jobs", net.tenant, json={"spec": GPU_JOB})
    assert refused.status_code == 409 and refused.json()["code"] == "budget_exceeded"
    assert "demo/default" in refused.json()["detail"] and "20.00 CNY" in refused.json()["detail"]
    net.ok("PUT", path, finance, json={**budget, "amount": "50.00"})
    assert net.call("POST", "/jobs", net.tenant, json={"spec": GPU_JOB}).status_code == 201
    audit = net.ok("GET", "/audit", finance, params={"org": "demo", "action": "budget"})["items"]
    assert [(a["actor"], a["amount"]["text"], a["detail"]["hard_cap"]) for a in audit] == [
        ("fin", "20.00 CNY", False),
        ("fin", "20.00 CNY", True),
        ("fin", "50.00 CNY", True),
    ]


def test_a_budget_set_below_what_the_month_spent_alerts_at_once(net: Net) -> None:
    agent = priced_site(net)
    run(net, agent, "one", 1_200, 1)  # 12.00
    path = "/orgs/demo/projects/default/budget"
    shown = net.ok("PUT", path, net.operator, json={"month": "*", "amount": "20.00"})  # 60%
    assert [(e["threshold"], e["spent"]["text"]) for e in shown["events"]] == [(50, "12.00 CNY")]


def test_credit_limits_are_for_operators_and_every_change_is_audited(net: Net) -> None:
    priced_site(net)
    finance = member_token(net, "demo", "fin", "finance")
    path = "/orgs/demo/projects/default/credit-limit"
    body = {"limit": "500.00", "reason": "grant pending"}
    assert net.call("PUT", path, finance, json=body).status_code == 403
    assert net.call("PUT", path, net.tenant, json=body).status_code == 403
    view = net.ok("PUT", path, net.operator, json=body)
    assert (view["credit_limit"]["minor"], view["available"]["minor"]) == (50_000, 150_000)
    money = {"topup", "refund", "credit_limit", "budget"}  # the money records (a price set has an amount too)
    trail = [a for a in net.ok("GET", "/audit", net.operator)["items"] if a["action"] in money]
    assert [(a["action"], a["target"], a["amount"]["minor"], a["reason"]) for a in trail] == [
        ("topup", "/orgs/demo/projects/default/topups", 100_000, "invoice 2026-118 paid"),
        ("credit_limit", "/orgs/demo/projects/default/credit-limit", 50_000, "grant pending"),
    ]
    assert net.call("GET", "/audit", finance).status_code == 403  # every org's trail: operators
    assert net.call("GET", "/audit", net.tenant, params={"org": "demo"}).status_code == 200


def test_settlement_for_the_provider_and_operators(net: Net) -> None:
    agent = priced_site(net)
    run(net, agent, "one", 3_600, 1)
    run(net, agent, "two", 600, 3)  # seq 2 never arrives
    provider_finance = member_token(net, "dc", "pat", "finance")
    view = net.ok("GET", "/settlements", provider_finance, params={"month": "2026-11"})
    [p] = view["providers"]
    assert (p["provider"], p["totals"][0]["payable"]["text"], p["reconciles"]) == ("dc", "33.60 CNY", True)
    assert p["sites"][0]["gaps"] == [{"from": 2, "to": 2}]
    assert net.call("GET", "/settlements", net.tenant).status_code == 403
    assert net.call("GET", "/settlements", net.tenant, params={"provider": "dc"}).status_code == 404
    as_csv = net.call("GET", "/settlements", net.operator, params={"provider": "dc", "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["kind"] for r in rows] == ["job", "job", "gap"]  # a line per job, summed
    assert [r["note"] for r in rows[:2]] == [f"pool gpu: 1 charge, at {r['at']}" for r in rows[:2]]


def test_payouts_take_what_a_provider_is_owed_down_and_the_settlement_still_reconciles(net: Net) -> None:
    agent = priced_site(net)
    run(net, agent, "one", 3_600, 1)  # 28.80 CNY payable to dc
    pay = {"amount": "20.00", "reason": "bank transfer 2026-11-0042", "transfer_id": "pay-0042"}
    assert net.call("POST", "/orgs/dc/payouts", net.tenant, json=pay).status_code == 403
    paid = net.ok("POST", "/orgs/dc/payouts", net.operator, json=pay)
    assert (paid["amount"]["text"], paid["owed"]["text"]) == ("20.00 CNY", "8.80 CNY")
    assert (
        net.ok("POST", "/orgs/dc/payouts", net.operator, json=pay)["transfer"] == "pay-0042"
    )  # a retry: once
    too_much = net.call("POST", "/orgs/dc/payouts", net.operator, json={"amount": "9.00", "reason": "x"})
    assert too_much.status_code == 422 and "at most what the provider is owed: 8.80 CNY" in too_much.text
    assert net.call("POST", "/orgs/nobody/payouts", net.operator, json=pay).status_code == 404
    [p] = net.ok("GET", "/settlements", net.operator, params={"month": "2026-11", "provider": "dc"})[
        "providers"
    ]
    [total] = p["totals"]
    assert [total[k]["text"] for k in ("payable", "paid", "owed")] == ["28.80 CNY", "20.00 CNY", "8.80 CNY"]
    assert p["reconciles"] is True and [x["transfer"] for x in p["payouts"]] == ["pay-0042"]
    as_csv = net.call("GET", "/settlements", net.operator, params={"provider": "dc", "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["kind"], r["amount"]) for r in rows] == [("payout", "-20.00"), ("job", "28.80")]
    [audited] = net.ok("GET", "/audit", net.operator, params={"action": "payout"})["items"]
    assert (audited["target"], audited["amount"]["text"], audited["reason"]) == (
        "/orgs/dc/payouts",
        "20.00 CNY",
        "bank transfer 2026-11-0042",
    )


def test_a_refund_after_a_payout_says_the_provider_owes_it_back_and_the_settlement_flags_it(net: Net) -> None:
    """A payout paid the provider for a job later refunded: the refund reverses the payable below
    zero. The refund says so, and the settlement marks the provider overpaid, as a flag and a row."""
    agent = priced_site(net)
    job = run(net, agent, "one", 3_600, 1)  # 28.80 CNY payable to dc
    net.ok("POST", "/orgs/dc/payouts", net.operator, json={"amount": "28.80", "reason": "bank transfer"})
    refund = net.ok("POST", f"/jobs/{job}/refund", net.operator, json={"reason": "site fault"})
    assert refund["warnings"] == [
        "dc was already paid for this: it owes back 28.80 CNY, netted against what it earns next (suanli settlement)"
    ]
    [p] = net.ok("GET", "/settlements", net.operator, params={"month": "2026-11", "provider": "dc"})[
        "providers"
    ]
    [total] = p["totals"]
    assert (total["owed"]["text"], total["overpaid"], p["flags"], p["reconciles"]) == (
        "-28.80 CNY",
        True,
        1,
        True,
    )
    as_csv = net.call("GET", "/settlements", net.operator, params={"provider": "dc", "format": "csv"})
    [flag] = [r for r in csv.DictReader(io.StringIO(as_csv.text)) if r["kind"] == "overpaid"]
    assert flag["note"] == "paid beyond what it earned: owes back 28.80 CNY"
    run(net, agent, "two", 3_600, 2)  # earns it back
    [p] = net.ok("GET", "/settlements", net.operator, params={"month": "2026-11", "provider": "dc"})[
        "providers"
    ]
    assert (p["totals"][0]["owed"]["text"], p["totals"][0]["overpaid"], p["flags"]) == ("0.00 CNY", False, 0)
    again = net.ok("POST", f"/jobs/{job}/refund", net.operator, json={"reason": "site fault"})
    assert again["refunded"] == [] and again["warnings"] == []


def test_a_refused_budget_names_only_the_wrong_field(net: Net) -> None:
    path = "/orgs/demo/projects/default/budget"
    for body, field in [
        ({"month": "2026-10", "amount": "30.00"}, "month"),  # ended: it would limit nothing
        ({"month": "*", "amount": "-3"}, "amount"),
        ({"month": "*", "amount": "ten"}, "amount"),
        ({"month": "*", "amount": "30.00", "thresholds": [0, 50]}, "thresholds"),
    ]:
        refused = net.call("PUT", path, net.operator, json=body)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == [field], refused.text


def test_a_month_outside_the_calendar_is_refused_naming_month(net: Net) -> None:
    for month in ("9999-12", "0000-01", "٢٠٢٦-11"):
        for method, path, kw in [
            ("PUT", "/orgs/demo/projects/default/budget", {"json": {"month": month, "amount": "1"}}),
            ("GET", "/orgs/demo/projects/default/budget", {"params": {"month": month}}),
            ("GET", "/orgs/demo/statements", {"params": {"month": month}}),
            ("GET", "/settlements", {"params": {"month": month}}),
        ]:
            refused = net.call(method, path, net.operator, **kw)
            assert refused.status_code == 422, (method, path, month, refused.text)
            assert [e["field"] for e in refused.json()["errors"]] == ["month"], refused.text


def test_a_tenant_org_named_as_a_provider_is_said_to_be_a_tenant(net: Net) -> None:
    """`payout demo …` once said `no provider org 'demo'` (404) of a tenant org that exists: it is
    the wrong kind of org, as `site add --org demo` says. An org the caller cannot see stays 404."""
    pay = {"amount": "1.00", "reason": "x"}
    for refused, field in [
        (net.call("POST", "/orgs/demo/payouts", net.operator, json=pay), "org"),
        (net.call("GET", "/settlements", net.operator, params={"provider": "demo"}), "provider"),
        (net.call("GET", "/settlements", net.tenant, params={"provider": "demo"}), "provider"),
    ]:
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"] == "org 'demo' is a tenant"
        assert [e["field"] for e in refused.json()["errors"]] == [field]
    net.ok("POST", "/orgs", net.operator, json={"name": "rival", "kind": "tenant"})
    unseen = net.call("GET", "/settlements", net.tenant, params={"provider": "rival"})
    assert unseen.status_code == 404 and "no provider org 'rival'" in unseen.text
