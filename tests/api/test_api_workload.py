"""`GET /workload`: the network's ended jobs as a trace for capacity planning, from the real API."""

from __future__ import annotations

from typing import Any

from api_net import CPU_POOL, GPU_POOL, Net

TRAIN = {
    "name": "train",
    "run": "python train.py",
    "preemptible": True,
    "checkpoint_interval": "10m",
    "resources": {"accelerators": "A100:2", "max_runtime": "2h"},
}


def sync(net: Net, agent: str, attempts: list[dict[str, Any]] | None = None) -> Any:
    return net.ok("POST", "/agent/sync", agent, json={"attempts": attempts or []})


def report(launch: dict[str, Any], state: str, **kw: Any) -> dict[str, Any]:
    return {"id": launch["attempt_id"], "fencing_token": launch["fencing_token"], "state": state, **kw}


def run_for(net: Net, agent: str, seconds: float, state: str = "SUCCEEDED") -> None:
    """Start whatever is launched to the agent, let the clock run, end it all in `state`."""
    sync(net, agent)  # heard from within its lease, so online
    net.cycle()
    launches = sync(net, agent)["launch"]
    sync(net, agent, [report(x, "RUNNING") for x in launches])
    net.clock.advance(seconds)
    sync(net, agent, [report(x, state, exit_code=0 if state == "SUCCEEDED" else 1) for x in launches])


def test_ended_jobs_come_out_as_rigid_jobs_and_the_rest_are_counted(net: Net) -> None:
    gpu = net.add_site("sh1", [GPU_POOL])
    cpu = net.add_site("sh2", [CPU_POOL])
    first = net.ok("POST", "/jobs", net.tenant, json={"spec": TRAIN})
    run_for(net, gpu, 3600)
    net.clock.advance(30)
    rival = net.tenant_token("rival", "bob")
    either = {"name": "sweep", "run": "x", "resources": {"accelerators": ["A100:1", "H100:1", "V100:2"]}}
    second = net.ok("POST", "/jobs", rival, json={"spec": either})
    run_for(net, gpu, 90.5, "FAILED")
    net.ok(
        "POST",
        "/jobs",
        net.tenant,
        json={"spec": {"name": "etl", "run": "x", "constraints": {"sites": ["sh2"]}}},
    )
    run_for(net, cpu, 60)  # ran, but on no accelerator
    never = net.ok("POST", "/jobs", net.tenant, json={"spec": {**TRAIN, "name": "never"}})
    net.ok("POST", f"/jobs/{never['id']}/cancel", net.tenant)
    net.ok("POST", "/jobs", net.tenant, json={"spec": TRAIN})  # still waiting: not ended, not listed

    net.clock.advance(1)  # `until` (now) is exclusive
    body = net.ok("GET", "/workload", net.operator)
    assert body["skipped"] == {"never_ran": 1, "no_accelerators": 1}
    assert body["next_cursor"] is None
    a, b = body["items"]
    assert a == {
        "job": first["id"],
        "tenant": "demo",
        "name": "train",
        "submitted_at": first["created_at"],
        "state": "SUCCEEDED",
        "duration_s": 3600.0,
        "gpus": 2,
        "model": "A100",
        "max_runtime_s": 7200,
        "preemptible": True,
        "checkpoint_s": 600,
    }
    # Ran on one A100: the models it accepted at one accelerator; 90.5 s until it failed.
    assert (b["job"], b["tenant"], b["state"], b["gpus"], b["model"]) == (
        second["id"],
        "rival",
        "FAILED",
        1,
        "A100|H100",
    )
    assert (b["duration_s"], b["preemptible"], b["max_runtime_s"]) == (90.5, False, None)

    # A tenant sees its own org's jobs; pages follow the cursor.
    mine = net.ok("GET", "/workload", rival)
    assert [j["job"] for j in mine["items"]] == [second["id"]]
    page = net.ok("GET", "/workload?limit=1", net.operator)
    assert [j["job"] for j in page["items"]] == [first["id"]] and page["next_cursor"]
    rest = net.ok("GET", f"/workload?limit=1&cursor={page['next_cursor']}", net.operator)
    assert [j["job"] for j in rest["items"]] == [second["id"]]


def test_the_window_is_checked_and_defaults_to_the_last_30_days(net: Net) -> None:
    body = net.ok("GET", "/workload", net.operator)
    assert (body["since"], body["until"]) == ("2026-10-26T12:00:00Z", "2026-11-25T12:00:00Z")
    bad = net.call("GET", "/workload?since=2026-11-20T00:00:00Z&until=2026-11-01T00:00:00Z", net.operator)
    assert bad.status_code == 422 and "since" in bad.text and "must be before until" in bad.text
    assert net.call("GET", "/workload?cursor=job_nope", net.operator).status_code == 422
