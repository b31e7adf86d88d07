"""The `service` queue order in the control plane (`SUANLI_QUEUE_ORDER=service`): the snapshot
carries each job's attained service and a run-time prediction from finished jobs, new jobs evict
resumable ones that have had more service, and `why` says where a job stands in the queue."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from api_net import GPU_POOL, Net, running_net

from suanli.control.settings import Settings

GPU4 = {"accelerators": "A100:4", "cpus": 4, "memory": "8Gi"}


@pytest.fixture(params=["service", "las", "fair"])
def order(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def net(database_url: str, tmp_path: Any, order: str) -> Iterator[Net]:
    with running_net(database_url, tmp_path, queue_order=order) as harness:
        yield harness


def sync(net: Net, agent: str, attempts: list[dict[str, Any]] | None = None) -> Any:
    return net.ok("POST", "/agent/sync", agent, json={"attempts": attempts or []})


def report(launch: dict[str, Any], state: str, **kw: Any) -> dict[str, Any]:
    return {"id": launch["attempt_id"], "fencing_token": launch["fencing_token"], "state": state, **kw}


def run_to_end(net: Net, agent: str, token: str, name: str, seconds: float) -> None:
    net.ok("POST", "/jobs", token, json={"spec": {"name": name, "run": "train", "resources": GPU4}})
    net.cycle()
    [launch] = sync(net, agent)["launch"]
    sync(net, agent, [report(launch, "RUNNING")])
    net.clock.advance(seconds)
    sync(net, agent, [report(launch, "SUCCEEDED", exit_code=0)])


def test_a_new_job_evicts_a_resumable_one_that_has_had_more_service(net: Net, order: str) -> None:
    agent = net.add_site("sh1", [GPU_POOL])
    long = net.ok(
        "POST",
        "/jobs",
        net.tenant,
        json={
            "spec": {"name": "pretrain", "run": "sleep 1d", "resources": GPU4, "checkpoint_interval": "10m"}
        },
    )
    net.cycle()
    [launch] = sync(net, agent)["launch"]
    sync(net, agent, [report(launch, "RUNNING")])
    net.clock.advance(2 * 3600 + 30)  # 8 accelerator-hours, 30 s after its 12th checkpoint
    sync(net, agent, [report(launch, "RUNNING")])  # the site is alive: its lease is renewed

    lab = net.tenant_token("lab", "ming")
    short = net.ok("POST", "/jobs", lab, json={"spec": {"name": "eval", "run": "eval", "resources": GPU4}})
    net.cycle()
    told = sync(net, agent, [report(launch, "RUNNING")])
    if order == "fair":  # same priority: the fair order never preempts for it
        assert told["cancel"] == []
        assert net.ok("GET", f"/jobs/{short['id']}/why", lab)["queue"] is None
        return
    assert told["cancel"] == [launch["attempt_id"]]
    sync(net, agent, [report(launch, "CANCELLED", exit_code=143)])
    net.cycle()
    assert net.ok("GET", f"/jobs/{short['id']}", lab)["state"] == "ASSIGNED"
    assert net.ok("GET", f"/jobs/{long['id']}", net.tenant)["state"] == "PENDING"
    [waiting] = [j for j in net.cp.loop.queue if j.id == long["id"]]
    assert waiting.ran_s == pytest.approx(2 * 3600 + 30)  # the service it had, kept through checkpoints
    note = net.ok("GET", f"/jobs/{long['id']}/why", net.tenant)["queue"]
    assert note.startswith("no waiting job goes before it"), note
    if order == "service":  # every job ages
        assert "promoted in 4 h by the ageing rule" in note, note
    else:  # `las`: a job past the first rung does not (ADR 0019)
        assert "it has had an accelerator-hour, so it is not promoted" in note, note


def test_waiting_jobs_carry_run_times_predicted_from_finished_jobs(net: Net, order: str) -> None:
    agent = net.add_site("sh1", [GPU_POOL])
    for seconds in (1000, 2000, 4000):  # their geometric mean is 2,000 s
        run_to_end(net, agent, net.tenant, "finetune", seconds)
    busy = net.ok("POST", "/jobs", net.tenant, json={"spec": {"name": "hold", "run": "x", "resources": GPU4}})
    waiting = net.ok(
        "POST", "/jobs", net.tenant, json={"spec": {"name": "finetune", "run": "y", "resources": GPU4}}
    )
    net.cycle()
    assert net.ok("GET", f"/jobs/{busy['id']}", net.tenant)["state"] == "ASSIGNED"
    [queued] = [j for j in net.cp.loop.queue if j.id == waiting["id"]]
    if order == "fair":  # the fair order reads no predictions, and the loop makes none
        assert queued.expected_s is None
        return
    assert queued.expected_s == pytest.approx(2000.0, rel=1e-6)
    note = net.ok("GET", f"/jobs/{waiting['id']}/why", net.tenant)["queue"]
    assert "promoted in" in note, note


def test_a_waiting_job_is_seen_anew_only_when_its_prediction_changes(net: Net, order: str) -> None:
    """Cycle after cycle the loop hands the scheduler the same waiting job (what its carry keeps by
    job holds), until what is known of it changes: here, a finished run moves its prediction."""
    if order == "fair":  # no predictions, no service: nothing changes a waiting job
        return
    agent = net.add_site("sh1", [GPU_POOL])
    for seconds in (1000, 2000, 4000):
        run_to_end(net, agent, net.tenant, "finetune", seconds)
    net.ok("POST", "/jobs", net.tenant, json={"spec": {"name": "hold", "run": "x", "resources": GPU4}})
    waiting = net.ok(
        "POST", "/jobs", net.tenant, json={"spec": {"name": "finetune", "run": "y", "resources": GPU4}}
    )
    net.cycle()
    [first] = [j for j in net.cp.loop.queue if j.id == waiting["id"]]
    net.clock.advance(60)
    net.cycle()
    [again] = [j for j in net.cp.loop.queue if j.id == waiting["id"]]
    assert again is first
    other = net.add_site("sh2", [{**GPU_POOL, "accelerator": "H100"}])  # not a pool the waiting job takes
    h100 = {**GPU4, "accelerators": "H100:4"}
    net.ok("POST", "/jobs", net.tenant, json={"spec": {"name": "finetune", "run": "z", "resources": h100}})
    net.cycle()
    [launch] = sync(net, other)["launch"]
    sync(net, other, [report(launch, "RUNNING")])
    net.clock.advance(16000)
    sync(net, agent)  # sh1 keeps its lease
    sync(net, other, [report(launch, "SUCCEEDED", exit_code=0)])  # a fourth run of its kind
    net.cycle()
    [moved] = [j for j in net.cp.loop.queue if j.id == waiting["id"]]
    assert moved is not first
    assert moved.expected_s == pytest.approx((1000 * 2000 * 4000 * 16000) ** 0.25, rel=1e-6)  # geometric mean


def test_an_unknown_queue_order_is_refused_by_name(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match=r"unknown queue order 'lifo'; known: .*fair.*service"):
        Settings(data_dir=tmp_path, queue_order="lifo")


def test_cycles_go_on_when_the_spec_facts_kept_overflow(
    net: Net, order: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A snapshot reads a job's spec only when it first meets the job; what it keeps of specs is
    emptied when it grows too large, between snapshots and never within one (a job whose facts
    were kept when its spec was left unread must still find them)."""
    monkeypatch.setattr("suanli.control.snapshots._SPEC_FACTS_MAX", 2)
    agent = net.add_site("sh1", [GPU_POOL])
    run_to_end(net, agent, net.tenant, "finetune", 1000)
    posted = [
        net.ok("POST", "/jobs", net.tenant, json={"spec": {"name": f"j{i}", "run": "x", "resources": GPU4}})
        for i in range(5)
    ]
    for _ in range(3):
        net.cycle()
        net.clock.advance(60)
        sync(net, agent)
    waiting = {j.id for j in net.cp.loop.queue}
    running = {p["id"] for p in posted} - waiting
    assert len(running) == 1 and len(waiting) == 4  # the pool holds one at a time
