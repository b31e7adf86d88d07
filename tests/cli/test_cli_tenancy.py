"""Admin verbs: orgs, projects, members, tokens."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_fakes import FakeApi, ok, problem
from typer.testing import Result

Run = Callable[..., Result]

# (argv, method, path, body sent or None)
WRITES: list[tuple[list[str], str, str, Any]] = [
    (["org", "create", "acme", "--kind", "tenant"], "POST", "/orgs", {"name": "acme", "kind": "tenant"}),
    (["org", "disable", "acme"], "POST", "/orgs/acme/disable", None),
    (["org", "enable", "acme"], "POST", "/orgs/acme/enable", None),
    (["project", "create", "acme", "vision"], "POST", "/orgs/acme/projects", {"name": "vision"}),
    (["project", "disable", "acme", "vision"], "POST", "/orgs/acme/projects/vision/disable", None),
    (
        ["project", "create", "acme", "vision", "--on-funds-exhausted", "continue"],
        "POST",
        "/orgs/acme/projects",
        {"name": "vision", "on_funds_exhausted": "continue"},
    ),
    (
        ["project", "set", "acme", "vision", "--on-funds-exhausted", "stop"],
        "PATCH",
        "/orgs/acme/projects/vision",
        {"on_funds_exhausted": "stop"},
    ),
    (
        ["member", "add", "acme", "alice@example.org", "--role", "finance"],
        "POST",
        "/orgs/acme/members",
        {"user": "alice@example.org", "role": "finance"},
    ),
    (
        ["member", "disable", "acme", "alice@example.org"],
        "POST",
        "/orgs/acme/members/alice@example.org/disable",
        None,
    ),
    (["token", "revoke", "tok_1"], "POST", "/tokens/tok_1/revoke", None),
]
READS: list[tuple[list[str], str, str]] = [
    (["org", "list"], "/orgs", "acme"),
    (["org", "show", "acme"], "/orgs/acme", "acme"),
    (["project", "list", "acme"], "/orgs/acme/projects", "vision"),
    (["member", "list", "acme"], "/orgs/acme/members", "alice"),
    (["token", "list"], "/tokens", "laptop"),
]


@pytest.mark.parametrize(("argv", "method", "path", "body"), WRITES)
def test_write_verbs_call_their_route(
    api: FakeApi, run: Run, logged_in: Path, argv: list[str], method: str, path: str, body: Any
) -> None:
    api.on(method, path, ok({"ok": True}))
    result = run(*argv)
    assert result.exit_code == 0, result.output
    assert api.requests[0].method == method
    if body is not None:
        assert api.body() == body


@pytest.mark.parametrize(("argv", "path", "shown"), READS)
def test_read_verbs_show_a_table_and_json(
    api: FakeApi, run: Run, logged_in: Path, argv: list[str], path: str, shown: str
) -> None:
    record = {"name": "acme" if "org" in argv else "vision", "user": "alice", "role": "admin", "id": "tok_1"}
    record["name"] = {"token": "laptop", "project": "vision"}.get(argv[0], "acme")
    body: Any = record if argv[1] == "show" else {"items": [record], "next_cursor": None}
    api.on("GET", path, ok(body))
    table = run(*argv)
    assert table.exit_code == 0, table.output
    assert shown in table.stdout
    assert json.loads(run(*argv, "--json").stdout) == body


def test_org_list_and_show_say_whether_an_org_is_disabled(api: FakeApi, run: Run, logged_in: Path) -> None:
    """A disabled org once looked like any other: the API's `disabled` flag had no column."""
    orgs = [
        {"name": "acme", "kind": "tenant", "disabled": False, "created_at": "2026-11-01T00:00:00Z"},
        {"name": "gone", "kind": "tenant", "disabled": True, "created_at": "2026-11-01T00:00:00Z"},
    ]
    api.on("GET", "/orgs", ok({"items": orgs, "next_cursor": None}))
    api.on("GET", "/orgs/gone", ok(orgs[1] | {"projects": [], "quota": None}))
    header, *rows = run("org", "list").stdout.splitlines()
    assert header.split() == ["NAME", "KIND", "STATE", "CREATED"]
    assert [row.split()[:3] for row in rows] == [["acme", "tenant", "active"], ["gone", "tenant", "disabled"]]
    shown = run("org", "show", "gone").stdout
    assert "disabled" in shown.splitlines()[1] and "suanli org enable gone" in shown


def test_org_disable_help_says_what_it_does_to_tokens(run: Run) -> None:
    said = " ".join(run("org", "disable", "--help").stdout.replace("│", " ").split())
    assert "tokens keep working, but no longer reach it" in said and "suanli org enable" in said


def test_org_kind_is_checked_locally(api: FakeApi, run: Run, logged_in: Path) -> None:
    result = run("org", "create", "acme", "--kind", "landlord")
    assert result.exit_code == 2
    assert api.requests == []


def test_token_create_prints_the_token_once_with_a_warning(api: FakeApi, run: Run, logged_in: Path) -> None:
    secret = "slt_" + "N" * 38
    api.on("POST", "/tokens", ok({"id": "tok_2", "name": "ci", "token": secret}, status=201))
    result = run("token", "create", "--name", "ci", "--user", "bob", "--expires-in", "90d")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == secret
    assert "only time" in result.stderr
    assert api.body() == {"name": "ci", "user": "bob", "expires_in": "90d"}


def test_token_create_says_what_kind_of_token_it_minted(api: FakeApi, run: Run, logged_in: Path) -> None:
    """An operator's `token create` without --user mints an operator token: say so beside it."""
    secret = "slo_" + "N" * 38
    minted = {"id": "tok_3", "name": "ci", "kind": "operator", "user": "operator", "token": secret}
    api.on("POST", "/tokens", ok(minted, status=201))
    result = run("token", "create", "--name", "ci")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == secret and api.body() == {"name": "ci"}
    assert "an operator token, with operator rights, for operator" in result.stderr


@pytest.mark.parametrize("expires", ["90", "3 days", "1w", "d"])
def test_token_lifetime_is_checked_locally(api: FakeApi, run: Run, logged_in: Path, expires: str) -> None:
    result = run("token", "create", "--name", "ci", "--expires-in", expires)
    assert result.exit_code == 2
    assert api.requests == []


def test_forbidden_admin_verb_exits_4(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on("POST", "/orgs", problem(403, "forbidden", "operators only"))
    result = run("org", "create", "acme", "--kind", "provider")
    assert result.exit_code == 4
    assert "error: operators only" in result.stderr


def test_org_quota_keeps_what_is_left_out_and_shows_without_options(
    api: FakeApi, run: Run, logged_in: Path
) -> None:
    """`org quota acme --limit 30` once reset the guarantee to 0 and the priority to normal, and a bare
    `org quota acme` wiped the limit: what is not given is kept, and nothing given is a show."""
    held = {
        "guaranteed_cu": "10",
        "limit_cu": "20",
        "max_priority": "high",
        "updated_at": "2026-11-27T00:00:00Z",
    }
    api.on("GET", "/orgs/acme", ok({"name": "acme", "quota": held}))
    api.on("PUT", "/orgs/acme/quota", ok({"org": "acme", "quota": held | {"limit_cu": "30"}}))
    result = run("org", "quota", "acme", "--limit", "30")
    assert result.exit_code == 0, result.output
    assert api.body(-1) == {"guaranteed_cu": "10", "limit_cu": "30", "max_priority": "high"}
    assert "guaranteed 10 CU, limit 30 CU, priority up to high" in result.stdout
    run("org", "quota", "acme", "--limit", "none")
    assert api.body(-1) == {"guaranteed_cu": "10", "limit_cu": None, "max_priority": "high"}
    shown = run("org", "quota", "acme")
    assert shown.exit_code == 0 and api.requests[-1].method == "GET"  # nothing written
    assert "guaranteed 10 CU, limit 20 CU, priority up to high" in shown.stdout
    api.on("GET", "/orgs/acme", ok({"name": "acme", "quota": None}))
    assert "has no quota" in run("org", "quota", "acme").stdout
    run("org", "quota", "acme", "--guaranteed", "4")  # no quota yet: the rest are the defaults
    assert api.body(-1) == {"guaranteed_cu": "4", "limit_cu": None, "max_priority": "normal"}
