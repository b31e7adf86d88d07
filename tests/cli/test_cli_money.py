"""Money commands: balance, topup, refund, voucher programme/grant/list/report/relate, price set/list."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from cli_fakes import FakeApi, ok, problem
from cli_server import A100_POOL, Server
from typer.testing import Result

from suanli.cli.main import app

Run = Callable[..., Result]


def money(minor: int, currency: str = "CNY") -> dict[str, Any]:
    return {"minor": minor, "currency": currency, "text": f"{minor / 100:.2f} {currency}"}


BALANCE = {
    "org": "acme",
    "projects": [
        {
            "project": "vision",
            "currency": "CNY",
            "balance": money(100_000),
            "credit_limit": money(0),
            "held": money(5_000),
            "available": money(95_000),
            "arrears": money(0),
        }
    ],
    "vouchers": [
        {"programme": "haidian", "remaining": money(30_000), "share": "0.3", "valid_until": "2027-01-01"}
    ],
}
PRICE = {
    "site": "sh",
    "pool": "a100",
    "version": 2,
    "currency": "CNY",
    "tenant": {"accelerator_hour": "38.00", "cpu_hour": "0", "gb_hour": "0"},
    "wholesale": {"accelerator_hour": "30.00", "cpu_hour": "0", "gb_hour": "0"},
    "minimum": money(100),
    "effective_at": "2026-11-25T12:00:00+00:00",
    "in_force": True,
}


def test_balance_shows_available_funds_and_vouchers(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on("GET", "/orgs/acme/balance", ok(BALANCE))
    result = run("balance", "acme")
    assert result.exit_code == 0, result.output
    assert "vision" in result.stdout and "950.00 CNY" in result.stdout and "haidian" in result.stdout
    assert json.loads(run("balance", "acme", "--json").stdout)["projects"][0]["held"]["minor"] == 5_000


def test_balance_without_an_org_takes_the_one_whose_money_you_see(
    api: FakeApi, run: Run, logged_in: Path
) -> None:
    me = {"kind": "user", "user": "ada", "operator": False, "site": None,
          "memberships": [{"org": "acme", "role": "finance"}, {"org": "lab", "role": "member"}]}  # fmt: skip
    api.on("GET", "/whoami", ok(me))
    api.on("GET", "/orgs/acme/balance", ok(BALANCE))
    result = run("balance")
    assert result.exit_code == 0 and "950.00 CNY" in result.stdout, result.output
    me["memberships"].append({"org": "zeta", "role": "owner"})  # type: ignore[attr-defined]
    api.on("GET", "/whoami", ok(me))
    two = run("balance")
    assert two.exit_code == 2 and "name the org: suanli balance ORG (yours: acme, zeta)" in two.stderr


@pytest.mark.parametrize(
    ("share", "shown"), [("0.3", "30%"), ("1", "100%"), ("0.125", "12.5%"), ("0.30", "30%")]
)
def test_a_vouchers_share_is_shown_as_the_percentage_it_was_granted_as(
    api: FakeApi, run: Run, logged_in: Path, share: str, shown: str
) -> None:
    voucher = {"id": "vch_1", "programme": "haidian", "remaining": money(30_000), "share": share}
    api.on("GET", "/orgs/acme/balance", ok(BALANCE | {"vouchers": [voucher]}))
    api.on("GET", "/vouchers", ok({"items": [voucher], "next_cursor": None}))
    for args in (("balance", "acme"), ("voucher", "list")):
        row = next(line for line in run(*args).stdout.splitlines() if "haidian" in line)
        assert row.split()[-1] == shown, row
    assert json.loads(run("balance", "acme", "--json").stdout)["vouchers"][0]["share"] == share


def test_topup_sends_the_amount_and_prints_the_new_balance(api: FakeApi, run: Run, logged_in: Path) -> None:
    answer = {
        "transfer": "top_1",
        "amount": money(10_000),
        "balance": money(10_000),
        "available": money(10_000),
    }
    api.on("POST", "/orgs/acme/projects/vision/topups", ok(answer, status=201))
    result = run("topup", "acme", "vision", "100.00")
    assert result.exit_code == 0, result.output
    assert api.body()["amount"] == "100.00" and "balance 100.00 CNY" in result.stdout
    assert "idempotency-key" in api.requests[-1].headers


def test_payout_sends_the_reference_and_says_what_is_still_owed(
    api: FakeApi, run: Run, logged_in: Path
) -> None:
    answer = {"transfer": "pay-42", "provider": "dc", "amount": money(2_000), "owed": money(880)}
    api.on("POST", "/orgs/dc/payouts", ok(answer, status=201))
    result = run("payout", "dc", "20.00", "--reason", "bank transfer 42", "--transfer-id", "pay-42")
    assert result.exit_code == 0, result.output
    assert api.body() == {"amount": "20.00", "reason": "bank transfer 42", "transfer_id": "pay-42"}
    assert "dc: paid 20.00 CNY, still owed 8.80 CNY (transfer pay-42)" in result.stdout
    assert run("payout", "dc", "20.00").exit_code == 2  # the reference is required


def test_a_payout_to_a_tenant_names_the_provider_argument(api: FakeApi, run: Run, logged_in: Path) -> None:
    """The API names the org paid `org` (its path's); the command takes it as PROVIDER."""
    said = [{"field": "org", "message": "payouts go to provider orgs"}]
    api.on("POST", "/orgs/demo/payouts", problem(422, "invalid", "org 'demo' is a tenant", said))
    result = run("payout", "demo", "0.10", "--reason", "x")
    assert result.exit_code == 2, result.output
    assert "org 'demo' is a tenant" in result.stderr
    assert "provider: payouts go to provider orgs" in result.stderr


def test_refund_sends_the_reason_and_says_what_came_back(api: FakeApi, run: Run, logged_in: Path) -> None:
    answer = {
        "job": "job_1",
        "refunded": [{"charge": "charge:usage:s:1", "amount": money(3_000)}],
        "totals": [money(3_000)],
        "to_cash": [money(2_100)],
        "to_vouchers": [money(600)],
        "clawed_back": [money(300)],
        "arrears_forgiven": [money(0)],
    }
    api.on("POST", "/jobs/job_1/refund", ok(answer))
    result = run("refund", "job_1", "--reason", "site fault")
    assert result.exit_code == 0, result.output
    assert api.body() == {"reason": "site fault"} and "refunded 1 charge(s), 30.00 CNY" in result.stdout
    said = " ".join(result.stdout.split())
    assert (
        "21.00 CNY back to the project's cash; 6.00 CNY back to the org's vouchers; "
        "3.00 CNY clawed back to voucher programmes (vouchers no longer valid)"
    ) in said
    assert "arrears" not in said  # nothing forgiven: not said
    api.on("POST", "/jobs/job_1/refund", ok({"job": "job_1", "refunded": [], "totals": []}))
    assert "nothing left to refund" in run("refund", "job_1", "--reason", "again").stdout
    paid = "dc was already paid for this: it owes back 24.00 CNY, netted against what it earns next (suanli settlement)"
    api.on("POST", "/jobs/job_1/refund", ok(answer | {"warnings": [paid]}))
    warned = run("refund", "job_1", "--reason", "site fault")
    assert (
        warned.exit_code == 0
        and "warning: dc was already paid for this: it owes back 24.00 CNY" in " ".join(warned.stderr.split())
    )


def test_topup_refused_for_a_tenant_exits_4(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on("POST", "/orgs/acme/projects/vision/topups", problem(403, "forbidden", "only platform operators"))
    result = run("topup", "acme", "vision", "100")
    assert result.exit_code == 4 and "operators" in result.output


def test_voucher_programme_grant_list_report_relate(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on("POST", "/voucher-programmes", ok({"name": "haidian", "budget": money(10**8)}, status=201))
    assert run("voucher", "programme", "haidian", "--budget", "1000000", "--issuer", "Haidian").exit_code == 0
    assert api.body() == {"name": "haidian", "budget": "1000000", "issuer": "Haidian"}
    api.on(
        "POST",
        "/voucher-programmes/haidian/vouchers",
        ok({"id": "vch_1", "face": money(500_000)}, status=201),
    )
    result = run(
        "voucher", "grant", "haidian", "acme", "5000", "--share", "30%", "--until", "2027-01-01T00:00:00Z",
        "--accelerator", "A100", "--provider", "dc",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    body = api.body()
    assert (body["share"], body["accelerators"], body["providers"], body["sites"]) == (
        "30%",
        ["A100"],
        ["dc"],
        [],
    )
    voucher = {
        "id": "vch_1",
        "programme": "haidian",
        "org": "acme",
        "face": money(500_000),
        "remaining": money(1),
    }
    api.on("GET", "/vouchers", ok({"items": [voucher], "next_cursor": None}))
    assert "vch_1" in run("voucher", "list", "--org", "acme").stdout
    assert api.requests[-1].url.params["org"] == "acme"
    report = {"programme": "haidian", "issued": money(500_000), "redeemed": money(1_140), "reconciles": True}
    report |= {"by_org": [{"org": "acme", "redeemed": money(1_140)}], "by_provider": [{"provider": "dc"}]}
    api.on("GET", "/voucher-programmes/haidian/report", ok(report))
    out = run("voucher", "report", "haidian").stdout
    assert "11.40 CNY" in out and "acme" in out and "dc" in out
    api.on("POST", "/provider-relations", ok({}, status=201))
    assert run("voucher", "relate", "acme", "dc", "--note", "same owner").exit_code == 0
    assert api.body() == {"org": "acme", "provider": "dc", "note": "same owner"}


def test_price_set_and_list(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on("POST", "/sites/sh/pools/a100/prices", ok(PRICE, status=201))
    result = run(
        "price", "set", "sh", "a100", "--accelerator-hour", "38", "--wholesale-accelerator-hour", "30"
    )
    assert result.exit_code == 0, result.output
    body = api.body()
    assert (body["tenant"], body["wholesale"]) == ({"accelerator_hour": "38"}, {"accelerator_hour": "30"})
    assert body["currency"] is None and body["minimum"] is None  # left out: the server keeps the last ones
    assert "38.00 / 30.00" in result.stdout
    tenant_view = {k: v for k, v in PRICE.items() if k != "wholesale"}  # what a tenant is shown
    api.on("GET", "/prices", ok({"items": [tenant_view], "next_cursor": None}))
    out = run("price", "list", "--site", "sh").stdout
    assert (
        "yes" in out and "38.00" in out and "30.00" not in out and api.requests[-1].url.params["site"] == "sh"
    )


@pytest.mark.parametrize(
    ("args", "route", "field"),
    [
        (("topup", "acme", "vision", "-5"), "POST /orgs/acme/projects/vision/topups", "amount"),
        (("topup", "acme", "vision", "-5 hkd", "--reason", "x"), "POST /orgs/acme/projects/vision/topups",
         "amount"),  # not the short options -5 -h -k -d, which printed the help
        (("site", "price", "sh-a100", "a100", "-5.00"), "POST /sites/sh-a100/pools/a100/price", "price_per_hour"),
        (("budget", "set", "acme", "vision", "-5"), "PUT /orgs/acme/projects/vision/budget", "amount"),
        (("credit-limit", "set", "acme", "vision", "-5"), "PUT /orgs/acme/projects/vision/credit-limit", "limit"),
        (("voucher", "grant", "sh-2026", "acme", "-5", "--until", "2027-01-01"),
         "POST /voucher-programmes/sh-2026/vouchers", "face"),
    ],
)  # fmt: skip
def test_an_amount_may_start_with_a_minus_for_the_server_to_say_why_not(
    api: FakeApi, run: Run, logged_in: Path, args: tuple[str, ...], route: str, field: str
) -> None:
    method, path = route.split()
    api.on(
        method, path, problem(422, "invalid", "it is positive", [{"field": field, "message": "more than 0"}])
    )
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert api.body()[field] == next(a for a in args if a.startswith("-5"))  # the word whole
    assert "error: it is positive" in result.stderr and f"{field}: more than 0" in result.stderr


def test_a_mistyped_option_beside_an_amount_is_still_no_such_option(run: Run, logged_in: Path) -> None:
    for args in (["topup", "acme", "vision", "5", "--reasn", "x"], ["topup", "acme", "vision", "-x"],
                 ["topup", "acme", "vision", "-5", "--reasn", "x"]):  # fmt: skip
        result = run(*args)
        assert result.exit_code == 2 and "No such option" in result.stderr, result.output


def test_times_without_a_zone_are_said_to_be_utc_in_the_help(run: Run) -> None:
    for command in (["voucher", "grant"], ["price", "set"], ["usage"]):
        assert "no zone: UTC" in run(*command, "--help").stdout, command


def test_price_list_takes_the_site_as_an_argument_too(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on("GET", "/prices", ok({"items": [PRICE], "next_cursor": None}))
    result = run("price", "list", "sh")
    assert result.exit_code == 0, result.output
    assert api.requests[-1].url.params["site"] == "sh" and "38.00" in result.stdout
    refused = run("price", "list", "sh", "--site", "bj")
    assert refused.exit_code == 2 and "two sites given" in refused.stderr


@pytest.mark.parametrize(
    ("args", "route", "field", "said"),
    [
        # an option given on the command line is named as the user typed it
        (("topup", "acme", "vision", "5", "--reason", "x"), "POST /orgs/acme/projects/vision/topups",
         "reason", "--reason"),
        (("price", "set", "sh", "a100", "--accelerator-hour", "1", "--wholesale-accelerator-hour", "x"),
         "POST /sites/sh/pools/a100/prices", "wholesale.accelerator_hour", "--wholesale-accelerator-hour"),
        (("price", "set", "sh", "a100", "--accelerator-hour", "x"),
         "POST /sites/sh/pools/a100/prices", "tenant.accelerator_hour", "--accelerator-hour"),
        # a rate left out is named by its own option, not by the typed one it goes with
        (("price", "set", "sh", "a100", "--cpu-hour", "1"),
         "POST /sites/sh/pools/a100/prices", "wholesale.cpu_hour", "--wholesale-cpu-hour"),
        (("budget", "set", "acme", "vision", "5", "--month", "2026-13"),
         "PUT /orgs/acme/projects/vision/budget", "body.month", "--month"),
        # a field the command takes under another name
        (("voucher", "grant", "hd", "acme", "5", "--until", "soon"),
         "POST /voucher-programmes/hd/vouchers", "valid_until", "--until"),
        # an argument by its name, as the help lists it; an option left at its default, and a
        # field no argument carries, as the API named them
        (("credit-limit", "set", "acme", "vision", "x"), "PUT /orgs/acme/projects/vision/credit-limit",
         "limit", "limit"),
        (("topup", "acme", "vision", "5"), "POST /orgs/acme/projects/vision/topups", "reason", "reason"),
        (("topup", "acme", "vision", "5"), "POST /orgs/acme/projects/vision/topups", "currency", "currency"),
    ],
)  # fmt: skip
def test_a_refused_field_is_named_as_it_was_given_on_the_command_line(
    api: FakeApi, run: Run, logged_in: Path, args: tuple[str, ...], route: str, field: str, said: str
) -> None:
    method, path = route.split()
    api.on(method, path, problem(422, "invalid", "it is refused", [{"field": field, "message": "no"}]))
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert f"\n  {said}: no\n" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ("--accelerator-hour", "What tenants pay per accelerator-hour"),
        ("--cpu-hour", "What tenants pay per CPU-hour"),
        ("--gb-hour", "What tenants pay per GiB-hour of memory"),
        ("--wholesale-accelerator-hour", "What the provider is paid per accelerator-hour"),
        ("--wholesale-cpu-hour", "What the provider is paid per CPU-hour"),
        ("--wholesale-gb-hour", "What the provider is paid per GiB-hour of memory"),
    ],
)
def test_price_set_says_what_each_rate_prices_and_what_leaving_it_out_means(option: str, says: str) -> None:
    group: Any = typer.main.get_command(app)
    ctx = typer.Context(group)
    price_set = group.get_command(ctx, "price").get_command(ctx, "set")
    said = next(p.help for p in price_set.params if option in p.opts)
    assert says in said and "Left out: the pool's previous version's rate" in said, said
    if "wholesale" in option:  # with no version before, the provider's rate must be said
        assert f"refused if {option.replace('wholesale-', '')} is given" in said, said


def test_a_wholesale_rate_above_the_tenant_rate_names_the_tenant_rates_flag(server: Server, run: Run) -> None:
    """The tenant rate kept from the version before is refused as `--accelerator-hour`, the flag that
    raises it, not as the API's `tenant.accelerator_hour`."""
    server.enroll("sh", server.add_site("sh"), [A100_POOL])
    op = ("--profile", "op", "price", "set", "sh", "a100")
    assert run(*op, "--accelerator-hour", "38", "--wholesale-accelerator-hour", "30").exit_code == 0
    result = run(*op, "--wholesale-accelerator-hour", "50")
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "error: a tenant price below the wholesale rate\n  --accelerator-hour: at least the wholesale rate, 50.00\n"
    )


def test_a_first_price_with_only_a_wholesale_rate_asks_for_a_tenant_rate_in_the_commands_words(
    server: Server, run: Run
) -> None:
    """A pool's first price needs what tenants pay; the refusal says so by the rates' units, not by
    the API's `accelerator_hour` fields, and nothing is priced."""
    server.enroll("sh", server.add_site("sh"), [A100_POOL])
    result = run("--profile", "op", "price", "set", "sh", "a100", "--wholesale-accelerator-hour", "30")
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "error: a price book needs a tenant rate\n"
        "  tenant: a rate per accelerator-hour, CPU-hour or GiB-hour on a first price (0: free)\n"
    )
    assert server.ok("GET", "/prices", server.operator)["items"] == []


def test_ledger_check_says_the_ledger_is_consistent_and_exits_1_naming_what_differs(
    server: Server, run: Run, tmp_path: Path
) -> None:
    """`suanli ledger check` on the real server: every check ✓ on a ledger the service wrote; a
    balance changed in the database behind its back is named with both figures, and it exits 1."""
    import sqlite3

    server.ok("POST", "/orgs/demo/projects/default/topups", server.operator, json={"amount": "100.00"})
    result = run("--profile", "op", "ledger", "check")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ledger consistent: read 1 transfer, 2 entries, 2 accounts, 0 month spends"), (
        lines[0]
    )
    assert len(lines) == 6 and all(line.startswith("  ✓ ") for line in lines[1:]), lines
    refused = run("ledger", "check")  # the demo tenant
    assert refused.exit_code == 4 and "only platform operators" in refused.stderr
    with sqlite3.connect(tmp_path / "suanli.db") as db:
        db.execute("UPDATE ledger_accounts SET signed_sum = signed_sum - 1 WHERE id LIKE 'cash:%'")
    result = run("--profile", "op", "ledger", "check")
    assert result.exit_code == 1, result.output
    assert "  ✗ each account's balance is the sum of its entries\n      account cash:" in result.stdout
    assert "kept balance 100.01 CNY, its entries make 100.00 CNY" in result.stdout
    assert result.stderr == "error: the ledger is not consistent: 1 finding\n"
