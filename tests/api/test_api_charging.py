"""Money in a job's life through the real API and database: the hold at placement, captures of usage
records, insufficient funds, funds exhausted, vouchers, and two providers' payables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_net import GPU_POOL, Net
from sqlalchemy import event

from suanli.control import caps, charges, cycle, holds, ledger, snapshots
from suanli.control.cycle import apply
from suanli.domain.ledger import payable_account, revenue_account

TRAIN = {
    "name": "train",
    "run": "python train.py",
    "resources": {"accelerators": "A100:1", "max_runtime": "1h"},
}
VALID_UNTIL = "2026-12-31T00:00:00Z"
START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # the harness clock's start
PRICE = {
    "currency": "CNY",
    "tenant": {"accelerator_hour": "36.00"},
    "wholesale": {"accelerator_hour": "30.00"},
}


def sync(net: Net, agent: str, attempts: list[dict[str, Any]] | None = None, **extra: Any) -> Any:
    """One sync; usage records come after their intervals end (the server charges no more than the
    attempt has lived on its clock), so the clock is first brought to the latest end."""
    ends = [datetime.fromisoformat(u["ended_at"]) for u in extra.get("usage", ())]
    if ends and max(ends) > net.clock():
        net.clock.advance((max(ends) - net.clock()).total_seconds())
    return net.ok("POST", "/agent/sync", agent, json={"attempts": attempts or [], **extra})


def report(launch: dict[str, Any], state: str, **kw: Any) -> dict[str, Any]:
    return {"id": launch["attempt_id"], "fencing_token": launch["fencing_token"], "state": state, **kw}


def usage(launch: dict[str, Any], seq: int, seconds: int, start: int = 0) -> dict[str, Any]:
    """A usage record of `seconds` of wall time from `start` seconds after noon (it is charged for
    the attempt's allocation × wall time; the measured figures are for reports)."""
    begun = START + timedelta(seconds=start)
    return {
        "seq": seq,
        "attempt_id": launch["attempt_id"],
        "started_at": begun.isoformat(),
        "ended_at": (begun + timedelta(seconds=seconds)).isoformat(),
        "accelerator_seconds": seconds,
        "cpu_seconds": seconds // 2,
        "wall_seconds": seconds,
    }


def priced_site(net: Net, site: str = "dc1", provider: str = "dc") -> str:
    """A provider site with a 4×A100 pool at 36.00/h (30.00/h wholesale); returns its agent token."""
    if net.call("GET", f"/orgs/{provider}", net.operator).status_code == 404:
        net.ok("POST", "/orgs", net.operator, json={"name": provider, "kind": "provider"})
    enroll = net.ok("POST", "/sites", net.operator, json={"name": site, "org": provider})["enrollment_token"]
    agent = str(net.ok("POST", "/agent/enroll", enroll, json={"site": site})["token"])
    sync(net, agent, pools=[GPU_POOL])
    net.ok("POST", f"/sites/{site}/pools/gpu/prices", net.operator, json=PRICE)
    return agent


def topup(net: Net, amount: str) -> None:
    net.ok("POST", "/orgs/demo/projects/default/topups", net.operator, json={"amount": amount})


def money(net: Net) -> dict[str, int]:
    row = net.ok("GET", "/orgs/demo/balance", net.operator)["projects"][0]
    return {k: row[k]["minor"] for k in ("balance", "held", "available", "arrears")}


def account(net: Net, account_id: str) -> int:
    with net.cp.db.read() as tx:
        return ledger.balance(tx, account_id)


def org_id(net: Net, name: str) -> str:
    with net.cp.db.read() as tx:
        org = tx.tenancy.org_by_name(name)
        assert org is not None
        return org.id


def balanced(net: Net) -> bool:
    with net.cp.db.read() as tx:
        return all(v == 0 for v in tx.ledger.sums_by_currency().values())


def later(net: Net, agent: str, launch: dict[str, Any], seconds: float) -> None:
    """Time passes with the attempt running (its agent keeps the lease), then a cycle runs."""
    net.clock.advance(seconds)
    sync(net, agent, [report(launch, "RUNNING")])
    net.cycle()


def place(net: Net, agent: str, spec: dict[str, Any] = TRAIN) -> tuple[str, dict[str, Any]]:
    job = net.ok("POST", "/jobs", net.tenant, json={"spec": spec})
    net.cycle()
    [launch] = sync(net, agent)["launch"]
    sync(net, agent, [report(launch, "RUNNING")])
    return str(job["id"]), launch


def test_a_job_holds_at_placement_is_charged_once_and_pays_its_provider(net: Net) -> None:
    agent = priced_site(net)
    topup(net, "100.00")
    job, launch = place(net, agent)
    assert money(net) == {"balance": 10_000, "held": 3_600, "available": 6_400, "arrears": 0}
    with net.cp.db.read() as tx:
        attempt = tx.jobs.attempt(launch["attempt_id"])
        assert attempt is not None and attempt.price_version_id is not None  # the price is pinned
    net.clock.advance(1800)
    sync(net, agent, [report(launch, "RUNNING")], usage=[usage(launch, 1, 600)])  # an interval
    assert money(net)["balance"] == 10_000 - 600
    sync(net, agent, [report(launch, "RUNNING")], usage=[usage(launch, 2, 600)])  # renumbered repeat
    assert money(net)["balance"] == 10_000 - 600
    end = [report(launch, "SUCCEEDED", exit_code=0)]
    sync(net, agent, end, usage=[usage(launch, 1, 600), usage(launch, 3, 1200, start=600)])  # 1 resent
    assert money(net) == {"balance": 10_000 - 1_800, "held": 0, "available": 8_200, "arrears": 0}
    sync(net, agent, end, usage=[usage(launch, 3, 1200, start=600)])  # a retry is never charged twice
    assert money(net)["balance"] == 8_200
    assert account(net, payable_account(org_id(net, "dc"), "CNY")) == 1_500
    assert account(net, revenue_account("CNY")) == 300
    assert balanced(net)
    assert net.ok("GET", f"/jobs/{job}", net.tenant)["state"] == "SUCCEEDED"


def test_usage_beyond_what_the_attempt_could_have_used_is_never_charged(net: Net) -> None:
    agent = priced_site(net)
    topup(net, "100.00")
    _, launch = place(net, agent)
    net.clock.advance(1800)  # the attempt has lived half an hour on the server's clock
    claims_a_day = {**usage(launch, 1, 10), "wall_seconds": 86_400, "accelerator_seconds": 86_400}
    post = {"attempts": [report(launch, "RUNNING")]}
    net.ok("POST", "/agent/sync", agent, json={**post, "usage": [claims_a_day]})
    assert money(net)["balance"] == 10_000 - 11  # its own 10 s interval (and a second of rounding)
    two_days = usage(launch, 2, 2 * 86_400, start=10)  # an interval longer than the attempt has lived
    net.ok("POST", "/agent/sync", agent, json={**post, "usage": [two_days]})
    assert money(net)["balance"] == 10_000 - 11 - (1800 + 60)  # at most its life so far, and a minute
    with net.cp.db.read() as tx:
        stored = sorted(
            (u.seq, u.wall_seconds, u.accelerator_seconds) for u in tx.jobs.usage(launch["job_id"])
        )
    assert stored == [(1, 11, 12), (2, 1860, 1861)]  # kept as charged (and half a second of rounding)
    net.ok("POST", "/agent/sync", agent, json={**post, "usage": [claims_a_day]})  # a resend is still one
    assert money(net)["balance"] == 10_000 - 11 - 1860
    assert balanced(net)


def test_figures_rounded_each_to_the_second_are_not_cut(net: Net) -> None:
    agent = priced_site(net)
    topup(net, "200.00")  # an hour on 4 GPUs is held
    spec = {**TRAIN, "resources": {"accelerators": "A100:4", "cpus": 2, "max_runtime": "1h"}}
    _, launch = place(net, agent, spec)
    net.clock.advance(60)
    ran = {**usage(launch, 1, 25), "accelerator_seconds": 101, "cpu_seconds": 51}  # 25.3 s on 4 GPUs
    net.ok("POST", "/agent/sync", agent, json={"attempts": [report(launch, "RUNNING")], "usage": [ran]})
    with net.cp.db.read() as tx:
        [stored] = [
            (u.wall_seconds, u.accelerator_seconds, u.cpu_seconds) for u in tx.jobs.usage(launch["job_id"])
        ]
    assert stored == (25, 101, 51)


def test_a_project_without_funds_waits_and_places_after_a_top_up(net: Net) -> None:
    agent = priced_site(net)
    topup(net, "20.00")
    job = net.ok("POST", "/jobs", net.tenant, json={"spec": TRAIN})
    net.cycle()
    assert sync(net, agent)["launch"] == []
    why = net.ok("GET", f"/jobs/{job['id']}/why", net.tenant)
    [blocked] = why["blocked"]
    assert blocked["reason"].startswith("insufficient funds: needs 36.00 CNY, can hold 20.00 CNY")
    shown = net.ok("GET", f"/jobs/{job['id']}", net.tenant)["waiting"]
    assert any("insufficient funds" in w["reason"] for w in shown)
    topup(net, "16.00")
    net.cycle()
    [launch] = sync(net, agent)["launch"]
    assert launch["job_id"] == job["id"]
    assert money(net)["available"] == 0


def test_a_cpu_only_job_never_runs_unpaid_on_a_pool_priced_for_its_accelerators(net: Net) -> None:
    """A pool priced per accelerator-hour alone would charge a job holding no accelerator nothing:
    the job is refused there, with the reason, until the pool prices CPU-hours too."""
    agent = priced_site(net)
    topup(net, "50.00")
    spec = {**TRAIN, "resources": {"cpus": 2, "max_runtime": "1h"}}
    [gpu] = net.ok("POST", "/quote", net.tenant, json={"spec": spec})["candidates"]
    assert (gpu["fits"], gpu["code"]) == (False, "unresolvable")
    assert gpu["reason"].startswith("pool charges for accelerator-hours only and the job uses none")
    refused = net.call("POST", "/jobs", net.tenant, json={"spec": spec})
    assert refused.status_code == 422 and "would run unpaid" in refused.json()["errors"][0]["message"]
    with_cpus = {
        **PRICE,
        "tenant": {"accelerator_hour": "36.00", "cpu_hour": "0.50"},
        "wholesale": {"accelerator_hour": "30.00", "cpu_hour": "0.40"},
    }
    net.ok("POST", "/sites/dc1/pools/gpu/prices", net.operator, json=with_cpus)
    [gpu] = net.ok("POST", "/quote", net.tenant, json={"spec": spec})["candidates"]
    assert (gpu["fits"], gpu["expected_cost"]) == (True, "1.00 CNY")  # 2 CPUs × 1 h × 0.50
    job = net.ok("POST", "/jobs", net.tenant, json={"spec": spec})
    net.cycle()
    [launch] = sync(net, agent)["launch"]
    assert launch["job_id"] == job["id"]
    assert money(net)["held"] == 100


def test_a_quote_does_not_count_ahead_a_job_that_waits_for_money(net: Net) -> None:
    """demo's whole-pool job has no funds (and no max_runtime: counted ahead, it would hold the
    pool for good, and every start behind it would be unknown); lab's quote starts now."""
    priced_site(net)
    hog = {**TRAIN, "resources": {"accelerators": "A100:4"}}
    waiting = net.ok("POST", "/jobs", net.tenant, json={"spec": hog})
    net.cycle()
    [blocked] = net.ok("GET", f"/jobs/{waiting['id']}/why", net.tenant)["blocked"]
    assert blocked["pool"] == "(funds)"
    lab = net.tenant_token("lab", "ming")
    net.ok("POST", "/orgs/lab/projects/default/topups", net.operator, json={"amount": "500.00"})
    spec = {**TRAIN, "resources": {"accelerators": "A100:1", "max_runtime": "1h"}}
    quoted = net.ok("POST", "/quote", lab, json={"spec": spec})
    [gpu] = quoted["candidates"]
    assert (quoted["queue_ahead"], gpu["fits"], gpu["expected_start"]) == (0, True, "now")


def test_a_submit_warns_when_its_project_cannot_pay_on_any_pool_that_could_run_it(net: Net) -> None:
    priced_site(net)
    topup(net, "20.00")
    short = net.ok("POST", "/jobs", net.tenant, json={"spec": TRAIN})
    assert short["state"] == "PENDING" and short["warnings"] == [
        "it will wait: insufficient funds: needs 36.00 CNY, can hold 20.00 CNY "
        "(the hold on dc1/gpu, the cheapest pool that could run it)"
    ]
    topup(net, "100.00")
    assert "warnings" not in net.ok("POST", "/jobs", net.tenant, json={"spec": TRAIN})


def test_the_funds_gate_prices_the_whole_book_before_anything_is_held(net: Net) -> None:
    agent = priced_site(net)
    dearer = {**PRICE, "tenant": {"accelerator_hour": "36.00", "cpu_hour": "10.00"}}
    net.ok("POST", "/sites/dc1/pools/gpu/prices", net.operator, json=dearer)
    topup(net, "50.00")  # the accelerator's 36.00/h, not its 2 CPUs' 20.00/h as well
    spec = {**TRAIN, "resources": {"accelerators": "A100:1", "cpus": 2, "max_runtime": "1h"}}
    job = net.ok("POST", "/jobs", net.tenant, json={"spec": spec})
    net.cycle()
    assert sync(net, agent)["launch"] == []
    [blocked] = net.ok("GET", f"/jobs/{job['id']}/why", net.tenant)["blocked"]
    assert (
        blocked["reason"]
        == "insufficient funds: needs 56.00 CNY, can hold 50.00 CNY (a hold for 1 h on dc1/gpu)"
    )
    assert money(net) == {"balance": 5_000, "held": 0, "available": 5_000, "arrears": 0}  # nothing written
    with net.cp.db.read() as tx:
        assert tx.jobs.attempts(job["id"]) == []
    topup(net, "6.00")
    net.cycle()
    assert [x["job_id"] for x in sync(net, agent)["launch"]] == [job["id"]]
    assert money(net)["held"] == 5_600


def test_a_hold_the_applier_refuses_leaves_the_job_waiting_with_its_reason(net: Net) -> None:
    agent = priced_site(net)
    net.ok("POST", "/orgs", net.operator, json={"name": "zj", "kind": "provider"})
    net.ok("POST", "/voucher-programmes", net.operator, json={"name": "p", "budget": "1000.00"})
    grant = {"org": "demo", "face": "300.00", "share": "30%", "valid_until": VALID_UNTIL, "providers": ["zj"]}
    net.ok("POST", "/voucher-programmes/p/vouchers", net.operator, json=grant)
    topup(net, "30.00")  # with the voucher's 30% the gate sees 42.85 to spend; at dc it pays nothing
    job = net.ok("POST", "/jobs", net.tenant, json={"spec": TRAIN})
    net.cycle()
    assert sync(net, agent)["launch"] == []
    [blocked] = net.ok("GET", f"/jobs/{job['id']}/why", net.tenant)["blocked"]
    assert (blocked["pool"], blocked["reason"]) == (
        "(funds)",
        "insufficient funds: needs 36.00 CNY, available 30.00 CNY (the hold on gpu)",
    )
    assert money(net) == {"balance": 3_000, "held": 0, "available": 3_000, "arrears": 0}  # nothing written
    with net.cp.db.read() as tx:
        assert tx.jobs.attempts(job["id"]) == []
    topup(net, "6.00")
    net.cycle()
    assert [x["job_id"] for x in sync(net, agent)["launch"]] == [job["id"]]


@pytest.mark.parametrize("gate_sees_it", [True, False])
def test_a_hard_capped_budget_holds_queued_jobs_to_what_it_leaves(
    net: Net, monkeypatch: pytest.MonkeyPatch, gate_sees_it: bool
) -> None:
    """A 50.00 hard cap: the first 36.00 hold fits, a second job (submitted while 14.00 is left, so
    accepted) waits naming the budget, whether the scheduler's gate or the applier's hold (the last
    word, with the ledger as it is) catches it; raising the budget lets it start."""
    if not gate_sees_it:
        monkeypatch.setattr(snapshots, "budget_caps", lambda *_: {})
    agent = priced_site(net)
    topup(net, "500.00")
    path = "/orgs/demo/projects/default/budget"
    net.ok("PUT", path, net.operator, json={"month": "*", "amount": "50.00", "hard_cap": True})
    place(net, agent)
    second = net.ok("POST", "/jobs", net.tenant, json={"spec": TRAIN})
    net.cycle()
    assert sync(net, agent)["launch"] == []
    [blocked] = net.ok("GET", f"/jobs/{second['id']}/why", net.tenant)["blocked"]
    assert (blocked["pool"], blocked["reason"]) == (
        "(budget)",
        "hard-capped budget: needs 36.00 CNY, 14.00 CNY left of the project's 50.00 CNY for 2026-11",
    )
    assert money(net)["held"] == 3_600  # nothing written for the second
    quoted = net.ok("POST", "/quote", net.tenant, json={"spec": TRAIN})["candidates"][0]
    assert quoted["fits"] is False and quoted["reason"].startswith("hard-capped budget: needs 36.00 CNY")
    net.ok("PUT", path, net.operator, json={"month": "*", "amount": "100.00", "hard_cap": True})
    net.cycle()
    assert [x["job_id"] for x in sync(net, agent)["launch"]] == [second["id"]]


def test_a_hard_cap_stops_a_job_running_past_its_hold_whatever_the_funds_policy(net: Net) -> None:
    """A job without max_runtime holds one hour (36.00) under a 50.00 hard cap; it runs on past its
    hold on the 14.00 the cap leaves, and is stopped once that is spent though the project has money
    and runs into arrears when its funds run out (the cap is finance's word, the policy is not)."""
    agent = priced_site(net)
    topup(net, "500.00")
    net.ok("PATCH", "/orgs/demo/projects/default", net.tenant, json={"on_funds_exhausted": "continue"})
    net.ok("PUT", "/orgs/demo/projects/default/budget", net.operator, json={"month": "*", "amount": "50.00", "hard_cap": True})  # fmt: skip
    job, launch = place(net, agent, {**TRAIN, "resources": {"accelerators": "A100:1"}})
    later(net, agent, launch, 70 * 60)  # 42.00 accrued: past its hold, within the cap
    assert net.ok("GET", f"/jobs/{job}", net.tenant)["state"] == "RUNNING"
    later(net, agent, launch, 15 * 60)  # 51.00 accrued
    stopping = net.ok("GET", f"/jobs/{job}", net.tenant)
    assert (stopping["state"], stopping["reason"]) == ("CANCELLING", "hard-capped budget reached")
    said = net.ok("GET", f"/jobs/{job}/events", net.tenant)["items"][-1]["message"]
    assert said == (
        "hard-capped budget reached: 51.00 CNY not yet charged, 50.00 CNY left to spend "
        "of the project's 50.00 CNY for 2026-11; stopping it"
    )
    assert sync(net, agent, [report(launch, "RUNNING")])["cancel"] == [launch["attempt_id"]]
    sync(net, agent, [report(launch, "CANCELLED", exit_code=143)], usage=[usage(launch, 1, 85 * 60 + 5)])
    done = net.ok("GET", f"/jobs/{job}", net.tenant)
    assert (done["state"], done["reason"]) == ("CANCELLED", "hard-capped budget reached")
    after = money(net)
    assert (after["balance"], after["held"], after["arrears"]) == (50_000 - 5_105, 0, 0)
    assert balanced(net)


def test_jobs_past_their_holds_share_the_caps_room_and_the_later_one_stops(net: Net) -> None:
    """Two one-hour holds (36.00 each) under a 100.00 cap leave 28.00 unreserved. At 90 minutes
    each has run 18.00 past its hold: together more than the room, so the one that started later
    stops; the earlier runs on (each alone would have fit, and both ran past the cap before)."""
    agent = priced_site(net)
    topup(net, "500.00")
    net.ok("PUT", "/orgs/demo/projects/default/budget", net.operator, json={"month": "*", "amount": "100.00", "hard_cap": True})  # fmt: skip
    spec = {**TRAIN, "resources": {"accelerators": "A100:1"}}
    first, one = place(net, agent, spec)
    net.clock.advance(1)
    second, two = place(net, agent, spec)
    net.clock.advance(70 * 60)
    sync(net, agent, [report(one, "RUNNING"), report(two, "RUNNING")])
    net.cycle()  # 6.00 past each hold: 12.00 of the 28.00
    assert [net.ok("GET", f"/jobs/{j}", net.tenant)["state"] for j in (first, second)] == ["RUNNING"] * 2
    net.clock.advance(20 * 60)
    sync(net, agent, [report(one, "RUNNING"), report(two, "RUNNING")])
    net.cycle()  # 18.00 past each: 36.00 of the 28.00
    states = [(net.ok("GET", f"/jobs/{j}", net.tenant)["state"], net.ok("GET", f"/jobs/{j}", net.tenant)["reason"]) for j in (first, second)]  # fmt: skip
    assert states == [("RUNNING", None), ("CANCELLING", "hard-capped budget reached")]


def test_a_job_within_its_hold_runs_on_when_the_cap_is_lowered_and_one_past_it_stops_at_its_charge(
    net: Net,
) -> None:
    """Lowering a cap below what is spent keeps running jobs to their holds (counted when they
    started); a usage record that charges one past its hold with no room left stops it at once."""
    agent = priced_site(net)
    topup(net, "500.00")
    job, launch = place(net, agent, {**TRAIN, "resources": {"accelerators": "A100:1"}})
    net.ok("PUT", "/orgs/demo/projects/default/budget", net.operator, json={"month": "*", "amount": "1.00", "hard_cap": True})  # fmt: skip
    later(net, agent, launch, 30 * 60)  # 18.00 accrued of its 36.00 hold
    assert net.ok("GET", f"/jobs/{job}", net.tenant)["state"] == "RUNNING"
    answer = sync(net, agent, [report(launch, "RUNNING")], usage=[usage(launch, 1, 3600)])  # 36.00
    assert answer["cancel"] == [launch["attempt_id"]]
    assert net.ok("GET", f"/jobs/{job}", net.tenant)["reason"] == "hard-capped budget reached"


def test_a_running_job_is_stopped_when_its_funds_are_exhausted(net: Net) -> None:
    agent = priced_site(net)
    topup(net, "50.00")
    spec = {**TRAIN, "resources": {"accelerators": "A100:1"}}  # no max_runtime: a one-hour hold
    job, launch = place(net, agent, spec)
    assert money(net)["held"] == 3_600
    later(net, agent, launch, 70 * 60)  # 42.00 accrued of 50.00
    assert net.ok("GET", f"/jobs/{job}", net.tenant)["state"] == "RUNNING"
    later(net, agent, launch, 15 * 60)  # 51.00 accrued
    stopping = net.ok("GET", f"/jobs/{job}", net.tenant)
    assert (stopping["state"], stopping["reason"]) == ("CANCELLING", "funds exhausted")
    said = net.ok("GET", f"/jobs/{job}/events", net.tenant)["items"][-1]["message"]
    assert said == "funds exhausted: 51.00 CNY not yet charged, 50.00 CNY left to spend; stopping it"
    answer = sync(net, agent, [report(launch, "RUNNING")])
    assert answer["cancel"] == [launch["attempt_id"]]
    end = [report(launch, "CANCELLED", exit_code=143)]
    sync(net, agent, end, usage=[usage(launch, 1, 85 * 60 + 5)])
    done = net.ok("GET", f"/jobs/{job}", net.tenant)
    assert (done["state"], done["reason"]) == ("CANCELLED", "funds exhausted")
    after = money(net)
    assert (after["balance"], after["held"], after["arrears"]) == (0, 0, 5_105 - 5_000)
    assert balanced(net)


def test_an_interval_that_exhausts_the_funds_stops_the_job_at_once(net: Net) -> None:
    agent = priced_site(net)
    topup(net, "40.00")
    job, launch = place(net, agent)
    answer = sync(net, agent, [report(launch, "RUNNING")], usage=[usage(launch, 1, 4000)])  # 40.00
    assert answer["cancel"] == [launch["attempt_id"]]
    assert net.ok("GET", f"/jobs/{job}", net.tenant)["reason"] == "funds exhausted"


def test_a_project_that_continues_runs_on_into_arrears(net: Net) -> None:
    agent = priced_site(net)
    topup(net, "50.00")
    changed = net.ok(
        "PATCH", "/orgs/demo/projects/default", net.tenant, json={"on_funds_exhausted": "continue"}
    )
    assert changed["on_funds_exhausted"] == "continue"
    bad = net.call("PATCH", "/orgs/demo/projects/default", net.tenant, json={"on_funds_exhausted": "pray"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "on_funds_exhausted"
    job, launch = place(net, agent, {**TRAIN, "resources": {"accelerators": "A100:1"}})
    later(net, agent, launch, 2 * 3600)
    assert net.ok("GET", f"/jobs/{job}", net.tenant)["state"] == "RUNNING"
    sync(net, agent, [report(launch, "SUCCEEDED", exit_code=0)], usage=[usage(launch, 1, 7200)])
    assert money(net)["arrears"] == 7_200 - 5_000


def test_a_voucher_pays_its_share_and_its_report_reconciles(net: Net) -> None:
    agent = priced_site(net)
    net.ok("POST", "/voucher-programmes", net.operator, json={"name": "haidian", "budget": "500.00"})
    grant = {"org": "demo", "face": "300.00", "share": "30%", "valid_until": VALID_UNTIL}
    voucher = net.ok("POST", "/voucher-programmes/haidian/vouchers", net.operator, json=grant)
    topup(net, "30.00")  # the 70 % cash part of a 36.00 hold is 25.20
    job, launch = place(net, agent)
    assert money(net)["held"] == 2_520
    sync(net, agent, [report(launch, "SUCCEEDED", exit_code=0)], usage=[usage(launch, 1, 3000)])  # 30.00
    assert money(net)["balance"] == 3_000 - 2_100
    assert account(net, f"voucher:{voucher['id']}") == 30_000 - 900
    rep = net.ok("GET", "/voucher-programmes/haidian/report", net.operator)
    assert (rep["redeemed"]["minor"], rep["reconciles"]) == (900, True)
    assert account(net, payable_account(org_id(net, "dc"), "CNY")) == 2_500
    assert balanced(net)
    assert net.ok("GET", f"/jobs/{job}", net.tenant)["state"] == "SUCCEEDED"


def test_usage_in_many_short_records_costs_what_one_record_does(net: Net) -> None:
    agent = priced_site(net)
    book = {"currency": "CNY", "tenant": {"accelerator_hour": "36.00", "gb_hour": "3.60"},
            "wholesale": {"accelerator_hour": "30.00", "gb_hour": "3.00"}}  # fmt: skip
    net.ok("POST", "/sites/dc1/pools/gpu/prices", net.operator, json=book)
    net.ok("POST", "/voucher-programmes", net.operator, json={"name": "haidian", "budget": "500.00"})
    grant = {"org": "demo", "face": "300.00", "share": "30%", "valid_until": VALID_UNTIL}
    voucher = (
        f"voucher:{net.ok('POST', '/voucher-programmes/haidian/vouchers', net.operator, json=grant)['id']}"
    )
    topup(net, "100.00")
    payable = payable_account(org_id(net, "dc"), "CNY")
    spec = {**TRAIN, "resources": {**TRAIN["resources"], "memory": "1500Mi"}}

    def run(pieces: int, first_seq: int) -> tuple[int, int, int]:
        """Six minutes of work reported in `pieces` records: what cash, the voucher and the
        provider's payable moved by."""
        before = (money(net)["balance"], account(net, voucher), account(net, payable))
        _, launch = place(net, agent, spec)
        begun, step = int((net.clock() - START).total_seconds()), 360 // pieces
        records = [usage(launch, first_seq + i, step, start=begun + i * step) for i in range(pieces)]
        sync(net, agent, [report(launch, "RUNNING")], usage=records[:-1])
        sync(net, agent, [report(launch, "SUCCEEDED", exit_code=0)], usage=records[-1:])
        after = (money(net)["balance"], account(net, voucher), account(net, payable))
        return before[0] - after[0], before[1] - after[1], after[2] - before[2]

    one = run(1, first_seq=1)
    assert one == (413 - 123, 123, 344)  # an A100 for 360 s (3.60) and 527.3 GiB-s (0.53): 30 % by voucher
    assert run(360, first_seq=2) == one  # a second at a time: the same cash, voucher part and payable
    assert balanced(net)


def test_a_project_paid_wholly_by_vouchers_can_place(net: Net) -> None:
    agent = priced_site(net)
    net.ok("POST", "/voucher-programmes", net.operator, json={"name": "grid", "budget": "100.00"})
    grant = {"org": "demo", "face": "100.00", "share": "100%", "valid_until": VALID_UNTIL}
    net.ok("POST", "/voucher-programmes/grid/vouchers", net.operator, json=grant)
    _job, launch = place(net, agent)
    assert money(net)["held"] == 0
    row = net.ok("GET", "/orgs/demo/balance", net.operator)["projects"][0]
    assert row["held_on_vouchers"]["minor"] == 3_600  # the hold is there, on the voucher
    sync(net, agent, [report(launch, "SUCCEEDED", exit_code=0)], usage=[usage(launch, 1, 3600)])
    assert money(net)["balance"] == 0 and money(net)["arrears"] == 0
    rep = net.ok("GET", "/voucher-programmes/grid/report", net.operator)
    assert (rep["redeemed"]["minor"], rep["reconciles"]) == (3_600, True)


def test_a_job_its_vouchers_paid_for_stops_once_they_expire(net: Net) -> None:
    agent = priced_site(net)
    net.ok("POST", "/voucher-programmes", net.operator, json={"name": "grid", "budget": "100.00"})
    soon = (START + timedelta(minutes=30)).isoformat()
    grant = {"org": "demo", "face": "100.00", "share": "100%", "valid_until": soon}
    net.ok("POST", "/voucher-programmes/grid/vouchers", net.operator, json=grant)
    job, launch = place(net, agent)  # no cash: the voucher pays the whole hold
    later(net, agent, launch, 20 * 60)
    assert net.ok("GET", f"/jobs/{job}", net.tenant)["state"] == "RUNNING"
    later(net, agent, launch, 15 * 60)  # the voucher expired at 30 min: nothing is left to spend
    stopping = net.ok("GET", f"/jobs/{job}", net.tenant)
    assert (stopping["state"], stopping["reason"]) == ("CANCELLING", "funds exhausted")


def test_a_voucher_a_running_job_was_placed_counting_on_stays_its_own(net: Net) -> None:
    agent = priced_site(net)
    net.ok("POST", "/voucher-programmes", net.operator, json={"name": "grid", "budget": "100.00"})
    grant = {"org": "demo", "face": "6.00", "share": "100%", "valid_until": VALID_UNTIL}
    voucher = f"voucher:{net.ok('POST', '/voucher-programmes/grid/vouchers', net.operator, json=grant)['id']}"
    net.ok("POST", "/orgs/demo/projects", net.operator, json={"name": "rich"})
    net.ok("POST", "/orgs/demo/projects/rich/topups", net.operator, json={"amount": "100.00"})
    short = {**TRAIN, "resources": {"accelerators": "A100:1", "max_runtime": "10m"}}
    _, counting = place(net, agent, {**short, "project": "default"})  # no cash: its hold is the voucher
    _, paying = place(net, agent, {**short, "project": "rich"})  # placed after: its hold is all cash
    sync(net, agent, [report(paying, "SUCCEEDED", exit_code=0)], usage=[usage(paying, 1, 300)])
    assert account(net, voucher) == 600  # the later job paid in cash, not with the first one's voucher
    sync(net, agent, [report(counting, "SUCCEEDED", exit_code=0)], usage=[usage(counting, 2, 600)])
    assert account(net, voucher) == 0 and money(net)["arrears"] == 0  # the voucher paid for its job
    assert balanced(net)


def test_two_providers_get_their_payables(net: Net) -> None:
    first, second = priced_site(net, "dc1", "dc"), priced_site(net, "zj1", "zj")
    topup(net, "300.00")
    big = {**TRAIN, "resources": {"accelerators": "A100:4", "max_runtime": "1h"}}
    jobs = [net.ok("POST", "/jobs", net.tenant, json={"spec": big})["id"] for _ in range(2)]
    net.cycle()
    for agent in (first, second):
        [launch] = sync(net, agent)["launch"]
        sync(net, agent, [report(launch, "RUNNING")])
        # 15 minutes on 4 A100s: one accelerator-hour, charged for what the job was allocated
        sync(net, agent, [report(launch, "SUCCEEDED", exit_code=0)], usage=[usage(launch, 1, 900)])
    assert account(net, payable_account(org_id(net, "dc"), "CNY")) == 3_000
    assert account(net, payable_account(org_id(net, "zj"), "CNY")) == 3_000
    assert money(net)["balance"] == 30_000 - 2 * 3_600
    assert balanced(net)
    assert {net.ok("GET", f"/jobs/{j}", net.tenant)["state"] for j in jobs} == {"SUCCEEDED"}


def test_free_pools_take_no_hold_and_charge_nothing(net: Net) -> None:
    agent = net.add_site("free", [GPU_POOL])
    job, launch = place(net, agent)
    sync(net, agent, [report(launch, "SUCCEEDED", exit_code=0)], usage=[usage(launch, 1, 3600)])
    assert net.ok("GET", f"/jobs/{job}", net.tenant)["state"] == "SUCCEEDED"
    with net.cp.db.read() as tx:
        assert tx.ledger.sums_by_currency() == {}


def test_the_hold_of_an_attempt_that_ends_without_usage_is_released(net: Net) -> None:
    agent = priced_site(net)
    topup(net, "100.00")
    _job, launch = place(net, agent)
    sync(net, agent, [report(launch, "FAILED", exit_code=1)])
    net.clock.advance(60)
    net.cycle()
    assert money(net)["held"] == 3_600  # its last usage record may still come
    net.clock.advance(11 * 60)
    net.cycle()
    assert money(net) == {"balance": 10_000, "held": 0, "available": 10_000, "arrears": 0}


def test_the_loop_expires_vouchers_and_brings_later_prices_into_force(net: Net) -> None:
    priced_site(net)
    net.ok("POST", "/voucher-programmes", net.operator, json={"name": "short", "budget": "10.00"})
    grant = {"org": "demo", "face": "10.00", "share": "50%", "valid_until": "2026-11-25T13:00:00Z"}
    net.ok("POST", "/voucher-programmes/short/vouchers", net.operator, json=grant)
    later = {**PRICE, "tenant": {"accelerator_hour": "40.00"}, "effective_at": "2026-11-25T12:30:00Z"}
    net.ok("POST", "/sites/dc1/pools/gpu/prices", net.operator, json=later)
    net.cycle()
    assert net.ok("GET", "/sites/dc1", net.tenant)["pools"][0]["price_per_hour"] == "36.00 CNY"
    net.clock.advance(45 * 60)
    net.cycle()
    assert net.ok("GET", "/sites/dc1", net.tenant)["pools"][0]["price_per_hour"] == "40.00 CNY"
    net.clock.advance(30 * 60)
    net.cycle()
    [voucher] = net.ok("GET", "/vouchers?org=demo", net.operator)["items"]
    assert voucher["expired"] is True
    rep = net.ok("GET", "/voucher-programmes/short/report", net.operator)
    assert (rep["expired"]["minor"], rep["reconciles"]) == (1_000, True)


@pytest.mark.parametrize(
    ("cash", "vouchers", "spendable", "held"),
    [
        ("100.00", [], 10_000, 3_600),
        ("25.20", [("300.00", "30%", [])], 3_600, 2_520),  # 70 % of 36.00 is 25.20
        ("0", [("50.00", "100%", [])], 5_000, 0),
        ("10.00", [("5.00", "50%", [])], 1_500, None),  # the voucher's balance caps it
        ("36.00", [("300.00", "30%", ["zj"])], 3_600 * 100 // 70, 3_600),  # not eligible at dc
    ],
)
def test_what_a_project_may_hold_counts_its_vouchers(
    net: Net, cash: str, vouchers: list[tuple[str, str, list[str]]], spendable: int, held: int | None
) -> None:
    agent = priced_site(net)
    if net.call("GET", "/orgs/zj", net.operator).status_code == 404:
        net.ok("POST", "/orgs", net.operator, json={"name": "zj", "kind": "provider"})
    net.ok("POST", "/voucher-programmes", net.operator, json={"name": "p", "budget": "1000.00"})
    for face, share, providers in vouchers:
        grant = {
            "org": "demo",
            "face": face,
            "share": share,
            "valid_until": VALID_UNTIL,
            "providers": providers,
        }
        net.ok("POST", "/voucher-programmes/p/vouchers", net.operator, json=grant)
    if cash != "0":
        topup(net, cash)
    with net.cp.db.read() as tx:  # what the funds gate will read (an upper bound: see the last case)
        demo = tx.tenancy.org_by_name("demo")
        assert demo is not None
        [row] = tx.tenancy.projects(demo.id)
        assert holds.spendable(tx, row.id, demo.id, "CNY", net.clock()) == spendable
    net.ok("POST", "/jobs", net.tenant, json={"spec": TRAIN})
    net.cycle()
    launches = sync(net, agent)["launch"]
    assert len(launches) == (held is not None)
    if held is not None:
        assert money(net)["held"] == held


def test_a_refund_pays_back_the_cash_and_the_voucher_and_reverses_the_payable(net: Net) -> None:
    agent = priced_site(net)
    net.ok("POST", "/voucher-programmes", net.operator, json={"name": "haidian", "budget": "500.00"})
    grant = {"org": "demo", "face": "300.00", "share": "30%", "valid_until": VALID_UNTIL}
    voucher = net.ok("POST", "/voucher-programmes/haidian/vouchers", net.operator, json=grant)
    topup(net, "30.00")
    job, launch = place(net, agent)
    sync(net, agent, [report(launch, "SUCCEEDED", exit_code=0)], usage=[usage(launch, 1, 3000)])  # 30.00
    assert money(net)["balance"] == 3_000 - 2_100
    denied = net.call("POST", f"/jobs/{job}/refund", net.tenant, json={"reason": "please"})
    assert denied.status_code == 403  # money moves by operators only
    missing = net.call("POST", f"/jobs/{job}/refund", net.operator, json={"reason": " "})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "reason"
    done = net.ok("POST", f"/jobs/{job}/refund", net.operator, json={"reason": "site fault"})
    assert done["charges"] == 1 and done["totals"][0]["minor"] == 3_000
    assert [(r["attempt"], r["charges"], r["amount"]["minor"]) for r in done["refunded"]] == [(1, 1, 3_000)]
    went = [done[k][0]["minor"] for k in ("to_cash", "to_vouchers", "clawed_back", "arrears_forgiven")]
    assert went == [2_100, 900, 0, 0]  # each part back where it came from: the voucher is still valid
    assert money(net)["balance"] == 3_000  # the cash part back
    assert account(net, f"voucher:{voucher['id']}") == 30_000  # redeemed, then paid back: it may pay again
    [seen] = net.ok("GET", "/vouchers", net.tenant, params={"org": "demo"})["items"]
    assert seen["remaining"]["minor"] == 30_000  # what the tenant sees
    rep = net.ok("GET", "/voucher-programmes/haidian/report", net.operator)
    assert (rep["redeemed"]["minor"], rep["restored"]["minor"], rep["clawed_back"]["minor"]) == (900, 900, 0)
    assert rep["outstanding"]["minor"] == 30_000 and rep["reconciles"] is True
    # by the provider whose site it was redeemed at, and paid back from
    assert [
        (p["provider"], p["redeemed"]["minor"], p["restored"]["minor"], p["clawed_back"]["minor"])
        for p in rep["by_provider"]
    ] == [("dc", 900, 900, 0)]
    assert account(net, payable_account(org_id(net, "dc"), "CNY")) == 0  # the provider's payable reversed
    assert balanced(net)
    again = net.ok("POST", f"/jobs/{job}/refund", net.operator, json={"reason": "site fault"})
    assert again["refunded"] == [] and money(net)["balance"] == 3_000  # nothing is refunded twice
    trail = net.ok("GET", "/audit", net.operator, params={"action": "refund"})["items"]
    assert [(a["target"], a["reason"]) for a in trail] == [(f"/jobs/{job}/refund", "site fault")]


def test_a_refund_after_the_voucher_ran_out_claws_its_part_back_to_the_programme(net: Net) -> None:
    """The voucher a charge drew on is past its validity when the job is refunded: its part goes to
    the programme (clawed back), as the voucher's expiry would have written it off."""
    agent = priced_site(net)
    net.ok("POST", "/voucher-programmes", net.operator, json={"name": "haidian", "budget": "500.00"})
    until = (START + timedelta(days=1)).isoformat()
    grant = {"org": "demo", "face": "300.00", "share": "30%", "valid_until": until}
    voucher = net.ok("POST", "/voucher-programmes/haidian/vouchers", net.operator, json=grant)
    topup(net, "30.00")
    job, launch = place(net, agent)
    sync(net, agent, [report(launch, "SUCCEEDED", exit_code=0)], usage=[usage(launch, 1, 3000)])  # 30.00
    net.clock.advance(2 * 86400)
    done = net.ok("POST", f"/jobs/{job}/refund", net.operator, json={"reason": "site fault"})
    went = [done[k][0]["minor"] for k in ("to_cash", "to_vouchers", "clawed_back", "arrears_forgiven")]
    assert went == [2_100, 0, 900, 0]
    assert account(net, f"voucher:{voucher['id']}") == 30_000 - 900  # not paid back: it is no longer valid
    rep = net.ok("GET", "/voucher-programmes/haidian/report", net.operator)
    assert (rep["restored"]["minor"], rep["clawed_back"]["minor"], rep["reconciles"]) == (0, 900, True)
    assert balanced(net)


def test_one_attempt_is_refunded_alone_such_as_one_its_site_stopped(net: Net) -> None:
    agent = priced_site(net)
    topup(net, "100.00")
    job, first = place(net, agent)
    stopped = report(first, "FAILED", exit_code=143, reason="agent shut down", interrupted=True)
    sync(net, agent, [stopped], usage=[usage(first, 1, 1000)])  # 10.00, then queued again
    net.cycle()
    [second] = sync(net, agent)["launch"]
    sync(net, agent, [report(second, "SUCCEEDED", exit_code=0)], usage=[usage(second, 2, 2000, start=1000)])
    assert money(net)["balance"] == 10_000 - 3_000
    bad = net.call("POST", f"/jobs/{job}/refund", net.operator, json={"reason": "x", "attempt": 3})
    assert bad.status_code == 422 and "its attempts: 1, 2" in bad.text
    done = net.ok("POST", f"/jobs/{job}/refund", net.operator, json={"reason": "agent upgrade", "attempt": 1})
    assert done["attempt"] == 1 and done["totals"][0]["minor"] == 1_000
    assert money(net)["balance"] == 10_000 - 2_000  # the second attempt's charge stands
    payable = account(net, payable_account(org_id(net, "dc"), "CNY"))
    assert payable == 1_667  # 20.00 charged at 30.00/h wholesale of 36.00: the second attempt only
    assert balanced(net)
    [audited] = net.ok("GET", "/audit", net.operator, params={"action": "refund"})["items"]
    assert audited["detail"] == {"charges": 1, "attempt": 1}
    rest = net.ok("POST", f"/jobs/{job}/refund", net.operator, json={"reason": "the rest"})
    lines = [(r["attempt"], r["charges"], r["amount"]["minor"]) for r in rest["refunded"]]
    assert (rest["charges"], lines) == (1, [(2, 1, 2_000)])  # a line per attempt; the first's was refunded


def test_a_months_spend_summed_in_the_database_is_what_its_statement_lines_add_up_to(net: Net) -> None:
    """The budget's spend (`caps.spent`, summed by the database) against the statement's lines
    (`charges.hold_months`, a line per attempt): vouchers, cash, arrears and a refund of one attempt."""
    agent = priced_site(net)
    net.ok("POST", "/voucher-programmes", net.operator, json={"name": "haidian", "budget": "500.00"})
    grant = {"org": "demo", "face": "300.00", "share": "30%", "valid_until": VALID_UNTIL}
    net.ok("POST", "/voucher-programmes/haidian/vouchers", net.operator, json=grant)
    net.ok("PATCH", "/orgs/demo/projects/default", net.tenant, json={"on_funds_exhausted": "continue"})
    topup(net, "40.00")
    job, first = place(net, agent)
    stopped = report(first, "FAILED", exit_code=143, reason="agent shut down", interrupted=True)
    sync(net, agent, [stopped], usage=[usage(first, 1, 1000)])  # 10.00
    net.cycle()
    [second] = sync(net, agent)["launch"]
    sync(net, agent, [report(second, "RUNNING")], usage=[usage(second, 2, 5000, start=1000)])  # 50.00
    assert money(net)["arrears"] > 0
    net.ok("POST", f"/jobs/{job}/refund", net.operator, json={"reason": "agent upgrade", "attempt": 1})
    with net.cp.db.read() as tx:
        [project] = tx.tenancy.projects(org_id(net, "demo"))
        start, end = charges.month_bounds("2026-11")
        lines = charges.hold_months(tx, start, end, project_ids=[project.id])
        assert sorted((m.charged, m.refunded) for m in lines) == [(1, 0), (1, 1)]  # two charges, a refund
        assert caps.spent(tx, project.id, "CNY", "2026-11") == sum(m.net for m in lines) == 5_000
        assert caps.spent(tx, project.id, "USD", "2026-11") == 0
        assert caps.spent(tx, project.id, "CNY", "2026-10") == 0


def test_a_job_shows_what_it_was_charged_so_far_by_source_and_net_of_refunds(net: Net) -> None:
    agent = priced_site(net)
    net.ok("POST", "/voucher-programmes", net.operator, json={"name": "haidian", "budget": "500.00"})
    grant = {"org": "demo", "face": "300.00", "share": "30%", "valid_until": VALID_UNTIL}
    net.ok("POST", "/voucher-programmes/haidian/vouchers", net.operator, json=grant)
    topup(net, "100.00")
    job, launch = place(net, agent)
    assert net.ok("GET", f"/jobs/{job}", net.tenant)["charges"] == [
        {"currency": "CNY", "charged": "0.00 CNY", "vouchers": "0.00 CNY", "cash": "0.00 CNY",
         "arrears": "0.00 CNY", "held": "36.00 CNY", "refunded": "0.00 CNY"}
    ]  # fmt: skip
    sync(net, agent, [report(launch, "RUNNING")], usage=[usage(launch, 1, 1000)])  # an interim record
    [running] = net.ok("GET", f"/jobs/{job}", net.tenant)["charges"]
    assert (running["charged"], running["vouchers"], running["cash"], running["held"]) == (
        "10.00 CNY",
        "3.00 CNY",
        "7.00 CNY",
        "26.00 CNY",
    )
    sync(net, agent, [report(launch, "SUCCEEDED", exit_code=0)], usage=[usage(launch, 2, 500, start=1000)])
    [done] = net.ok("GET", f"/jobs/{job}", net.tenant)["charges"]
    assert (done["charged"], done["vouchers"], done["cash"], done["held"]) == (
        "15.00 CNY",
        "4.50 CNY",
        "10.50 CNY",
        "0.00 CNY",
    )
    net.ok("POST", f"/jobs/{job}/refund", net.operator, json={"reason": "site fault"})
    [refunded] = net.ok("GET", f"/jobs/{job}", net.tenant)["charges"]
    assert (refunded["charged"], refunded["vouchers"], refunded["cash"], refunded["refunded"]) == (
        "0.00 CNY",
        "0.00 CNY",
        "0.00 CNY",
        "15.00 CNY",  # what the refund gave back: net 0.00 is not "never charged"
    )
    free = net.ok("POST", "/jobs", net.tenant, json={"spec": {**TRAIN, "name": "waits"}})
    assert net.ok("GET", f"/jobs/{free['id']}", net.tenant)["charges"] == []


def test_a_job_refunded_while_it_ran_shows_the_refund_beside_what_it_was_charged_since(net: Net) -> None:
    agent = priced_site(net)
    topup(net, "100.00")
    job, launch = place(net, agent)
    sync(net, agent, [report(launch, "RUNNING")], usage=[usage(launch, 1, 1000)])  # 10.00
    net.ok("POST", f"/jobs/{job}/refund", net.operator, json={"reason": "slow node"})
    sync(net, agent, [report(launch, "SUCCEEDED", exit_code=0)], usage=[usage(launch, 2, 500, start=1000)])
    [charges] = net.ok("GET", f"/jobs/{job}", net.tenant)["charges"]
    assert (charges["charged"], charges["cash"], charges["refunded"], charges["held"]) == (
        "5.00 CNY",  # charged after the refund, which gave back the first 10.00
        "5.00 CNY",
        "10.00 CNY",
        "0.00 CNY",
    )


def test_holds_placed_in_one_cycle_count_the_ones_before_them(net: Net) -> None:
    """The applier places three jobs in one cycle; the funds gate stretched the cash by the voucher's
    30% share as if the voucher had no end (171.42 to spend), so it planned all three. Each hold
    counts the cash and voucher value the holds before it took: the third finds neither enough cash
    nor voucher left and waits."""
    agent = priced_site(net)
    dearer = {**PRICE, "tenant": {"accelerator_hour": "36.00", "cpu_hour": "10.00"}}
    net.ok("POST", "/sites/dc1/pools/gpu/prices", net.operator, json=dearer)  # 56.00 per job
    net.ok("POST", "/voucher-programmes", net.operator, json={"name": "p", "budget": "100.00"})
    grant = {"org": "demo", "face": "30.00", "share": "30%", "valid_until": VALID_UNTIL}
    net.ok("POST", "/voucher-programmes/p/vouchers", net.operator, json=grant)
    topup(net, "120.00")
    spec = {**TRAIN, "resources": {"accelerators": "A100:1", "cpus": 2, "max_runtime": "1h"}}
    jobs = [net.ok("POST", "/jobs", net.tenant, json={"spec": spec})["id"] for _ in range(3)]
    net.cycle()
    assert sorted(x["job_id"] for x in sync(net, agent)["launch"]) == sorted(jobs[:2])
    # 56.00 each: the voucher pays 30% of the first (16.80) and its last 13.20 of the second
    assert money(net)["held"] == (5_600 - 1_680) + (5_600 - 1_320)
    [blocked] = net.ok("GET", f"/jobs/{jobs[2]}/why", net.tenant)["blocked"]
    assert blocked["pool"] == "(funds)"
    assert blocked["reason"].startswith("insufficient funds: needs 56.00 CNY, can hold 38.00 CNY")


def test_the_applier_writes_a_cycles_placements_together(net: Net, monkeypatch: pytest.MonkeyPatch) -> None:
    """Applying a plan runs as many statements for twelve placements as for two: what the holds
    read (the project, its accounts, the org's vouchers) is read once per cycle, and the attempts,
    holds and events of all placements are written together. Every placement still gets its
    attempt and its hold."""
    agent = priced_site(net)
    sync(net, agent, pools=[{**GPU_POOL, "nodes": 4}])  # 16 A100
    topup(net, "1000.00")
    statements: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        seen = [0]

        def count(*_: Any) -> None:
            seen[0] += 1

        event.listen(net.cp.db.engine, "before_cursor_execute", count)
        try:
            return apply(*args, **kwargs)
        finally:
            event.remove(net.cp.db.engine, "before_cursor_execute", count)
            statements.append(seen[0])

    monkeypatch.setattr(cycle, "apply", counted)
    for n in (2, 12):
        for _ in range(n):
            net.ok("POST", "/jobs", net.tenant, json={"spec": TRAIN})
        net.cycle()
    assert len(sync(net, agent)["launch"]) == 14
    assert money(net)["held"] == 14 * 3_600  # A100:1 for 1h at 36.00
    assert statements[0] == statements[1], statements
