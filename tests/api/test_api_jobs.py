"""The job path through the real API and database: submit, place, sync, run, finish, cancel, isolation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from api_net import CPU_POOL, GPU_POOL, Net

HELLO = {"name": "hello", "run": "echo hello"}


def sync(net: Net, agent: str, attempts: list[dict[str, Any]] | None = None, **extra: Any) -> Any:
    return net.ok("POST", "/agent/sync", agent, json={"attempts": attempts or [], **extra})


def report(launch: dict[str, Any], state: str, **kw: Any) -> dict[str, Any]:
    return {"id": launch["attempt_id"], "fencing_token": launch["fencing_token"], "state": state, **kw}


def test_a_job_runs_to_success_with_its_logs(net: Net) -> None:
    agent = net.add_site("sh1", [CPU_POOL])
    job = net.ok("POST", "/jobs", net.tenant, json={"spec": HELLO})
    assert job["state"] == "PENDING" and job["project"] == "default"
    net.cycle()
    [launch] = sync(net, agent)["launch"]
    assert launch["job_id"] == job["id"] and launch["spec"]["run"] == "echo hello"
    assert launch["allocation"]["nodes"] == [0]
    sync(
        net,
        agent,
        [report(launch, "RUNNING")],
        logs=[{"attempt_id": launch["attempt_id"], "offset": 0, "data": "hello\n"}],
    )
    assert net.ok("GET", f"/jobs/{job['id']}", net.tenant)["state"] == "RUNNING"
    answer = sync(net, agent, [report(launch, "SUCCEEDED", exit_code=0)])
    assert answer["ack"] == [launch["attempt_id"]]
    done = net.ok("GET", f"/jobs/{job['id']}", net.tenant)
    assert (done["state"], done["exit_code"], done["site"]) == ("SUCCEEDED", 0, "sh1")
    logs = net.ok("GET", f"/jobs/{job['id']}/logs", net.tenant, params={"offset": 0})
    assert logs["data"] == "hello\n" and logs["complete"] is True
    kinds = [e["kind"] for e in net.ok("GET", f"/jobs/{job['id']}/events", net.tenant)["items"]]
    assert kinds == ["submitted", "assigned", "running", "succeeded"]


def test_capacity_is_not_given_twice(net: Net) -> None:
    agent = net.add_site("sh1", [GPU_POOL])
    spec = {**HELLO, "resources": {"accelerators": "A100:3"}}
    first = net.ok("POST", "/jobs", net.tenant, json={"spec": spec})
    second = net.ok("POST", "/jobs", net.tenant, json={"spec": spec})
    net.cycle()
    assert [x["job_id"] for x in sync(net, agent)["launch"]] == [first["id"]]
    waiting = net.ok("GET", f"/jobs/{second['id']}", net.tenant)
    assert waiting["state"] == "PENDING"
    assert "largest free block 1×A100" in waiting["waiting"][0]["reason"]


def test_a_job_no_pool_could_ever_run_is_refused_with_reasons(net: Net) -> None:
    net.add_site("sh1", [GPU_POOL])
    spec = {**HELLO, "resources": {"accelerators": "A100:8"}}
    resp = net.call("POST", "/jobs", net.tenant, json={"spec": spec})
    assert resp.status_code == 422 and resp.json()["code"] == "unsatisfiable"
    assert "needs 8×A100 on one node; nodes have 4" in resp.json()["errors"][0]["message"]
    assert net.ok("GET", "/jobs", net.tenant)["items"] == []  # nothing half-written


def test_bad_specs_name_the_field(net: Net) -> None:
    spec = {"name": "x", "run": "true", "resources": {"accelerators": "A100:2", "cpus": -1}, "colour": "red"}
    resp = net.call("POST", "/jobs", net.tenant, json={"spec": spec})
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in resp.json()["errors"]}
    assert {"resources.cpus", "colour"} <= fields


def test_tenants_never_see_each_other(net: Net) -> None:
    other = net.tenant_token("rival", "bob")
    job = net.ok("POST", "/jobs", net.tenant, json={"spec": HELLO})
    for method, path in [
        ("GET", f"/jobs/{job['id']}"),
        ("POST", f"/jobs/{job['id']}/cancel"),
        ("GET", f"/jobs/{job['id']}/logs"),
        ("GET", f"/jobs/{job['id']}/events"),
    ]:
        assert net.call(method, path, other).status_code == 404
    assert net.ok("GET", "/jobs", other)["items"] == []
    assert net.call("GET", "/orgs/demo", other).status_code == 404


def test_an_idempotent_resubmit_creates_one_job(net: Net) -> None:
    key = {"Idempotency-Key": "submit-1"}
    first = net.call("POST", "/jobs", net.tenant, json={"spec": HELLO}, headers=key)
    again = net.call("POST", "/jobs", net.tenant, json={"spec": HELLO}, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert len(net.ok("GET", "/jobs", net.tenant)["items"]) == 1
    other = net.call("POST", "/jobs", net.tenant, json={"spec": {**HELLO, "name": "other"}}, headers=key)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


def test_cancel_a_running_job_goes_through_the_site(net: Net) -> None:
    agent = net.add_site("sh1", [CPU_POOL])
    job = net.ok("POST", "/jobs", net.tenant, json={"spec": HELLO})
    net.cycle()
    [launch] = sync(net, agent)["launch"]
    sync(net, agent, [report(launch, "RUNNING")])
    assert net.ok("POST", f"/jobs/{job['id']}/cancel", net.tenant)["state"] == "CANCELLING"
    assert sync(net, agent, [report(launch, "RUNNING")])["cancel"] == [launch["attempt_id"]]
    sync(net, agent, [report(launch, "CANCELLED", exit_code=143, reason="cancelled")])  # as agents say
    assert net.ok("GET", f"/jobs/{job['id']}", net.tenant)["state"] == "CANCELLED"
    assert net.call("POST", f"/jobs/{job['id']}/cancel", net.tenant).status_code == 409
    last = net.ok("GET", f"/jobs/{job['id']}/events", net.tenant)["items"][-1]["message"]
    assert last.endswith(": cancelled"), last  # not "cancelled (cancelled)"


def test_a_silent_site_loses_its_attempt_and_the_job_moves(net: Net) -> None:
    first = net.add_site("sh1", [CPU_POOL])
    job = net.ok("POST", "/jobs", net.tenant, json={"spec": {**HELLO, "retries": 1}})
    net.cycle()
    [launch] = sync(net, first)["launch"]
    sync(net, first, [report(launch, "RUNNING")])
    second = net.add_site("sh2", [CPU_POOL])
    net.clock.advance(35)  # past the lease, not yet past lease + grace
    sync(net, second)
    net.cycle()
    assert net.ok("GET", f"/jobs/{job['id']}", net.tenant)["state"] == "RUNNING"
    net.clock.advance(10)
    sync(net, second)
    net.cycle()  # lost → PENDING
    net.cycle()  # placed again, elsewhere
    view = net.ok("GET", f"/jobs/{job['id']}", net.tenant)
    assert [a["state"] for a in view["attempts"]] == ["LOST", "ASSIGNED"]
    assert view["attempts"][1]["site"] == "sh2" and view["retries_left"] == 0
    # The old site comes back and reports its attempt: it is told to kill it.
    assert sync(net, first, [report(launch, "RUNNING")])["kill"] == [launch["attempt_id"]]


def test_an_attempt_lost_before_it_started_spends_no_retry(net: Net) -> None:
    first = net.add_site("sh1", [CPU_POOL])
    job = net.ok("POST", "/jobs", net.tenant, json={"spec": {**HELLO, "retries": 0}})
    net.cycle()
    assert len(sync(net, first)["launch"]) == 1  # handed over, never reported running
    second = net.add_site("sh2", [CPU_POOL])
    net.clock.advance(45)  # past lease + grace
    sync(net, second)
    net.cycle()  # lost → PENDING, though it had no retries
    net.cycle()  # placed again, elsewhere
    view = net.ok("GET", f"/jobs/{job['id']}", net.tenant)
    assert [a["state"] for a in view["attempts"]] == ["LOST", "ASSIGNED"]
    assert view["attempts"][1]["site"] == "sh2" and view["retries_left"] == 0
    events = [e["message"] for e in net.ok("GET", f"/jobs/{job['id']}/events", net.tenant)["items"]]
    assert any("it never started there, so retries are untouched" in m for m in events), events


def test_a_report_with_a_stale_fencing_token_is_refused(net: Net) -> None:
    agent = net.add_site("sh1", [CPU_POOL])
    net.ok("POST", "/jobs", net.tenant, json={"spec": HELLO})
    net.cycle()
    [launch] = sync(net, agent)["launch"]
    stale = {**report(launch, "RUNNING"), "fencing_token": launch["fencing_token"] + 7}
    assert sync(net, agent, [stale])["kill"] == [launch["attempt_id"]]


def test_an_agent_speaks_only_for_its_own_site(net: Net) -> None:
    a = net.add_site("sh1", [CPU_POOL])
    b = net.add_site("sh2", [CPU_POOL])
    net.ok("POST", "/jobs", net.tenant, json={"spec": {**HELLO, "constraints": {"sites": ["sh1"]}}})
    net.cycle()
    [launch] = sync(net, a)["launch"]
    assert sync(net, b, [report(launch, "SUCCEEDED", exit_code=0)])["ack"] == [launch["attempt_id"]]
    assert net.ok("GET", f"/jobs/{launch['job_id']}", net.tenant)["state"] == "ASSIGNED"
    assert net.call("GET", "/jobs", b).status_code == 403


def test_bad_and_missing_tokens_are_401(net: Net) -> None:
    assert net.call("GET", "/jobs").status_code == 401
    resp = net.call("GET", "/jobs", "slt_" + "A" * 38)
    assert resp.status_code == 401 and resp.json()["code"] == "malformed_token"


def test_oversized_bodies_are_refused(net: Net) -> None:
    resp = net.call("POST", "/jobs", net.tenant, json={"spec": {**HELLO, "run": "x" * 2_000_000}})
    assert resp.status_code == 413


def test_a_site_naming_its_gpus_as_nvidia_smi_does_still_matches_specs(net: Net) -> None:
    agent = net.add_site("sh1", [{**GPU_POOL, "accelerator": "NVIDIA A100-SXM4-80GB"}])
    assert net.ok("GET", "/sites/sh1", net.tenant)["pools"][0]["accelerator"] == "A100"
    net.ok("POST", "/jobs", net.tenant, json={"spec": {**HELLO, "resources": {"accelerators": "a100:2"}}})
    net.cycle()
    [launch] = sync(net, agent)["launch"]
    assert launch["allocation"]["accelerator"] == "A100"
    assert launch["allocation"]["accelerators_per_node"] == 2


def test_a_requirement_places_on_a_model_that_meets_it_and_says_why_others_do_not(net: Net) -> None:
    v100 = net.add_site("old", [{**GPU_POOL, "accelerator": "V100"}])
    a100 = net.add_site("new", [GPU_POOL])
    spec = {**HELLO, "resources": {"accelerators": "any[memory>=80GB]:4"}}
    job = net.ok("POST", "/jobs", net.tenant, json={"spec": spec})
    assert len(job["spec"]["resources"]["accelerators"]) > 4  # stored as the models that meet it
    why = {c["pool"]: c for c in net.ok("GET", f"/jobs/{job['id']}/why", net.tenant)["candidates"]}
    assert why["new/gpu"]["fits"] and not why["old/gpu"]["fits"]
    assert why["old/gpu"]["reason"].startswith(
        "needs one of 10 models (A100, H100, H800, …); pool offers V100"
    )
    net.cycle()
    assert sync(net, v100)["launch"] == []
    [launch] = sync(net, a100)["launch"]
    assert launch["allocation"]["accelerator"] == "A100"
    spec = {**HELLO, "resources": {"accelerators": "any[memory>=4096GB]:1"}}
    resp = net.call("POST", "/jobs", net.tenant, json={"spec": spec})
    assert resp.status_code == 422
    assert "no accelerator in the catalog meets" in resp.json()["errors"][0]["message"]


def test_a_pool_with_a_runtime_limit_takes_only_jobs_within_it(net: Net) -> None:
    agent = net.add_site("hpc", [{**GPU_POOL, "max_runtime_s": 86400}])  # a partition's MaxTime=1-00:00:00
    assert net.ok("GET", "/sites/hpc", net.tenant)["pools"][0]["max_runtime_s"] == 86400
    too_long = {**HELLO, "resources": {"accelerators": "A100:1", "max_runtime": "2d"}}
    resp = net.call("POST", "/jobs", net.tenant, json={"spec": too_long})
    assert resp.status_code == 422
    assert "max_runtime 2d above the pool's limit 1d" in resp.json()["errors"][0]["message"]
    fits = {**HELLO, "resources": {"accelerators": "A100:1", "max_runtime": "12h"}}
    net.ok("POST", "/jobs", net.tenant, json={"spec": fits})
    net.cycle()
    assert len(sync(net, agent)["launch"]) == 1


def test_a_project_name_in_several_orgs_must_be_qualified_with_its_org(net: Net) -> None:
    lab = net.tenant_token("lab", "ming")  # org lab has a project `default`, as the demo org does
    net.ok("POST", "/jobs", net.tenant, json={"spec": HELLO})
    net.ok("POST", "/jobs", lab, json={"spec": HELLO})
    resp = net.call("GET", "/jobs", net.operator, params={"project": "default"})
    assert resp.status_code == 422
    assert resp.json()["errors"][0] == {
        "field": "project",
        "message": "say which, as ORG/PROJECT: demo/default, lab/default",
    }
    [mine] = net.ok("GET", "/jobs", net.operator, params={"project": "lab/default"})["items"]
    assert net.ok("GET", f"/jobs/{mine['id']}", lab)["id"] == mine["id"]
    assert len(net.ok("GET", "/jobs", lab, params={"project": "default"})["items"]) == 1  # one org: plain
    unknown = net.call("GET", "/jobs", lab, params={"project": "nope"})
    assert unknown.status_code == 404 and unknown.json()["detail"] == "no project 'nope' in your orgs"
    assert net.call("GET", "/jobs", lab, params={"project": "demo/default"}).status_code == 404  # not lab's


def test_a_project_the_submitter_cannot_use_is_refused_with_the_ones_they_can(net: Net) -> None:
    lab = net.tenant_token("lab", "ming")
    net.ok("POST", "/orgs/lab/projects", net.operator, json={"name": "vision"})
    for project in ("nope", "demo/default"):  # another org's project is not named, nor told apart
        resp = net.call("POST", "/jobs", lab, json={"spec": {**HELLO, "project": project}})
        assert (
            resp.status_code == 422 and resp.json()["detail"] == f"no project {project!r} you can submit to"
        )
        assert resp.json()["errors"] == [
            {"field": "project", "message": "you can submit to: lab/default, lab/vision"}
        ]


def test_metrics_count_jobs_by_state(net: Net) -> None:
    net.ok("POST", "/jobs", net.tenant, json={"spec": HELLO})
    text = net.http.get("/metrics").text
    assert 'suanli_jobs{state="PENDING"} 1.0' in text
    assert "suanli_http_requests_total" in text


def test_idempotency_keys_are_forgotten_after_a_day(net: Net) -> None:
    key = {"Idempotency-Key": "daily"}
    first = net.ok("POST", "/jobs", net.tenant, json={"spec": HELLO}, headers=key)
    net.cycle()
    net.clock.advance(25 * 3600)
    net.cycle()  # housekeeping deletes keys older than 24 h
    later = net.ok("POST", "/jobs", net.tenant, json={"spec": HELLO}, headers=key)
    assert later["id"] != first["id"]


def test_a_disabled_orgs_pending_jobs_are_not_placed(net: Net) -> None:
    agent = net.add_site("sh1", [CPU_POOL])
    other = net.tenant_token("rival", "bob")
    net.ok("POST", "/jobs", net.tenant, json={"spec": HELLO})
    theirs = net.ok("POST", "/jobs", other, json={"spec": HELLO})
    net.ok("POST", "/orgs/demo/disable", net.operator)
    net.cycle()
    assert [x["job_id"] for x in sync(net, agent)["launch"]] == [theirs["id"]]


def test_an_attempt_accepted_but_not_started_in_time_is_placed_elsewhere(net: Net) -> None:
    slow = net.add_site("sh1", [CPU_POOL])
    job = net.ok("POST", "/jobs", net.tenant, json={"spec": HELLO})
    net.cycle()
    [launch] = sync(net, slow)["launch"]
    fast = net.add_site("sh2", [CPU_POOL])
    for _ in range(3):  # the site keeps answering (its lease holds) but never starts the job
        net.clock.advance(45)
        sync(net, slow, [report(launch, "STARTING")])
        sync(net, fast)
    net.cycle()  # 135 s > the 120 s start timeout: withdrawn
    net.cycle()  # placed again, elsewhere
    view = net.ok("GET", f"/jobs/{job['id']}", net.tenant)
    assert [(a["site"], a["state"]) for a in view["attempts"]] == [("sh1", "WITHDRAWN"), ("sh2", "ASSIGNED")]
    assert view["retries_left"] == 0 and view["state"] == "ASSIGNED"  # no retry spent
    assert sync(net, slow, [report(launch, "STARTING")])["kill"] == [launch["attempt_id"]]
    assert [x["job_id"] for x in sync(net, fast)["launch"]] == [job["id"]]


def test_a_site_whose_agent_stops_is_offline_at_once_and_its_unstarted_jobs_go_elsewhere(net: Net) -> None:
    leaving = net.add_site("sh1", [CPU_POOL])
    started, unstarted = (net.ok("POST", "/jobs", net.tenant, json={"spec": HELLO}) for _ in range(2))
    net.cycle()
    first, second = sorted(sync(net, leaving)["launch"], key=lambda x: x["job_id"] != started["id"])
    sync(net, leaving, [report(first, "RUNNING")])
    # Its last report: the one attempt it ran, stopped on purpose; the other it never launched.
    sync(
        net, leaving, [report(first, "FAILED", interrupted=True, reason="agent shutting down")], stopping=True
    )
    site = net.ok("GET", "/sites/sh1", net.operator)
    assert site["state"] == "stopped" and site["agent_stopped_at"] is not None
    view = net.ok("GET", f"/jobs/{unstarted['id']}", net.tenant)
    assert view["state"] == "PENDING" and view["retries_left"] == 0  # placed again, no retry spent
    assert [a["state"] for a in view["attempts"]] == ["WITHDRAWN"]
    assert "its agent stopped before starting it" in view["attempts"][0]["reason"]
    net.cycle()  # nothing goes to the stopped site, though it synced a moment ago
    assert net.ok("GET", f"/jobs/{unstarted['id']}", net.tenant)["state"] == "PENDING"
    why = net.ok("GET", f"/jobs/{unstarted['id']}/why", net.tenant)
    assert (
        "site sh1 is stopped (its agent stopped"
        in {c["pool"]: c for c in why["candidates"]}["sh1/cpu"]["reason"]
    )
    other = net.add_site("sh2", [CPU_POOL])
    net.cycle()
    assert {x["job_id"] for x in sync(net, other)["launch"]} == {started["id"], unstarted["id"]}
    # The agent starts again: the site is back, and a launch it was never sent is refused as stale.
    assert sync(net, leaving, [report(second, "STARTING")])["kill"] == [second["attempt_id"]]
    assert net.ok("GET", "/sites/sh1", net.operator)["state"] == "online"


def test_why_explains_each_pool_for_a_waiting_job(net: Net) -> None:
    agent = net.add_site("sh1", [GPU_POOL])
    net.add_site("sh2", [CPU_POOL])
    spec = {**HELLO, "resources": {"accelerators": "A100:3"}}
    first = net.ok("POST", "/jobs", net.tenant, json={"spec": spec})
    waiting = net.ok("POST", "/jobs", net.tenant, json={"spec": spec})
    net.cycle()
    why = net.ok("GET", f"/jobs/{waiting['id']}/why", net.tenant)
    by_pool = {c["pool"]: c for c in why["candidates"]}
    assert (
        by_pool["sh1/gpu"]["code"] == "unschedulable"
        and "largest free block 1×A100" in by_pool["sh1/gpu"]["reason"]
    )
    assert by_pool["sh2/cpu"]["code"] == "unresolvable"
    placed = net.ok("GET", f"/jobs/{first['id']}/why", net.tenant)
    assert placed["site"] == "sh1" and placed["placements"] == ["attempt 1 placed on sh1/gpu"]
    assert sync(net, agent)["launch"]
    assert net.call("GET", f"/jobs/{waiting['id']}/why", net.tenant_token("rival", "bob")).status_code == 404


def test_why_says_what_runs_on_the_pool_a_waiting_job_does_not_fit(net: Net) -> None:
    agent = net.add_site("sh1", [GPU_POOL])
    rival = net.tenant_token("rival", "bob")
    spec = {**HELLO, "resources": {"accelerators": "A100:2"}}
    mine = net.ok(
        "POST",
        "/jobs",
        net.tenant,
        json={"spec": {**spec, "resources": {**spec["resources"], "max_runtime": "2h"}}},
    )
    theirs = net.ok("POST", "/jobs", rival, json={"spec": {**spec, "preemptible": True}})
    net.cycle()
    launches = sync(net, agent)["launch"]
    net.clock.advance(60)
    sync(net, agent, [report(x, "RUNNING") for x in launches])
    waiting = net.ok(
        "POST", "/jobs", net.tenant, json={"spec": {**HELLO, "resources": {"accelerators": "A100:1"}}}
    )
    net.cycle()
    why = net.ok("GET", f"/jobs/{waiting['id']}/why", net.tenant)
    [pool] = why["holding"]
    assert pool["pool"] == "sh1/gpu"
    by_org = {a["org"]: a for a in pool["attempts"]}
    assert (by_org["demo"]["job"], by_org["demo"]["name"]) == (mine["id"], HELLO["name"])
    assert by_org["demo"]["accelerators"] == 2 and by_org["demo"]["preemptible"] is False
    started, ends = (datetime.fromisoformat(by_org["demo"][k]) for k in ("started_at", "ends_by"))
    assert ends - started == timedelta(hours=2)  # its max_runtime from its start
    # another org's job is said by its org only, and has no known end
    assert (by_org["rival"]["job"], by_org["rival"]["name"], by_org["rival"]["ends_by"]) == (None, None, None)
    assert by_org["rival"]["preemptible"] is True and theirs["id"] not in str(why)
    # a job that fits somewhere, or is placed, is held by nothing
    assert net.ok("GET", f"/jobs/{mine['id']}/why", net.tenant)["holding"] == []


def test_profiles_send_jobs_to_the_cheapest_or_the_greenest_site(net: Net) -> None:
    cheap_dirty = net.add_site("coal", [GPU_POOL])
    dear_clean = net.add_site("hydro", [GPU_POOL])
    net.ok("PATCH", "/sites/coal", net.operator, json={"pue": "1.6", "carbon_g_per_kwh": 900})
    net.ok("PATCH", "/sites/hydro", net.operator, json={"pue": 1.1, "carbon_g_per_kwh": 50})
    net.ok("POST", "/sites/coal/pools/gpu/price", net.operator, json={"price_per_hour": "10.00"})
    net.ok("POST", "/sites/hydro/pools/gpu/price", net.operator, json={"price_per_hour": "30.00 CNY"})
    # a priced pool is charged: each job holds its price × max_runtime from the project's funds
    net.ok("POST", "/orgs/demo/projects/default/topups", net.operator, json={"amount": "100.00"})
    spec = {**HELLO, "resources": {"accelerators": "A100:1", "max_runtime": "2h"}}
    cheap = net.ok("POST", "/jobs", net.tenant, json={"spec": {**spec, "objective": "cheapest"}})
    green = net.ok("POST", "/jobs", net.tenant, json={"spec": {**spec, "objective": "greenest"}})
    net.cycle()
    assert [x["job_id"] for x in sync(net, cheap_dirty)["launch"]] == [cheap["id"]]
    assert [x["job_id"] for x in sync(net, dear_clean)["launch"]] == [green["id"]]
    held = net.ok("GET", "/orgs/demo/balance", net.operator)["projects"][0]["held"]["minor"]
    assert held == 2 * 1000 + 2 * 3000  # 2 h at 10.00/h and 2 h at 30.00/h


def test_the_cheapest_pool_and_the_price_cap_read_the_whole_price_book(net: Net) -> None:
    cheap_gpus = net.add_site("coal", [GPU_POOL])
    flat = net.add_site("hydro", [GPU_POOL])
    dear_cpus = {
        "currency": "CNY",
        "tenant": {"accelerator_hour": "10.00", "cpu_hour": "5.00"},
        "wholesale": {"accelerator_hour": "8.00", "cpu_hour": "4.00"},
    }
    net.ok("POST", "/sites/coal/pools/gpu/prices", net.operator, json=dear_cpus)  # 10 + 8 × 5 = 50.00/h
    net.ok("POST", "/sites/hydro/pools/gpu/price", net.operator, json={"price_per_hour": "30.00"})  # 30.00/h
    net.ok("POST", "/orgs/demo/projects/default/topups", net.operator, json={"amount": "100.00"})
    spec = {**HELLO, "resources": {"accelerators": "A100:1", "cpus": 8, "max_runtime": "1h"}}
    quoted = net.ok("POST", "/quote", net.tenant, json={"spec": {**spec, "objective": "cheapest"}})
    prices = {c["pool"]: c["price_per_hour"] for c in quoted["candidates"]}
    assert prices == {"coal/gpu": "50.00 CNY", "hydro/gpu": "30.00 CNY"}
    capped = {**spec, "constraints": {"max_price_per_hour": "40.00"}}
    verdicts = {
        c["pool"]: c["reason"]
        for c in net.ok("POST", "/quote", net.tenant, json={"spec": capped})["candidates"]
    }
    assert verdicts["coal/gpu"] == "price 50.00/h above max 40.00/h"
    cheap = net.ok("POST", "/jobs", net.tenant, json={"spec": {**spec, "objective": "cheapest"}})
    net.cycle()
    assert sync(net, cheap_gpus)["launch"] == []
    assert [x["job_id"] for x in sync(net, flat)["launch"]] == [cheap["id"]]


def test_a_quote_says_a_job_would_wait_for_funds_its_project_lacks(net: Net) -> None:
    net.add_site("sh1", [GPU_POOL])
    net.ok("POST", "/sites/sh1/pools/gpu/price", net.operator, json={"price_per_hour": "12.50"})
    net.ok("POST", "/orgs/demo/projects/default/topups", net.operator, json={"amount": "10.00"})
    spec = {**HELLO, "resources": {"accelerators": "A100:2", "max_runtime": "3h"}}
    [gpu] = net.ok("POST", "/quote", net.tenant, json={"spec": spec})["candidates"]
    assert (gpu["fits"], gpu["code"], gpu["expected_start"]) == (False, "unschedulable", None)
    assert gpu["reason"] == "insufficient funds: needs 75.00 CNY, can hold 10.00 CNY"
    assert gpu["expected_cost"] == "75.00 CNY"  # still priced
    net.ok("POST", "/orgs/demo/projects/default/topups", net.operator, json={"amount": "65.00"})
    [gpu] = net.ok("POST", "/quote", net.tenant, json={"spec": spec})["candidates"]
    assert (gpu["fits"], gpu["expected_start"]) == (True, "now")


def test_a_quote_prices_every_pool_and_says_why_the_others_do_not_fit(net: Net) -> None:
    net.add_site("sh1", [GPU_POOL])
    net.add_site("sh2", [CPU_POOL])
    net.ok("PATCH", "/sites/sh1", net.operator, json={"pue": "1.25", "carbon_g_per_kwh": 600})
    net.ok("POST", "/sites/sh1/pools/gpu/price", net.operator, json={"price_per_hour": "12.50"})
    net.ok("POST", "/orgs/demo/projects/default/topups", net.operator, json={"amount": "100.00"})
    spec = {**HELLO, "resources": {"accelerators": "A100:2", "max_runtime": "3h", "cpus": 2}}
    quote = net.ok("POST", "/quote", net.tenant, json={"spec": spec})
    first, other = quote["candidates"]
    assert first["pool"] == "sh1/gpu" and first["fits"]
    assert first["price_per_hour"] == "25.00 CNY" and first["expected_cost"] == "75.00 CNY"
    # (2 × 400 W A100 + 2 × 10 W CPU) × PUE 1.25 × 3 h = 3.075 kWh; × 600 g/kWh = 1.845 kg (half-even)
    assert (first["energy_kwh"], first["carbon_kg"]) == ("3.08", "1.84")
    assert other["pool"] == "sh2/cpu" and not other["fits"] and "offers no accelerators" in other["reason"]
    assert (quote["expected_hours_from"], quote["runnable"]) == ("max_runtime", True)
    assert net.ok("GET", "/jobs", net.tenant)["items"] == []  # a quote submits nothing
    never = {**HELLO, "resources": {"accelerators": "H100:1"}}
    quote = net.ok("POST", "/quote", net.tenant, json={"spec": never})
    assert (quote["expected_hours"], quote["expected_hours_from"], quote["runnable"]) == (
        "1.00",
        "default_hold",
        False,
    )
    assert net.call("POST", "/jobs", net.tenant, json={"spec": never}).status_code == 422  # as submit
    # what the quote asks about is the job submit would store: its data residency rules sh1 out too
    kept = {**HELLO, "resources": {"accelerators": "A100:2"}, "constraints": {"data_residency": "eu-west"}}
    assert net.ok("POST", "/quote", net.tenant, json={"spec": kept})["runnable"] is False
    assert net.call("POST", "/jobs", net.tenant, json={"spec": kept}).status_code == 422


def test_a_quote_prices_the_whole_book_as_the_hold_and_the_charge_do(net: Net) -> None:
    agent = net.add_site("sh1", [GPU_POOL])
    net.ok("POST", "/orgs/demo/projects/default/topups", net.operator, json={"amount": "1000.00"})
    book = {"currency": "CNY", "tenant": {"accelerator_hour": "12.50", "cpu_hour": "0.40", "gb_hour": "0.10"},
            "wholesale": {"accelerator_hour": "10.00", "cpu_hour": "0.30", "gb_hour": "0.08"}, "minimum": "0.00"}  # fmt: skip
    net.ok("POST", "/sites/sh1/pools/gpu/prices", net.operator, json=book)
    spec = {**HELLO, "resources": {"accelerators": "A100:2", "cpus": 2, "memory": "8Gi", "max_runtime": "3h"}}
    [gpu] = [c for c in net.ok("POST", "/quote", net.tenant, json={"spec": spec})["candidates"] if c["fits"]]
    # 2 × 12.50 + 2 × 0.40 + 8 × 0.10 an hour, for 3 h: what the job holds when it is placed
    assert (gpu["price_per_hour"], gpu["expected_cost"]) == ("26.60 CNY", "79.80 CNY")
    net.ok("POST", "/jobs", net.tenant, json={"spec": spec})
    net.cycle()
    assert sync(net, agent)["launch"]
    held = net.ok("GET", "/orgs/demo/balance", net.operator)["projects"][0]["held"]
    assert held["minor"] == 7_980


def test_max_price_per_hour_keeps_a_job_off_dear_pools(net: Net) -> None:
    net.add_site("sh1", [GPU_POOL])
    net.ok("POST", "/sites/sh1/pools/gpu/price", net.operator, json={"price_per_hour": "19.00"})
    spec = {**HELLO, "resources": {"accelerators": "A100:2"}, "constraints": {"max_price_per_hour": "30.00"}}
    resp = net.call("POST", "/jobs", net.tenant, json={"spec": spec})
    assert (
        resp.status_code == 422 and "price 38.00/h above max 30.00/h" in resp.json()["errors"][0]["message"]
    )


def test_bad_energy_profiles_and_prices_name_the_field(net: Net) -> None:
    net.add_site("sh1", [GPU_POOL])
    resp = net.call("PATCH", "/sites/sh1", net.operator, json={"pue": "0.5"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "pue"
    resp = net.call("POST", "/sites/sh1/pools/gpu/price", net.operator, json={"price_per_hour": "1.234"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "price_per_hour"
    assert (
        net.call("POST", "/sites/sh1/pools/gpu/price", net.tenant, json={"price_per_hour": "1"}).status_code
        == 403
    )


def three_of_four_busy_until_two(net: Net) -> None:
    """Site sh1's 4×A100 pool with a job on 3 of them, started at 12:00 for up to 2 h; now 12:30."""
    agent = net.add_site("sh1", [GPU_POOL])
    busy = {**HELLO, "resources": {"accelerators": "A100:3", "max_runtime": "2h"}}
    net.ok("POST", "/jobs", net.tenant, json={"spec": busy})
    net.cycle()
    [launch] = sync(net, agent)["launch"]
    sync(net, agent, [report(launch, "RUNNING")])
    net.clock.advance(1800)
    sync(net, agent, [report(launch, "RUNNING")])


def test_a_quote_expects_a_start_when_running_work_reaches_its_max_runtime(net: Net) -> None:
    three_of_four_busy_until_two(net)
    wanted = {**HELLO, "resources": {"accelerators": "A100:2"}}
    [row] = net.ok("POST", "/quote", net.tenant, json={"spec": wanted})["candidates"]
    assert not row["fits"] and row["expected_start"] == "2026-11-25T14:00:00Z"  # started 12:00 + 2 h
    small = {**HELLO, "resources": {"accelerators": "A100:1"}}
    assert (
        net.ok("POST", "/quote", net.tenant, json={"spec": small})["candidates"][0]["expected_start"] == "now"
    )


def test_a_quote_counts_the_jobs_waiting_ahead(net: Net) -> None:
    three_of_four_busy_until_two(net)
    whole = {**HELLO, "resources": {"accelerators": "A100:4", "max_runtime": "1h"}}
    net.ok("POST", "/jobs", net.tenant, json={"spec": whole})  # waits for 14:00, runs until 15:00
    net.cycle()
    one = {**HELLO, "resources": {"accelerators": "A100:1"}}
    quote = net.ok("POST", "/quote", net.tenant, json={"spec": one})
    assert (quote["queue_ahead"], quote["queue_projected"]) == (1, 1)
    assert quote["candidates"][0]["expected_start"] == "2026-11-25T15:00:00Z"  # after the job ahead
    short = {**HELLO, "resources": {"accelerators": "A100:1", "max_runtime": "1h"}}
    [row] = net.ok("POST", "/quote", net.tenant, json={"spec": short})["candidates"]
    assert row["expected_start"] == "now"  # ends at 13:30, before the job ahead needs the pool


def test_a_quote_for_a_project_the_caller_cannot_submit_to_is_refused_as_a_submit_would_be(net: Net) -> None:
    net.add_site("sh1", [CPU_POOL])
    net.ok("POST", "/orgs", net.operator, json={"name": "other"})
    net.ok("POST", "/orgs/other/projects", net.operator, json={"name": "secret"})
    for project in ("other/secret", "nowhere"):
        spec = {**HELLO, "project": project}
        quoted = net.call("POST", "/quote", net.tenant, json={"spec": spec})
        submitted = net.call("POST", "/jobs", net.tenant, json={"spec": spec})
        assert quoted.status_code == submitted.status_code == 422, quoted.text
        assert quoted.json()["code"] == submitted.json()["code"] == "unknown_project"
    assert net.ok("POST", "/quote", net.tenant, json={"spec": {**HELLO, "project": "default"}})["runnable"]
