"""Priority classes, org quotas and preemption through the real API and database."""

from __future__ import annotations

from typing import Any

from api_net import GPU_POOL, Net

GPU4 = {"accelerators": "A100:4", "cpus": 4, "memory": "8Gi"}


def spec(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "run": "sleep 600", "resources": GPU4, **extra}


def sync(net: Net, agent: str, attempts: list[dict[str, Any]] | None = None) -> Any:
    return net.ok("POST", "/agent/sync", agent, json={"attempts": attempts or []})


def report(launch: dict[str, Any], state: str, **kw: Any) -> dict[str, Any]:
    return {"id": launch["attempt_id"], "fencing_token": launch["fencing_token"], "state": state, **kw}


def test_high_priority_needs_an_operator_to_allow_it(net: Net) -> None:
    resp = net.call(
        "POST", "/jobs", net.tenant, json={"spec": {"name": "x", "run": "true", "priority": "high"}}
    )
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "priority"
    assert "low, normal" in resp.json()["errors"][0]["message"]
    net.ok("PUT", "/orgs/demo/quota", net.operator, json={"max_priority": "high"})
    assert net.call(
        "POST", "/jobs", net.tenant, json={"spec": {"name": "x", "run": "true", "priority": "high"}}
    )


def test_only_operators_set_quotas_and_bad_values_name_the_field(net: Net) -> None:
    assert net.call("PUT", "/orgs/demo/quota", net.tenant, json={"limit_cu": 8}).status_code == 403
    resp = net.call("PUT", "/orgs/demo/quota", net.operator, json={"guaranteed_cu": 8, "limit_cu": 4})
    assert resp.status_code == 422 and resp.json()["detail"] == "a limit below the guaranteed quota"
    # in words, never the field's name (`--limit: must be at least guaranteed_cu`)
    assert resp.json()["errors"] == [{"field": "limit_cu", "message": "at least the guaranteed quota, 8 CU"}]
    resp = net.call("PUT", "/orgs/demo/quota", net.operator, json={"guaranteed_cu": "12.5", "limit_cu": 4})
    assert resp.json()["errors"][0]["message"] == "at least the guaranteed quota, 12.5 CU"
    resp = net.call("PUT", "/orgs/demo/quota", net.operator, json={"guaranteed_cu": "lots"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "guaranteed_cu"
    net.ok("PUT", "/orgs/demo/quota", net.operator, json={"guaranteed_cu": "4", "limit_cu": 8})
    quota = net.ok("GET", "/orgs/demo", net.tenant)["quota"]
    assert (quota["guaranteed_cu"], quota["limit_cu"], quota["max_priority"]) == ("4", "8", "normal")


def test_an_org_over_its_limit_waits_and_why_says_so(net: Net) -> None:
    net.add_site("sh1", [GPU_POOL])
    net.add_site("sh2", [GPU_POOL])
    net.ok("PUT", "/orgs/demo/quota", net.operator, json={"limit_cu": 4})
    first = net.ok("POST", "/jobs", net.tenant, json={"spec": spec("one")})
    second = net.ok("POST", "/jobs", net.tenant, json={"spec": spec("two")})
    net.cycle()
    assert net.ok("GET", f"/jobs/{first['id']}", net.tenant)["state"] == "ASSIGNED"
    assert net.ok("GET", f"/jobs/{second['id']}", net.tenant)["state"] == "PENDING"
    why = net.ok("GET", f"/jobs/{second['id']}/why", net.tenant)
    assert "over org quota" in why["blocked"][0]["reason"]
    assert "borrowing limit reached" in why["blocked"][0]["reason"]


def test_a_high_priority_job_preempts_a_low_one_which_requeues_with_its_retries(net: Net) -> None:
    agent = net.add_site("sh1", [GPU_POOL])
    low = net.ok("POST", "/jobs", net.tenant, json={"spec": spec("batch", priority="low", retries=0)})
    net.cycle()
    [launch] = sync(net, agent)["launch"]
    sync(net, agent, [report(launch, "RUNNING")])

    vip = net.tenant_token("lab", "vip-user")
    net.ok("PUT", "/orgs/lab/quota", net.operator, json={"max_priority": "high"})
    urgent = net.ok("POST", "/jobs", vip, json={"spec": spec("urgent", priority="high")})
    net.cycle()
    why = net.ok("GET", f"/jobs/{urgent['id']}/why", vip)
    assert why["reservation"]["pool"] == "sh1/gpu" and why["reservation"]["preempting"] == 1
    told = sync(net, agent, [report(launch, "RUNNING")])
    assert told["cancel"] == [launch["attempt_id"]]
    events = [e["kind"] for e in net.ok("GET", f"/jobs/{low['id']}/events", net.tenant)["items"]]
    assert "preempting" in events

    sync(net, agent, [report(launch, "CANCELLED", exit_code=143)])  # SIGTERM, grace, gone
    job = net.ok("GET", f"/jobs/{low['id']}", net.tenant)
    assert job["state"] == "PENDING"  # retries=0, yet not failed: a preemption is not the job's fault
    assert job["attempts"][0]["state"] == "PREEMPTED"
    net.cycle()
    assert net.ok("GET", f"/jobs/{urgent['id']}", vip)["state"] == "ASSIGNED"
    why = net.ok("GET", f"/jobs/{low['id']}/why", net.tenant)
    assert why["preemptions"] == 1
    assert "stopping it (preempted for job" in why["last_preemption"]["message"]
    assert urgent["id"] in why["last_preemption"]["message"] and why["last_preemption"]["at"]
    assert net.ok("GET", f"/jobs/{urgent['id']}/why", vip)["last_preemption"] is None


def test_a_normal_job_never_preempts_a_job_that_cannot_resume(net: Net) -> None:
    agent = net.add_site("sh1", [GPU_POOL])
    net.ok("POST", "/jobs", net.tenant, json={"spec": spec("steady")})  # normal, not preemptible
    net.cycle()
    [launch] = sync(net, agent)["launch"]
    sync(net, agent, [report(launch, "RUNNING")])
    vip = net.tenant_token("lab", "vip-user")
    net.ok("PUT", "/orgs/lab/quota", net.operator, json={"max_priority": "high"})
    net.ok("POST", "/jobs", vip, json={"spec": spec("urgent", priority="high")})
    net.cycle()
    assert sync(net, agent, [report(launch, "RUNNING")])["cancel"] == []


ONE_GPU = {"accelerators": "A100:1", "cpus": 1, "memory": "1Gi"}


def test_a_wide_job_kept_out_only_by_where_small_jobs_sit_moves_one_and_takes_its_room(net: Net) -> None:
    # Two sites of 4 A100 each. Five 1-GPU jobs fill sh1 and take one GPU of sh2; two on sh1 end:
    # 5 GPUs are free, but no pool has 4. A 4-GPU job of another tenant moves the one on sh2 to the
    # free room of sh1 (ADR 0028): it is stopped, requeued, and placed on sh1; the wide job takes
    # sh2, the room it claimed.
    agents = {"sh1": net.add_site("sh1", [GPU_POOL]), "sh2": net.add_site("sh2", [GPU_POOL])}
    small = [
        net.ok(
            "POST",
            "/jobs",
            net.tenant,
            json={"spec": {**spec(f"s{k}"), "resources": ONE_GPU, "preemptible": True}},
        )
        for k in range(5)
    ]
    net.cycle()
    launches = {site: sync(net, agent)["launch"] for site, agent in agents.items()}
    assert [len(launches["sh1"]), len(launches["sh2"])] == [4, 1]
    for site, agent in agents.items():
        sync(net, agent, [report(launch, "RUNNING") for launch in launches[site]])
    net.clock.advance(900)  # past their minimum run: they may be evicted (they declare no checkpoints)
    ended, kept = launches["sh1"][:2], launches["sh1"][2:]
    sync(
        net,
        agents["sh1"],
        [*(report(x, "SUCCEEDED", exit_code=0) for x in ended), *(report(x, "RUNNING") for x in kept)],
    )
    [moved] = launches["sh2"]
    sync(net, agents["sh2"], [report(moved, "RUNNING")])  # both sites stay online

    lab = net.tenant_token("lab", "lab-user")
    wide = net.ok("POST", "/jobs", lab, json={"spec": spec("wide")})
    net.cycle()  # just come: it moves nothing yet (the room in pieces may come whole as jobs end)
    assert net.ok("GET", f"/jobs/{wide['id']}/why", lab)["reservation"] is None
    net.clock.advance(150)  # past `preempt_after_s` (it has no expected run time yet)
    sync(net, agents["sh1"], [report(x, "RUNNING") for x in kept])
    sync(net, agents["sh2"], [report(moved, "RUNNING")])
    net.cycle()
    why = net.ok("GET", f"/jobs/{wide['id']}/why", lab)
    assert why["reservation"]["pool"] == "sh2/gpu" and why["reservation"]["preempting"] == 1
    assert why["reservation"]["claim"] is True
    assert sync(net, agents["sh2"], [report(moved, "RUNNING")])["cancel"] == [moved["attempt_id"]]
    moved_job = next(j for j in small if j["id"] == moved["job_id"])
    events = net.ok("GET", f"/jobs/{moved_job['id']}/events", net.tenant)["items"]
    assert any("moved for job" in (e.get("message") or "") for e in events)

    sync(net, agents["sh2"], [report(moved, "CANCELLED", exit_code=143)])
    net.cycle()
    assert net.ok("GET", f"/jobs/{wide['id']}", lab)["state"] == "ASSIGNED"
    assert [x["job_id"] for x in sync(net, agents["sh2"])["launch"]] == [wide["id"]]
    assert [
        x["job_id"] for x in sync(net, agents["sh1"], [report(x, "RUNNING") for x in kept])["launch"]
    ] == [moved_job["id"]]


def test_why_names_a_preemption_made_before_the_attempt_started(net: Net) -> None:
    net.add_site("sh1", [GPU_POOL])
    low = net.ok("POST", "/jobs", net.tenant, json={"spec": spec("batch", priority="low")})
    net.cycle()
    assert net.ok("GET", f"/jobs/{low['id']}", net.tenant)["state"] == "ASSIGNED"  # its site never started it
    vip = net.tenant_token("lab", "vip-user")
    net.ok("PUT", "/orgs/lab/quota", net.operator, json={"max_priority": "high"})
    urgent = net.ok("POST", "/jobs", vip, json={"spec": spec("urgent", priority="high")})
    net.cycle()
    why = net.ok("GET", f"/jobs/{low['id']}/why", net.tenant)
    assert why["state"] == "PENDING" and why["preemptions"] == 1
    said = why["last_preemption"]["message"]
    assert "preempted before it started" in said and urgent["id"] in said
