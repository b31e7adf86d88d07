"""Billing commands: statement, settlement, usage, budget set/show, credit-limit set, audit."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_fakes import FakeApi, ok, problem
from cli_server import Server
from typer.testing import Result

Run = Callable[..., Result]


def money(minor: int, currency: str = "CNY") -> dict[str, Any]:
    return {"minor": minor, "currency": currency, "text": f"{minor / 100:.2f} {currency}"}


STATEMENT = {
    "org": "acme",
    "project": "vision",
    "month": "2026-11",
    "lines": [
        {
            "project": "vision",
            "job": "job_1",
            "name": "[red]train[/red]",
            "site": "sh",
            "pool": "a100",
            "hours": "1.50",
            "accelerator_hours": "6.00",
            "amount": money(22_800),
        }
    ],
    "funding": [
        {"source": "cash", "amount": money(15_960)},
        {"source": "voucher:haidian", "amount": money(6_840)},
    ],
    "totals": [money(22_800)],
    "balances": [
        {
            "project": "vision",
            "currency": "CNY",
            "opening": money(100_000),
            "topups": money(0),
            "cash_charged": money(15_960),
            "closing": money(84_040),
            "arrears_closing": money(0),
        }
    ],
}
SETTLEMENT = {
    "month": "2026-11",
    "providers": [
        {
            "provider": "dc",
            "totals": [{"currency": "CNY", "payable": money(4_800), "charged": money(6_000)}],
            "reconciles": True,
            "flags": 2,
            "sites": [
                {
                    "site": "dc1",
                    "payable": [money(4_800)],
                    "records": 4,
                    "first_seq": 1,
                    "last_seq": 5,
                    "gaps": [{"from": 3, "to": 3}],
                    "duplicates": [{"seq": 5, "repeats": 2, "job": "job_2", "charged_twice": False}],
                    "uncharged": [],
                    "lines": [],
                }
            ],
        }
    ],
}


def test_statement_as_a_table_and_as_documents(
    api: FakeApi, run: Run, logged_in: Path, tmp_path: Path
) -> None:
    api.on("GET", "/orgs/acme/statements", ok(STATEMENT))
    result = run("statement", "acme", "--project", "vision", "--month", "2026-11")
    assert result.exit_code == 0, result.output
    assert (
        "[red]train[/red]" in result.stdout
        and "voucher:haidian" in result.stdout
        and "840.40 CNY" in result.stdout
    )
    assert dict(api.requests[-1].url.params) == {"month": "2026-11", "project": "vision", "format": "json"}
    page = "<!DOCTYPE html><html>…</html>\n"
    api.on(
        "GET", "/orgs/acme/statements", httpx.Response(200, text=page, headers={"content-type": "text/html"})
    )
    out = tmp_path / "nov.html"
    result = run("statement", "acme", "--month", "2026-11", "--format", "html", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == page and api.requests[-1].url.params["format"] == "html"
    api.on(
        "GET",
        "/orgs/acme/statements",
        httpx.Response(200, text="kind\r\n", headers={"content-type": "text/csv"}),
    )
    assert run("statement", "acme", "--format", "csv").stdout_bytes == b"kind\r\n"
    for nowhere in (tmp_path / "no" / "such.csv", tmp_path):  # a missing folder; a folder itself
        result = run("statement", "acme", "--format", "csv", "-o", str(nowhere))
        assert result.exit_code == 2 and f"cannot write {nowhere}" in result.stderr, result.output


def test_a_statement_shows_refunds_only_where_there_were_some(
    api: FakeApi, run: Run, logged_in: Path
) -> None:
    api.on("GET", "/orgs/acme/statements", ok(STATEMENT))
    assert "REFUNDED" not in run("statement", "acme").stdout
    line = {**STATEMENT["lines"][0], "amount": money(0), "refunded": money(22_800)}  # type: ignore[index]
    api.on("GET", "/orgs/acme/statements", ok({**STATEMENT, "lines": [line]}))
    result = run("statement", "acme")
    assert result.exit_code == 0, result.output
    header = next(row for row in result.stdout.splitlines() if "REFUNDED" in row).split()
    assert header[-3:] == ["CHARGED", "REFUNDED", "NET"] and "AMOUNT" not in header
    row = next(r for r in result.stdout.splitlines() if "228.00 CNY" in r)
    assert row.split()[-6:] == ["228.00", "CNY", "228.00", "CNY", "0.00", "CNY"]  # charged, refunded, net


def test_a_statement_without_an_org_is_of_the_one_whose_money_you_see(
    api: FakeApi, run: Run, logged_in: Path
) -> None:
    me = {"kind": "user", "user": "ada", "operator": False, "site": None,
          "memberships": [{"org": "acme", "role": "finance"}, {"org": "lab", "role": "member"}]}  # fmt: skip
    api.on("GET", "/whoami", ok(me))
    api.on("GET", "/orgs/acme/statements", ok(STATEMENT))
    result = run("statement")
    assert result.exit_code == 0, result.output
    assert api.requests[-1].url.path.endswith("/orgs/acme/statements")
    api.on("GET", "/whoami", ok({**me, "memberships": []}))
    none = run("statement")
    assert none.exit_code == 2 and "name the org: suanli statement ORG (you see no org's money" in none.stderr


@pytest.mark.parametrize("args", [("statement", "--month", "2026-11"), ("balance",)])
def test_an_operator_without_an_org_is_told_that_operators_name_it(
    server: Server, run: Run, args: tuple[str, ...]
) -> None:
    """Operators see every org's money: telling them that owners, admins and finance do misleads."""
    result = run("--profile", "op", *args)
    assert result.exit_code == 2, result.output
    assert f"error: name the org: operators see every org's money; e.g. suanli {args[0]} ORG" in result.stderr
    assert "you see no org's money" not in result.stderr
    assert run("--profile", "op", args[0], "demo").exit_code == 0  # named, it is shown


def test_an_empty_statement_says_nothing_was_charged(api: FakeApi, run: Run, logged_in: Path) -> None:
    empty = {"org": "acme", "project": None, "month": "2026-11", "lines": [], "funding": [], "totals": [],
             "balances": []}  # fmt: skip
    api.on("GET", "/orgs/acme/statements", ok(empty))
    result = run("statement", "acme")
    assert result.exit_code == 0, result.output
    assert "no charges this month" in result.stdout and "total: nothing charged" in result.stdout
    assert "total: 0" not in result.stdout and not result.stdout.endswith("\n\n")


@pytest.mark.parametrize(("kind", "pointed"), [("provider", True), ("tenant", False)])
def test_an_empty_statement_of_a_provider_points_to_the_settlement(
    api: FakeApi, run: Run, logged_in: Path, kind: str, pointed: bool
) -> None:
    empty = {"org": "dc", "project": None, "month": "2026-11", "lines": [], "funding": [], "totals": [],
             "balances": []}  # fmt: skip
    api.on("GET", "/orgs/dc/statements", ok(empty))
    api.on("GET", "/orgs/dc", ok({"name": "dc", "kind": kind, "disabled": False}))
    result = run("statement", "dc", "--month", "2026-11")
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "no charges this month" in out
    assert (
        "dc is a provider: what its sites earned is in `suanli settlement --provider dc --month 2026-11`"
        in out
    ) is pointed


@pytest.mark.parametrize(
    ("hours", "amount", "seconds", "shown"),
    [
        ("0.00", 42, 15, ("<0.01", "<0.01")),
        ("0.00", 0, 15, ("<0.01", "<0.01")),  # a free pool: it ran all the same
        ("0.00", 0, 0, ("0.00", "0.00")),
        ("0.25", 42, 900, ("0.25", "0.25")),
        ("0.00", 42, None, ("<0.01", "0.00")),  # a server before `seconds`: charged, so it ran
    ],
)
def test_a_statement_line_that_ran_never_shows_zero_hours(
    api: FakeApi,
    run: Run,
    logged_in: Path,
    hours: str,
    amount: int,
    seconds: int | None,
    shown: tuple[str, str],
) -> None:
    """A 15 s job once showed `HOURS 0.00` beside its 0.42 CNY: the API rounds hours to 0.01; its
    accelerator hours too (the HTML says the same, `domain.billing.hours_shown`)."""
    line = {**STATEMENT["lines"][0], "hours": hours, "accelerator_hours": hours, "amount": money(amount)}  # type: ignore[index]
    line.pop("seconds", None), line.pop("accelerator_seconds", None)
    if seconds is not None:
        line |= {"seconds": seconds, "accelerator_seconds": seconds}
    api.on("GET", "/orgs/acme/statements", ok({**STATEMENT, "lines": [line]}))
    result = run("statement", "acme")
    assert result.exit_code == 0, result.output
    row = next(r for r in result.stdout.splitlines() if "job_1" in r).split()
    at = row.index("a100")
    assert (row[at + 1], row[at + 2]) == shown, row


def test_a_table_is_not_written_to_a_file(api: FakeApi, run: Run, logged_in: Path, tmp_path: Path) -> None:
    result = run("statement", "acme", "-o", str(tmp_path / "x"))
    assert result.exit_code == 2 and "--format" in result.output and api.requests == []


def test_statement_for_a_member_exits_4(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on(
        "GET", "/orgs/acme/statements", problem(403, "forbidden", "only acme's owners, admins and finance")
    )
    result = run("statement", "acme")
    assert result.exit_code == 4 and "finance" in result.output


def test_settlement_flags_gaps_and_duplicates(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on("GET", "/settlements", ok(SETTLEMENT))
    result = run("settlement", "--provider", "dc", "--month", "2026-11")
    assert result.exit_code == 0, result.output
    assert "48.00 CNY" in result.stdout and "seq 3-3 never received" in result.stdout
    assert "seq 5 repeats 2, charged once" in result.stdout
    assert json.loads(run("settlement", "--format", "json").stdout)["providers"][0]["flags"] == 2
    [provider] = SETTLEMENT["providers"]
    owes = {"currency": "CNY", "payable": money(0), "charged": money(0), "paid": money(2_880),
            "owed": money(-2_880), "overpaid": True}  # fmt: skip
    api.on("GET", "/settlements", ok(SETTLEMENT | {"providers": [provider | {"totals": [owes], "flags": 3}]}))
    said = " ".join(run("settlement", "--provider", "dc").stdout.split())
    assert "overpaid: paid beyond what it earned; it owes back 28.80 CNY" in said


def test_a_site_with_no_usage_shows_no_sequence_range(api: FakeApi, run: Run, logged_in: Path) -> None:
    [provider] = SETTLEMENT["providers"]
    quiet = {"site": "dc2", "payable": [], "records": 0, "first_seq": 1, "last_seq": 0}
    quiet |= {"gaps": [], "duplicates": [], "uncharged": [], "lines": []}
    api.on("GET", "/settlements", ok(SETTLEMENT | {"providers": [provider | {"sites": [quiet]}]}))
    row = next(line for line in run("settlement").stdout.splitlines() if line.startswith("dc2"))
    assert row.split()[1:] == ["-", "0", "–", "0", "0", "0"], row


def test_usage_groups(api: FakeApi, run: Run, logged_in: Path) -> None:
    item = {"key": "dc1", "records": 2, "hours": "1.50", "accelerator_hours": "1.50", "cpu_hours": "3.00",
            "cpu_used_hours": "0.25", "charged": [money(5_400)]}  # fmt: skip
    api.on("GET", "/usage", ok({"by": "site", "items": [item]}))
    result = run("usage", "--by", "site", "--org", "acme", "--since", "2026-11-01T00:00:00Z")
    assert result.exit_code == 0, result.output
    assert "dc1" in result.stdout and "54.00 CNY" in result.stdout
    assert "CPU USED HOURS" in result.stdout and "3.00" in result.stdout and "0.25" in result.stdout
    assert dict(api.requests[-1].url.params) == {"by": "site", "org": "acme", "since": "2026-11-01T00:00:00Z"}
    assert run("usage", "--by", "pool").exit_code != 0


def test_budget_set_and_show(api: FakeApi, run: Run, logged_in: Path) -> None:
    view = {"org": "acme", "project": "vision", "month": "2026-12", "events": [],
            "budget": {"month": "2026-12", "amount": money(500_000), "thresholds": [50, 90], "hard_cap": True,
                       "spent": money(0), "percent": 0, "blocked": False}}  # fmt: skip
    api.on("PUT", "/orgs/acme/projects/vision/budget", ok(view))
    result = run(
        "budget", "set", "acme", "vision", "5000.00", "--month", "2026-12", "--threshold", "50",
        "--threshold", "90", "--hard-cap", "--reason", "board",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert api.body() == {"month": "2026-12", "amount": "5000.00", "thresholds": [50, 90], "hard_cap": True,
                          "reason": "board"}  # fmt: skip
    assert "0.00 CNY of 5000.00 CNY (0%), alerts at 50%, 90%, hard cap" in result.stdout
    events = [
        {"month": "2026-12", "threshold": 50, "spent": money(260_000), "budget": money(500_000), "at": "x"}
    ]
    api.on("GET", "/orgs/acme/projects/vision/budget", ok({**view, "events": events}))
    assert "2600.00 CNY" in run("budget", "show", "acme", "vision").stdout
    zero = {**view, "budget": {**view["budget"], "month": "*", "amount": money(0), "percent": None}}
    api.on("GET", "/orgs/acme/projects/vision/budget", ok(zero))
    shown = run("budget", "show", "acme", "vision").stdout
    assert "None" not in shown and "2026-12 (the every-month budget): 0.00 CNY of 0.00 CNY, alerts" in shown
    # an option's own value is the option's: `--threshold -5` reaches the server, not the int parser
    api.on("PUT", "/orgs/acme/projects/vision/budget", ok(view))
    result = run("budget", "set", "acme", "vision", "100", "--threshold", "-5")
    assert result.exit_code == 0, result.output
    assert api.body()["thresholds"] == [-5]


def test_credit_limit_and_audit(api: FakeApi, run: Run, logged_in: Path) -> None:
    answer = {"org": "acme", "project": "vision", "credit_limit": money(50_000), "available": money(150_000)}
    api.on("PUT", "/orgs/acme/projects/vision/credit-limit", ok(answer))
    result = run("credit-limit", "set", "acme", "vision", "500.00", "--reason", "grant pending")
    assert result.exit_code == 0, result.output
    assert api.body() == {"limit": "500.00", "reason": "grant pending"} and "500.00 CNY" in result.stdout
    record = {"at": "2026-11-25T12:00:00+00:00", "actor": "admin", "action": "topup",
              "target": "/orgs/acme/projects/vision/topups", "object": "project acme/vision",
              "amount": money(100_000), "reason": "invoice 118"}  # fmt: skip
    api.on("GET", "/audit", ok({"items": [record], "next_cursor": None}))
    out = run("audit", "--action", "topup").stdout
    assert "invoice 118" in out and "1000.00 CNY" in out
    assert "project acme/vision" in out and "/topups" not in out  # what it was done to, not the URL
    assert "2026-11-25 12:00:00" in out and "+00:00" not in out


def test_audit_filters_by_an_action_and_an_unknown_one_is_a_usage_error(
    api: FakeApi, run: Run, logged_in: Path
) -> None:
    record = {"at": "2026-11-25T12:00:00+00:00", "actor": "operator", "action": "disable_site",
              "target": "/sites/sh-a/disable", "amount": None, "reason": "", "detail": {}}  # fmt: skip
    api.on("GET", "/audit", ok({"items": [record], "next_cursor": None}))
    shown = run("audit", "--action", "disable_site")
    assert shown.exit_code == 0 and "/sites/sh-a/disable" in shown.stdout
    assert api.requests[-1].url.params["action"] == "disable_site"
    errors = [{"field": "action", "message": "allowed: add_member, budget, cancel, disable_site, topup"}]
    api.on("GET", "/audit", problem(422, "invalid", "unknown action 'bogus'", errors))
    refused = run("audit", "--action", "bogus")
    assert refused.exit_code == 2, refused.output
    assert "unknown action 'bogus'" in refused.output and "--action: allowed: add_member" in refused.output
    assert "no records" not in refused.output


def test_topup_sends_a_reason(api: FakeApi, run: Run, logged_in: Path) -> None:
    answer = {"transfer": "t", "amount": money(100), "balance": money(100), "available": money(100)}
    api.on("POST", "/orgs/acme/projects/vision/topups", ok(answer, status=201))
    assert run("topup", "acme", "vision", "1.00", "--reason", "invoice 7").exit_code == 0
    assert api.body()["reason"] == "invoice 7"


@pytest.mark.parametrize(
    ("memberships", "said"),
    [
        ([{"org": "dc", "role": "admin"}, {"org": "lab", "role": "finance"}],
         "name your org: suanli audit --org ORG (yours: dc, lab)"),
        ([{"org": "lab", "role": "member"}],
         "an org's records are for its owners, admins and finance (suanli audit --org ORG); you are lab member"),
        ([], None),
    ],
)  # fmt: skip
def test_audit_refused_to_an_org_member_suggests_their_org(
    api: FakeApi, run: Run, logged_in: Path, memberships: list[dict[str, str]], said: str | None
) -> None:
    api.on("GET", "/audit", problem(403, "forbidden", "only platform operators may do this"))
    api.on(
        "GET", "/whoami", ok({"kind": "user", "user": "ada", "operator": False, "memberships": memberships})
    )
    result = run("audit")
    assert result.exit_code == 4, result.output
    error = " ".join(result.stderr.split())
    assert error == "error: only platform operators may do this" + (f"; {said}" if said else "")
    if said:  # naming the org is for them to do: nothing is asked on their behalf
        assert [r.url.path for r in api.requests] == ["/api/v1/audit", "/api/v1/whoami"]
