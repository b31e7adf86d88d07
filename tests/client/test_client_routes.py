"""Every SDK method hits the route docs/api.md names, with the documented params and body."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from client_fakes import FakeApi, ok

from suanli.client import Client

P = "/api/v1"

# (call, method, path, query params, JSON body or None)
CASES: list[tuple[Callable[[Client], Any], str, str, dict[str, str], Any]] = [
    (
        lambda c: c.submit_job({"name": "x", "run": "true"}),
        "POST",
        "/jobs",
        {},
        {"spec": {"name": "x", "run": "true"}},
    ),
    (lambda c: c.list_jobs(), "GET", "/jobs", {}, None),
    (
        lambda c: c.list_jobs(state="RUNNING", project="vision", limit=5, cursor="abc"),
        "GET",
        "/jobs",
        {"state": "RUNNING", "project": "vision", "limit": "5", "cursor": "abc"},
        None,
    ),
    (lambda c: c.get_job("job_1"), "GET", "/jobs/job_1", {}, None),
    (lambda c: c.cancel_job("job_1"), "POST", "/jobs/job_1/cancel", {}, None),
    (lambda c: c.job_events("job_1"), "GET", "/jobs/job_1/events", {}, None),
    (
        lambda c: c.job_logs("job_1", offset=7),
        "GET",
        "/jobs/job_1/logs",
        {"offset": "7", "follow": "false"},
        None,
    ),
    (
        lambda c: c.job_logs("job_1", follow=True, wait=3),
        "GET",
        "/jobs/job_1/logs",
        {"offset": "0", "follow": "true", "wait": "3"},
        None,
    ),
    (
        lambda c: c.job_logs("job_1", offset=7, attempt=2),
        "GET",
        "/jobs/job_1/logs",
        {"offset": "7", "follow": "false", "attempt": "2"},
        None,
    ),
    (lambda c: c.list_sites(), "GET", "/sites", {}, None),
    (lambda c: c.get_balance("acme"), "GET", "/orgs/acme/balance", {}, None),
    (
        lambda c: c.topup("acme", "vision", "100.00"),
        "POST",
        "/orgs/acme/projects/vision/topups",
        {},
        {"amount": "100.00", "transfer_id": None, "reason": ""},
    ),
    (
        lambda c: c.statement("acme", month="2026-11", project="vision"),
        "GET",
        "/orgs/acme/statements",
        {"month": "2026-11", "project": "vision", "format": "json"},
        None,
    ),
    (
        lambda c: c.settlements(provider="dc", month="2026-11", format="csv"),
        "GET",
        "/settlements",
        {"provider": "dc", "month": "2026-11", "format": "csv"},
        None,
    ),
    (lambda c: c.usage(by="site", org="acme"), "GET", "/usage", {"by": "site", "org": "acme"}, None),
    (lambda c: c.get_budget("acme", "vision"), "GET", "/orgs/acme/projects/vision/budget", {}, None),
    (
        lambda c: c.set_budget("acme", "vision", "500.00", month="2026-11", hard_cap=True),
        "PUT",
        "/orgs/acme/projects/vision/budget",
        {},
        {"month": "2026-11", "amount": "500.00", "thresholds": None, "hard_cap": True, "reason": ""},
    ),
    (
        lambda c: c.set_credit_limit("acme", "vision", "100.00", reason="pilot"),
        "PUT",
        "/orgs/acme/projects/vision/credit-limit",
        {},
        {"limit": "100.00", "reason": "pilot"},
    ),
    (lambda c: c.audit(action="topup"), "GET", "/audit", {"action": "topup"}, None),
    (lambda c: c.list_prices(site="pku"), "GET", "/prices", {"site": "pku"}, None),
    (
        lambda c: c.set_price_book(
            "pku", "a100", tenant={"accelerator_hour": "38"}, wholesale={}, minimum="1"
        ),
        "POST",
        "/sites/pku/pools/a100/prices",
        {},
        {
            "currency": None,
            "tenant": {"accelerator_hour": "38"},
            "wholesale": {},
            "minimum": "1",
            "effective_at": None,
        },
    ),
    (lambda c: c.list_programmes(), "GET", "/voucher-programmes", {}, None),
    (
        lambda c: c.create_programme("haidian", "1000.00", issuer="Haidian district"),
        "POST",
        "/voucher-programmes",
        {},
        {"name": "haidian", "budget": "1000.00", "issuer": "Haidian district"},
    ),
    (
        lambda c: c.grant_voucher("haidian", "acme", "100", share="30%", valid_until="2027-01-01T00:00:00Z"),
        "POST",
        "/voucher-programmes/haidian/vouchers",
        {},
        {
            "org": "acme",
            "face": "100",
            "share": "30%",
            "valid_from": None,
            "valid_until": "2027-01-01T00:00:00Z",
            "providers": [],
            "sites": [],
            "accelerators": [],
        },
    ),
    (lambda c: c.list_vouchers(org="acme"), "GET", "/vouchers", {"org": "acme"}, None),
    (lambda c: c.programme_report("haidian"), "GET", "/voucher-programmes/haidian/report", {}, None),
    (lambda c: c.check_ledger(), "GET", "/ledger/check", {}, None),
    (
        lambda c: c.relate_provider("acme", "dc"),
        "POST",
        "/provider-relations",
        {},
        {"org": "acme", "provider": "dc", "note": ""},
    ),
    (lambda c: c.get_site("pku"), "GET", "/sites/pku", {}, None),
    (
        lambda c: c.create_site("pku", "pku-hpc", "cn-north"),
        "POST",
        "/sites",
        {},
        {"name": "pku", "org": "pku-hpc", "region": "cn-north"},
    ),
    (lambda c: c.new_enrollment_token("pku"), "POST", "/sites/pku/enrollment-tokens", {}, None),
    (lambda c: c.disable_site("pku"), "POST", "/sites/pku/disable", {}, None),
    (lambda c: c.enable_site("pku"), "POST", "/sites/pku/enable", {}, None),
    (lambda c: c.create_org("acme", "tenant"), "POST", "/orgs", {}, {"name": "acme", "kind": "tenant"}),
    (lambda c: c.list_orgs(limit=10), "GET", "/orgs", {"limit": "10"}, None),
    (lambda c: c.get_org("acme"), "GET", "/orgs/acme", {}, None),
    (lambda c: c.disable_org("acme"), "POST", "/orgs/acme/disable", {}, None),
    (lambda c: c.enable_org("acme"), "POST", "/orgs/acme/enable", {}, None),
    (lambda c: c.create_project("acme", "vision"), "POST", "/orgs/acme/projects", {}, {"name": "vision"}),
    (lambda c: c.list_projects("acme"), "GET", "/orgs/acme/projects", {}, None),
    (lambda c: c.disable_project("acme", "vision"), "POST", "/orgs/acme/projects/vision/disable", {}, None),
    (
        lambda c: c.update_project("acme", "vision", on_funds_exhausted="continue"),
        "PATCH",
        "/orgs/acme/projects/vision",
        {},
        {"on_funds_exhausted": "continue"},
    ),
    (
        lambda c: c.add_member("acme", "alice", "admin"),
        "POST",
        "/orgs/acme/members",
        {},
        {"user": "alice", "role": "admin"},
    ),
    (lambda c: c.list_members("acme"), "GET", "/orgs/acme/members", {}, None),
    (lambda c: c.disable_member("acme", "alice"), "POST", "/orgs/acme/members/alice/disable", {}, None),
    (lambda c: c.create_token("ci"), "POST", "/tokens", {}, {"name": "ci"}),
    (
        lambda c: c.create_token("ci", user="bob", expires_in="90d"),
        "POST",
        "/tokens",
        {},
        {"name": "ci", "user": "bob", "expires_in": "90d"},
    ),
    (lambda c: c.list_tokens(), "GET", "/tokens", {}, None),
    (lambda c: c.revoke_token("tok_1"), "POST", "/tokens/tok_1/revoke", {}, None),
    (lambda c: c.whoami(), "GET", "/whoami", {}, None),
    (lambda c: c.enroll("pku"), "POST", "/agent/enroll", {}, {"site": "pku"}),
]


@pytest.mark.parametrize(("call", "method", "path", "params", "body"), CASES)
def test_method_calls_documented_route(
    api: FakeApi,
    client: Client,
    call: Callable[[Client], Any],
    method: str,
    path: str,
    params: dict[str, str],
    body: Any,
) -> None:
    api.on(method, P + path, ok({"echo": True}))
    assert call(client) == {"echo": True}
    request = api.last
    assert (request.method, request.url.path) == (method, P + path)
    assert dict(request.url.params) == params
    assert request.headers["authorization"] == "Bearer slt_" + "a" * 38
    if body is None:
        assert request.content in (b"", b"null")
    else:
        assert api.body() == body
    assert ("idempotency-key" in request.headers) == (method in ("POST", "PUT", "PATCH"))  # every mutation


def test_a_text_answer_comes_back_as_text(api: FakeApi, client: Client) -> None:
    csv_text = "kind,amount\r\njob,1.00\r\n"
    api.on(
        "GET",
        P + "/orgs/acme/statements",
        httpx.Response(200, text=csv_text, headers={"content-type": "text/csv"}),
    )
    assert client.statement("acme", month="2026-11", format="csv") == csv_text


def test_names_are_quoted_as_one_path_segment(api: FakeApi, client: Client) -> None:
    api.on("GET", P + "/sites/a%2Fb%20c", ok({"name": "a/b c"}))
    assert client.get_site("a/b c") == {"name": "a/b c"}


def test_iter_jobs_follows_cursors_until_none(api: FakeApi, client: Client) -> None:
    api.on(
        "GET",
        P + "/jobs",
        ok({"items": [{"id": "j3"}, {"id": "j2"}], "next_cursor": "c1"}),
        ok({"items": [{"id": "j1"}], "next_cursor": None}),
    )
    assert [j["id"] for j in client.iter_jobs(state="FAILED", page_size=2)] == ["j3", "j2", "j1"]
    assert [r.url.params.get("cursor") for r in api.requests] == [None, "c1"]
    assert {r.url.params["state"] for r in api.requests} == {"FAILED"}


def test_follow_logs_yields_until_complete_and_advances_offset(api: FakeApi, client: Client) -> None:
    api.on(
        "GET",
        P + "/jobs/j1/logs",
        ok({"data": "hello\n", "offset": 0, "next_offset": 6, "complete": False}),
        ok({"data": "", "offset": 6, "next_offset": 6, "complete": False}),
        ok({"data": "bye\n", "offset": 6, "next_offset": 10, "complete": True}),
    )
    assert list(client.follow_logs("j1", wait=5)) == ["hello\n", "bye\n"]
    assert [r.url.params["offset"] for r in api.requests] == ["0", "6", "6"]
    assert {r.url.params["follow"] for r in api.requests} == {"true"}
    # The HTTP timeout must outlast the server's long poll.
    assert all(r.extensions["timeout"]["read"] > 5 for r in api.requests)


def test_follow_logs_of_one_attempt_asks_for_it_every_time(api: FakeApi, client: Client) -> None:
    api.on(
        "GET",
        P + "/jobs/j1/logs",
        ok({"data": "a1\n", "offset": 0, "next_offset": 3, "complete": False}),
        ok({"data": "", "offset": 3, "next_offset": 3, "complete": True}),
    )
    assert list(client.follow_logs("j1", attempt=1)) == ["a1\n"]
    assert [r.url.params["attempt"] for r in api.requests] == ["1", "1"]


def test_healthz_probes_root_then_api_prefix(api: FakeApi, client: Client) -> None:
    api.on("GET", P + "/healthz", ok({"status": "ok"}))
    assert client.healthz() == {"status": "ok"}
    assert [r.url.path for r in api.requests] == ["/healthz", P + "/healthz"]
