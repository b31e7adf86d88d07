"""A job's output over several attempts: where each attempt's begins, and one attempt's alone."""

from __future__ import annotations

from typing import Any

from api_net import CPU_POOL, Net

RETRIED = {"name": "retried", "run": "train", "retries": 1}


def sync(net: Net, agent: str, attempts: list[dict[str, Any]] | None = None, **extra: Any) -> Any:
    return net.ok("POST", "/agent/sync", agent, json={"attempts": attempts or [], **extra})


def report(launch: dict[str, Any], state: str, **kw: Any) -> dict[str, Any]:
    return {"id": launch["attempt_id"], "fencing_token": launch["fencing_token"], "state": state, **kw}


def output(launch: dict[str, Any], offset: int, data: str) -> dict[str, Any]:
    return {"attempt_id": launch["attempt_id"], "offset": offset, "data": data}


def logs(net: Net, job_id: str, **params: Any) -> Any:
    return net.ok("GET", f"/jobs/{job_id}/logs", net.tenant, params=params)


def failed_then_rerun(net: Net) -> tuple[str, dict[str, Any], str, dict[str, Any]]:
    """A job whose first attempt on sh1 wrote `epoch 1` (no newline) and failed, and whose second,
    on sh2, has started; returns (job id, first launch, sh2's agent, second launch)."""
    first_site = net.add_site("sh1", [CPU_POOL])
    job = net.ok("POST", "/jobs", net.tenant, json={"spec": RETRIED})["id"]
    net.cycle()
    [first] = sync(net, first_site)["launch"]
    sync(net, first_site, [report(first, "RUNNING")], logs=[output(first, 0, "epoch 1")])
    sync(net, first_site, [report(first, "FAILED", exit_code=1)])
    net.ok("POST", "/sites/sh1/disable", net.operator)
    second_site = net.add_site("sh2", [CPU_POOL])
    net.cycle()
    [second] = sync(net, second_site)["launch"]
    sync(net, second_site, [report(second, "RUNNING")], logs=[output(second, 0, "resuming\n")])
    return job, first, second_site, second


def test_the_logs_say_where_each_attempt_begins_and_where_it_ran(net: Net) -> None:
    job, _, _, _ = failed_then_rerun(net)
    answer = logs(net, job)
    assert answer["data"] == "epoch 1resuming\n" and answer["next_offset"] == 16
    assert answer["attempts"] == [
        {"number": 1, "offset": 0, "site": "sh1", "pool": "cpu"},
        {"number": 2, "offset": 7, "site": "sh2", "pool": "cpu"},
    ]
    assert answer["complete"] is False  # the job runs on
    # read from past the seam: the list is the same, so a reader still knows whose bytes these are
    assert logs(net, job, offset=7)["attempts"] == answer["attempts"]


def test_one_attempts_output_alone_is_complete_once_that_attempt_ended(net: Net) -> None:
    job, _, agent, second = failed_then_rerun(net)
    first = logs(net, job, attempt=1)
    assert (first["data"], first["next_offset"], first["complete"]) == ("epoch 1", 7, True)
    running = logs(net, job, attempt=2)
    assert (running["data"], running["offset"], running["next_offset"]) == ("resuming\n", 0, 16)
    assert running["complete"] is False
    # a follow of the ended attempt from its end answers at once: nothing more will come
    after = logs(net, job, attempt=1, offset=7, follow=True, wait=30)
    assert (after["data"], after["next_offset"], after["complete"]) == ("", 7, True)
    sync(net, agent, [report(second, "RUNNING")], logs=[output(second, 9, "done\n")])
    sync(net, agent, [report(second, "SUCCEEDED", exit_code=0)])
    rest = logs(net, job, attempt=2, offset=16)
    assert (rest["data"], rest["next_offset"], rest["complete"]) == ("done\n", 21, True)
    assert logs(net, job, attempt=2, offset=0)["data"] == "resuming\ndone\n"
    whole = logs(net, job)
    assert whole["data"] == "epoch 1resuming\ndone\n" and whole["complete"] is True


def test_an_attempt_the_job_never_had_is_refused_naming_the_ones_it_has(net: Net) -> None:
    job, _, _, _ = failed_then_rerun(net)
    resp = net.call("GET", f"/jobs/{job}/logs", net.tenant, params={"attempt": 3})
    assert resp.status_code == 422 and resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["code"] == "unknown_attempt"
    assert body["detail"] == f"job {job} has no attempt 3; its attempts: 1, 2"
    assert body["errors"] == [{"field": "attempt", "message": "one of the job's attempts: 1, 2"}]
    waiting = net.ok("POST", "/jobs", net.tenant, json={"spec": RETRIED})["id"]
    resp = net.call("GET", f"/jobs/{waiting}/logs", net.tenant, params={"attempt": 1})
    assert resp.status_code == 422 and "its attempts: none yet" in resp.json()["detail"]
    assert net.call("GET", f"/jobs/{job}/logs", net.tenant, params={"attempt": 0}).status_code == 422
    # another tenant learns nothing of the job, attempt or not
    rival = net.tenant_token("rival", "bob")
    assert net.call("GET", f"/jobs/{job}/logs", rival, params={"attempt": 1}).status_code == 404
