"""Money: `balance`, `topup`, `refund`, `payout`, `voucher programme|programmes|grant|list|report|relate`
(price books: `price_cmd`)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer
from rich.markup import escape

from suanli.cli.amounts import SignedAmounts
from suanli.cli.context import fail, session, stderr, stdout
from suanli.cli.exit_codes import ExitCode
from suanli.cli.render import print_json, print_records
from suanli.client import Client

__all__ = ["register"]

JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]
voucher_app = typer.Typer(
    help="Voucher programmes, grants, relations and reports (算力券).", no_args_is_help=True
)


def money_text(value: Any) -> Any:
    """Money views {"minor", "currency", "text"} → their text, for tables."""
    return value.get("text") if isinstance(value, dict) and "text" in value else value


def _percent(share: Any) -> Any:
    """A voucher's share as the API keeps it ("0.3") → as operators enter it ("30%")."""
    try:
        value = Decimal(str(share)) * 100
    except InvalidOperation:
        return share
    return f"{value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()}%"


def _flat(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: _percent(v) if k == "share" else money_text(v) for k, v in r.items()} for r in rows]


MONEY_ROLES = ("owner", "admin", "finance")


def money_org(client: Client, usage: str) -> str:
    """The org whose money the caller sees, when it is one only; otherwise the command ends asking
    for it (`usage` shows how), with the orgs they could name. An operator sees every org's money, so
    names the org always."""
    me = client.whoami()
    if me.get("operator"):
        fail(
            f"name the org: operators see every org's money; e.g. {usage} (suanli org list lists them)",
            ExitCode.USAGE,
        )
    mine = sorted({m["org"] for m in me.get("memberships", []) if m["role"] in MONEY_ROLES})
    if len(mine) != 1:
        said = f"yours: {', '.join(mine)}" if mine else "you see no org's money (owners, admins, finance do)"
        fail(f"name the org: {usage} ({said})", ExitCode.USAGE)
    return str(mine[0])


def balance(
    org: Annotated[
        str | None,
        typer.Argument(
            help="The org. Default: yours, when you see the money of one org only.", show_default=False
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Each project's balance, holds and available funds, and the org's live vouchers (owners, admins, finance).

    Example:

    ```
    suanli balance acme
    ```
    """
    with session() as client:
        org = org or money_org(client, "suanli balance ORG")
        body = client.get_balance(org)
    if json_out:
        print_json(body)
        return
    columns = (
        "project",
        "currency",
        "balance",
        "held",
        "held_on_vouchers",
        "credit_limit",
        "available",
        "arrears",
    )
    print_records(_flat(body.get("projects", [])), columns, "no projects")
    if body.get("vouchers"):
        stdout.print()
        print_records(_flat(body["vouchers"]), ("id", "programme", "remaining", "share", "valid_until"), "")


def topup(
    org: Annotated[str, typer.Argument(help="The org.")],
    project: Annotated[str, typer.Argument(help="The project to fund.")],
    amount: Annotated[str, typer.Argument(help="e.g. 1000.00 or '1000.00 CNY'.")],
    reason: Annotated[str, typer.Option(help="Why, e.g. an invoice number (kept in the audit trail).")] = "",
    json_out: JsonOption = False,
) -> None:
    """Add funds to a project (operators); the audit trail keeps who, when, how much and why.

    The currency must be one the network's pools charge (or one the project holds already).

    Example:

    ```
    suanli topup acme vision 1000.00 --reason "invoice 2026-118"
    ```
    """
    with session() as client:
        body = client.topup(org, project, amount, reason=reason)
    if json_out:
        print_json(body)
        return
    stdout.print(
        f"{escape(org)}/{escape(project)}: +{escape(str(money_text(body['amount'])))}, "
        f"balance {escape(str(money_text(body['balance'])))}, available {escape(str(money_text(body['available'])))}"
    )


def payout(
    provider: Annotated[str, typer.Argument(help="The provider org paid.")],
    amount: Annotated[str, typer.Argument(help="What was paid, e.g. 1000.00 or '1000.00 CNY'.")],
    reason: Annotated[
        str, typer.Option(help="The payment's reference, e.g. a bank transfer's (kept in the audit trail).")
    ],
    transfer_id: Annotated[
        str | None, typer.Option(help="An id for the payout, so that sending it again records it once.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Record a payment made to a provider (operators): what it is owed goes down by it.

    The money itself moves outside suanli (a bank transfer); this keeps it in the ledger, so that
    `suanli settlement` shows what was paid and what is still owed. At most what it is owed.

    Example:

    ```
    suanli payout dc-sh 12000.00 --reason "bank transfer 2026-11-0042" --transfer-id pay-2026-11-0042
    ```
    """
    with session() as client:
        body = client.payout(provider, amount, reason, transfer_id=transfer_id)
    if json_out:
        print_json(body)
        return
    stdout.print(
        f"{escape(provider)}: paid {escape(str(money_text(body['amount'])))}, "
        f"still owed {escape(str(money_text(body['owed'])))} (transfer {escape(str(body['transfer']))})"
    )


def refund(
    job: Annotated[str, typer.Argument(help="The job whose charges to refund.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit trail).")],
    attempt: Annotated[
        int | None,
        typer.Option(min=1, help="Only this attempt's charges (its number, as `suanli job` lists them)."),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Refund a job's charges (operators): each part back where it came from (cash to its project,
    voucher parts to their vouchers, or to their programmes where a voucher is no longer valid), the
    provider's payable reversed. Asking again refunds nothing more.
    `--attempt N` refunds one attempt's alone, e.g. one its site stopped (the tenant pays for the
    time an attempt ran, whoever stopped it).

    Examples:

    ```
    suanli refund job_01… --reason "site fault, ticket 4411"
    suanli refund job_01… --attempt 2 --reason "stopped by the site's agent upgrade"
    ```
    """
    with session() as client:
        body = client.refund_job(job, reason, attempt=attempt)
    if json_out:
        print_json(body)
        return
    if not body.get("refunded"):
        stdout.print(f"{escape(job)}: nothing left to refund")
        return
    total = ", ".join(str(money_text(t)) for t in body.get("totals", []))
    went = [
        f"{money_text(m)} {where}"
        for key, where in (
            ("to_cash", "back to the project's cash"),
            ("to_vouchers", "back to the org's vouchers"),
            ("clawed_back", "clawed back to voucher programmes (vouchers no longer valid)"),
            ("arrears_forgiven", "of arrears forgiven"),
        )
        for m in body.get(key) or []
        if isinstance(m, dict) and m.get("minor")
    ]
    split = f": {'; '.join(went)}" if went else ""
    count = body.get("charges", len(body["refunded"]))
    stdout.print(f"{escape(job)}: refunded {count} charge(s), {escape(total)}{escape(split)}")
    for warning in body.get("warnings") or []:
        stderr.print(f"[yellow]warning:[/yellow] {escape(str(warning))}")


@voucher_app.command("programme")
def voucher_programme(
    name: Annotated[str, typer.Argument(help="The programme's name, e.g. haidian-2026.")],
    budget: Annotated[str, typer.Option(help="The most it may grant, e.g. '1000000.00 CNY'.")],
    issuer: Annotated[str, typer.Option(help="Who funds it, e.g. 'Haidian District'.")] = "",
    json_out: JsonOption = False,
) -> None:
    """Create a voucher programme with a budget cap (operators); `voucher grant` then issues from it.

    Example:

    ```
    suanli voucher programme haidian-2026 --budget "1000000.00 CNY" --issuer "Haidian District"
    ```
    """
    with session() as client:
        body = client.create_programme(name, budget, issuer)
    if json_out:
        print_json(body)
        return
    stdout.print(f"programme {escape(name)}: budget {escape(str(money_text(body['budget'])))}")


@voucher_app.command("programmes")
def voucher_programmes(json_out: JsonOption = False) -> None:
    """List voucher programmes with their budgets and what they issued (operators)."""
    with session() as client:
        body = client.list_programmes()
    if json_out:
        print_json(body)
        return
    print_records(_flat(body.get("items", [])), ("name", "issuer", "budget", "issued"), "no programmes")


@voucher_app.command("grant", cls=SignedAmounts)
def voucher_grant(
    programme: Annotated[str, typer.Argument(help="The programme that pays.")],
    org: Annotated[str, typer.Argument(help="The tenant org that receives the voucher.")],
    face: Annotated[str, typer.Argument(help="Its value, e.g. 5000.00.")],
    until: Annotated[
        str,
        typer.Option(help="Valid until (exclusive): 2027-01-01T00:00:00Z or 2027-01-01 (no zone: UTC)."),
    ],
    share: Annotated[str, typer.Option(help="The most of each charge it covers: 30% or 0.3 or 1.")] = "1",
    valid_from: Annotated[
        str | None, typer.Option("--from", help="Valid from, in the same forms (default now).")
    ] = None,
    provider: Annotated[
        list[str] | None, typer.Option(help="Only at this provider org (repeatable).")
    ] = None,
    site: Annotated[list[str] | None, typer.Option(help="Only at this site (repeatable).")] = None,
    accelerator: Annotated[
        list[str] | None, typer.Option(help="Only on this model, or cpu (repeatable).")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Grant an org a voucher out of a programme's budget (operators).

    Example:

    ```
    suanli voucher grant haidian-2026 acme 5000.00 --share 30% --until 2027-01-01T00:00:00Z --accelerator A100
    ```
    """
    with session() as client:
        body = client.grant_voucher(
            programme,
            org,
            face,
            valid_until=until,
            share=share,
            valid_from=valid_from,
            providers=provider,
            sites=site,
            accelerators=accelerator,
        )
    if json_out:
        print_json(body)
        return
    stdout.print(f"voucher {escape(body['id'])} for {escape(org)}: {escape(str(money_text(body['face'])))}")


@voucher_app.command("list")
def voucher_list(
    org: Annotated[str | None, typer.Option(help="One org's vouchers (its finance members may ask).")] = None,
    json_out: JsonOption = False,
) -> None:
    """List vouchers with what remains of each.

    Operators see every org's; others name the org with --org, or leave it out when they are an
    owner, admin or finance member of one org only.
    """
    with session() as client:
        body = client.list_vouchers(org)
    if json_out:
        print_json(body)
        return
    columns = ("id", "programme", "org", "face", "remaining", "share", "valid_until", "expired")
    print_records(_flat(body.get("items", [])), columns, "no vouchers")


@voucher_app.command("report")
def voucher_report(
    programme: Annotated[str, typer.Argument(help="The programme.")], json_out: JsonOption = False
) -> None:
    """Issued, redeemed, restored by refunds, expired and clawed back, by org and by provider;
    reconciled to the ledger (operators).

    Example: `suanli voucher report haidian-2026 --json`
    """
    with session() as client:
        body = client.programme_report(programme)
    if json_out:
        print_json(body)
        return
    totals = (
        "budget",
        "issued",
        "redeemed",
        "restored",
        "expired",
        "clawed_back",
        "outstanding",
        "reconciles",
    )
    print_records([{k: money_text(body.get(k)) for k in totals}], totals, "")
    stdout.print()
    print_records(
        _flat(body.get("by_org", [])),
        ("org", "issued", "redeemed", "restored", "expired", "clawed_back"),
        "no orgs",
    )
    stdout.print()
    print_records(
        _flat(body.get("by_provider", [])),
        ("provider", "redeemed", "restored", "clawed_back"),
        "no redemptions",
    )


@voucher_app.command("relate")
def voucher_relate(
    org: Annotated[str, typer.Argument(help="The voucher holder.")],
    provider: Annotated[str, typer.Argument(help="A provider org related to it.")],
    note: Annotated[str, typer.Option(help="Why, e.g. 'same parent company'.")] = "",
) -> None:
    """Declare a holder related to a provider: the holder's vouchers never pay there (operators).

    Example: `suanli voucher relate pku-ai pku-hpc --note "same university"`
    """
    with session() as client:
        client.relate_provider(org, provider, note)
    stdout.print(f"{escape(org)}'s vouchers will not pay {escape(provider)}")


def register(app: typer.Typer) -> None:
    """Add `balance`, `topup`, `refund`, `payout` and the `voucher` group."""
    app.command()(balance)
    app.command(cls=SignedAmounts)(topup)
    app.command()(refund)
    app.command(cls=SignedAmounts)(payout)
    app.add_typer(voucher_app, name="voucher")
