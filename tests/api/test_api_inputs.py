"""Raw input every route refuses before it looks: NUL characters (PostgreSQL's text cannot hold
them) and bodies over the limit, however they are sent. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from api_net import CPU_POOL, Net

HELLO = {"name": "hello", "run": "echo hello"}


def _error(resp: Any) -> tuple[int, str, str]:
    [error] = resp.json()["errors"]
    return resp.status_code, error["field"], error["message"]


def test_a_nul_in_a_json_string_is_refused_naming_its_field(net: Net) -> None:
    resp = net.call("POST", "/tokens", net.tenant, json={"name": "a\x00b"})
    assert _error(resp) == (422, "name", "must not contain a NUL character (\\u0000)")
    assert resp.json()["title"] == "Unprocessable Content"
    spec = {**HELLO, "env": {"MODE": "x\x00y"}}
    assert _error(net.call("POST", "/jobs", net.tenant, json={"spec": spec}))[:2] == (422, "spec.env.MODE")
    assert net.ok("GET", "/jobs", net.tenant)["items"] == []  # nothing was written
    listed = net.ok("GET", "/tokens", net.tenant)["items"]
    assert all("\x00" not in t["name"] for t in listed)


def test_a_nul_in_the_path_or_a_query_parameter_is_refused(net: Net) -> None:
    assert _error(net.call("GET", "/orgs/demo%00", net.tenant))[:2] == (422, "path")
    assert _error(net.call("GET", "/jobs", net.tenant, params={"cursor": "\x00"}))[:2] == (
        422,
        "query.cursor",
    )
    assert _error(net.call("GET", "/jobs", net.tenant, params={"project": "a\x00"}))[:2] == (
        422,
        "query.project",
    )


def test_a_job_that_prints_a_nul_keeps_its_site_and_its_log(net: Net) -> None:
    """Job output is machine text: a NUL in an agent's report becomes "?" (one byte for one, so the
    log's offsets hold), and the site stays in service."""
    agent = net.add_site("sh1", [CPU_POOL])
    job = net.ok("POST", "/jobs", net.tenant, json={"spec": HELLO})
    net.cycle()
    launch = net.ok("POST", "/agent/sync", agent, json={"attempts": []})["launch"][0]
    running = {"id": launch["attempt_id"], "fencing_token": launch["fencing_token"], "state": "RUNNING"}
    logs = [{"attempt_id": launch["attempt_id"], "offset": 0, "data": "a\x00b\n"}]
    net.ok("POST", "/agent/sync", agent, json={"attempts": [running], "logs": logs})
    more = [{"attempt_id": launch["attempt_id"], "offset": 4, "data": "c\n"}]
    net.ok("POST", "/agent/sync", agent, json={"attempts": [running], "logs": more})
    assert net.ok("GET", f"/jobs/{job['id']}/logs", net.tenant, params={"offset": 0})["data"] == "a?b\nc\n"
    assert net.ok("GET", f"/jobs/{job['id']}", net.tenant)["state"] == "RUNNING"
    assert net.ok("GET", "/sites/sh1", net.tenant)["state"] == "online"


def test_a_chunked_body_over_the_limit_is_refused(net: Net) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"spec": {"name": "big", "run": "'
        for _ in range(40):
            yield b"x" * 65536  # 2.5 MiB in all, past the 1 MiB limit; no Content-Length is sent
        yield b'"}}'

    resp = net.call(
        "POST", "/jobs", net.tenant, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 413 and resp.json()["code"] == "too_large"
    small = net.call(
        "POST",
        "/jobs",
        net.tenant,
        content=iter([b'{"spec": ', b'{"name": "s", "run": "true"}}']),
        headers={"Content-Type": "application/json"},
    )
    assert small.status_code == 201, small.text


def test_an_agent_offering_two_pools_of_one_name_or_a_path_as_a_name_is_told_which(net: Net) -> None:
    agent = net.add_site("sh1", [CPU_POOL])
    twice = net.call("POST", "/agent/sync", agent, json={"pools": [CPU_POOL, CPU_POOL]})
    assert twice.status_code == 422
    [error] = twice.json()["errors"]
    assert error["field"] == "pools" and "cpu is given twice" in error["message"]
    odd = net.call("POST", "/agent/sync", agent, json={"pools": [{**CPU_POOL, "name": "../x"}]})
    assert _error(odd)[:2] == (422, "pools.0.name")
    assert [p["name"] for p in net.ok("GET", "/sites/sh1", net.tenant)["pools"]] == [CPU_POOL["name"]]


def test_true_is_not_a_number_nor_yes_a_flag_nor_a_number_a_time(net: Net) -> None:
    for method, path, body, field in [
        ("POST", "/jobs", {"spec": {**HELLO, "resources": {"cpus": True}}}, "resources.cpus"),
        ("POST", "/jobs", {"spec": {**HELLO, "preemptible": "yes"}}, "preemptible"),
        ("PUT", "/orgs/demo/quota", {"guaranteed_cu": True}, "guaranteed_cu"),
        (
            "PUT",
            "/orgs/demo/projects/default/budget",
            {"month": "*", "amount": "1", "hard_cap": "yes"},
            "hard_cap",
        ),
        (
            "PUT",
            "/orgs/demo/projects/default/budget",
            {"month": "*", "amount": "1", "thresholds": [True]},
            "thresholds.0",
        ),
    ]:
        refused = net.call(method, path, net.operator, json=body)
        assert refused.status_code == 422, (path, refused.text)
        assert [e["field"] for e in refused.json()["errors"]] == [field], refused.text
    for since in ("-1", "1700000000"):
        refused = net.call("GET", "/usage", net.operator, params={"since": since})
        assert _error(refused)[:2] == (422, "query.since"), refused.text


def test_a_label_or_reason_with_terminal_control_characters_is_refused(net: Net) -> None:
    assert _error(net.call("POST", "/tokens", net.tenant, json={"name": "ci\x1b[2J"}))[:2] == (422, "name")
    topups = "/orgs/demo/projects/default/topups"
    refused = net.call("POST", topups, net.operator, json={"amount": "1", "reason": "ok\x07"})
    assert _error(refused)[:2] == (422, "reason")
    lines = net.ok("POST", topups, net.operator, json={"amount": "1", "reason": "wire 42\nsee ticket"})
    assert lines["balance"]["minor"] == 100


def test_a_body_that_is_not_json_is_told_so_without_byte_offsets_for_field_names(net: Net) -> None:
    json_type = {"Content-Type": "application/json"}
    before = net.ok("GET", "/tokens", net.tenant)["items"]
    broken = net.call("POST", "/tokens", net.tenant, content=b'{"name": ', headers=json_type)
    status, field, message = _error(broken)
    assert (
        (status, field) == (422, "(body)") and message.startswith("not valid JSON") and "at byte" in message
    )
    for raw in (b'{"name": "\xff"}', b"[" * 5000 + b"]" * 5000, b'{"name": ' + b"9" * 5000 + b"}"):
        unreadable = net.call("POST", "/tokens", net.tenant, content=raw, headers=json_type)
        assert unreadable.status_code in (400, 422), unreadable.text
        assert unreadable.json()["errors"][0]["field"] == "(body)", unreadable.text
    text = net.call("POST", "/tokens", net.tenant, content=b"name=x", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415 and "application/json" in text.json()["detail"]
    assert net.ok("GET", "/tokens", net.tenant)["items"] == before  # nothing was made


def test_a_bug_is_a_500_problem_counted_in_the_metrics_and_the_next_request_is_answered(
    net: Net, monkeypatch: Any
) -> None:
    from suanli.api.routes import tenancy

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(tenancy.accounts, "require_user", broken)
    resp = net.call("GET", "/orgs", net.tenant)
    assert resp.status_code == 500
    assert resp.json()["code"] == "internal" and "a bug" not in resp.text
    monkeypatch.undo()
    assert net.call("GET", "/orgs", net.tenant).status_code == 200
    metrics = net.http.get("/metrics").text
    assert 'suanli_http_requests_total{method="GET",route="/orgs",status="500"}' in metrics


def test_a_body_in_utf16_is_refused_rather_than_read_past_the_nul_check(net: Net) -> None:
    raw = '{"spec": {"name": "hello", "run": "true", "env": {"MODE": "x\\u0000y"}}}'.encode("utf-16")
    resp = net.call("POST", "/jobs", net.tenant, content=raw, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_body"
    assert net.ok("GET", "/jobs", net.tenant)["items"] == []


def test_an_agent_report_with_a_nul_and_a_lone_surrogate_is_still_read(net: Net) -> None:
    agent = net.add_site("sh1", [CPU_POOL])
    raw = b'{"attempts": [], "logs": [], "pools": [], "wait": 0, "x": "a\\u0000\\ud800"}'
    resp = net.call("POST", "/agent/sync", agent, content=raw, headers={"Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text
