"""Billing: `statement`, `settlement`, `usage`, `budget set|show`, `credit-limit set`, `audit`."""

from __future__ import annotations

import json
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from suanli.cli.amounts import SignedAmounts
from suanli.cli.context import choice, fail, session, stdout
from suanli.cli.exit_codes import ExitCode
from suanli.cli.money_cmd import MONEY_ROLES, money_org
from suanli.cli.render import print_json, print_records, when
from suanli.client import ApiError, Client
from suanli.domain.billing import hours_shown
from suanli.domain.money import DEFAULT_CURRENCY, Money

__all__ = ["register"]

JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]
OutOption = Annotated[
    Path | None, typer.Option("-o", "--output", help="Write the document to this file instead of stdout.")
]
MonthOption = Annotated[str | None, typer.Option(help="YYYY-MM (default: this month, UTC).")]
budget_app = typer.Typer(
    help="Project budgets: alerts at thresholds and an optional hard cap.", no_args_is_help=True
)
credit_app = typer.Typer(help="How far below zero a project's cash may go (operators).", no_args_is_help=True)


class StatementFormat(StrEnum):
    table = "table"
    csv = "csv"
    html = "html"
    json = "json"


class SettlementFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class Group(StrEnum):
    project = "project"
    site = "site"
    user = "user"
    month = "month"


def _text(value: Any) -> Any:
    """Money views {"minor", "currency", "text"} (or lists of them) → text, for tables."""
    if isinstance(value, dict) and "text" in value:
        return value["text"]
    if isinstance(value, list) and all(isinstance(v, dict) and "text" in v for v in value):
        return ", ".join(v["text"] for v in value) or "-"
    return value


def _flat(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: _text(v) for k, v in r.items()} for r in rows]


def _emit(body: Any, output: Path | None) -> None:
    """A document (text) or JSON, to `output` or stdout, byte for byte."""
    text = body if isinstance(body, str) else json.dumps(body, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        stdout.file.write(text)
        stdout.file.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}", ExitCode.USAGE)
    typer.echo(f"wrote {output}", err=True)


def _no_table_to_file(table: bool, output: Path | None) -> None:
    if table and output is not None:
        fail("-o writes a document: add --format csv, html or json", ExitCode.USAGE)


def statement(
    org: Annotated[
        str | None,
        typer.Argument(
            help="The org. Default: yours, when you see the money of one org only.", show_default=False
        ),
    ] = None,
    month: MonthOption = None,
    project: Annotated[str | None, typer.Option(help="One project (default: the whole org).")] = None,
    fmt: Annotated[
        StatementFormat,
        typer.Option("--format", help="table, csv, html or json.", parser=choice(StatementFormat)),
    ] = StatementFormat.table,
    output: OutOption = None,
) -> None:
    """A month's statement: per-job lines, totals by funding source, opening and closing balances (finance).

    Example:

    ```
    suanli statement acme --project vision --month 2026-11 --format html -o nov.html
    ```
    """
    _no_table_to_file(fmt is StatementFormat.table, output)
    with session() as client:
        org = org or money_org(client, "suanli statement ORG")
        body = client.statement(
            org, month=month, project=project, format="json" if fmt is StatementFormat.table else fmt.value
        )
        if fmt is not StatementFormat.table:
            _emit(body, output)
            return
        _print_statement(client, org, month, body)


def _print_statement(client: Client, org: str, month: str | None, body: dict[str, Any]) -> None:
    stdout.print(
        f"[bold]{escape(body['org'])}{escape('/' + body['project'] if body['project'] else '')} {escape(body['month'])}[/bold]"
    )
    columns: tuple[str, ...] = (
        "project",
        "job",
        "name",
        "site",
        "pool",
        "hours",
        "accelerator_hours",
        *(
            ("cpu_hours",) if any("cpu_hours" in line for line in body["lines"]) else ()
        ),  # older servers: none
        "amount",
    )
    refunds = any(int((line.get("refunded") or {}).get("minor", 0)) for line in body["lines"])
    if refunds:  # what was charged, what refunds gave back of it, and what stands: the API's amount
        columns = (*columns[:-1], "charged", "refunded", "net")
    print_records([_line(line, refunds) for line in body["lines"]], columns, "no charges this month")
    if not body["lines"] and _is_provider(client, org):
        stdout.print(
            f"[dim]{escape(org)} is a provider: what its sites earned is in `suanli settlement "
            f"--provider {escape(org)}{escape(' --month ' + month) if month else ''}`[/dim]"
        )
    stdout.print()
    if body["funding"]:
        print_records(_flat(body["funding"]), ("source", "amount"), "")
    stdout.print(f"total: {escape(_text(body['totals'])) if body['totals'] else 'nothing charged'}")
    if body["balances"]:
        stdout.print()
        print_records(
            _flat(body["balances"]),
            ("project", "opening", "topups", "cash_charged", "closing", "arrears_closing"),
            "",
        )


def _line(line: dict[str, Any], refunds: bool = False) -> dict[str, Any]:
    """A statement line for the table. Its hours come rounded to 0.01 (18 s or less is `0.00`): a
    time that ran says `<0.01` (as `domain.billing.hours_shown` does in the HTML), never that it
    ran no time. With `refunds`, its `amount` (net
    of refunds) is shown as `net` beside what was `charged` (net + refunded) and `refunded`."""
    flat = _flat([line])[0]
    charged = any(int((line.get(k) or {}).get("minor", 0)) for k in ("amount", "refunded"))
    if charged and _is_zero(flat.get("hours")) and "seconds" not in line:  # from a server before seconds
        flat["hours"] = "<0.01"
    for shown, exact in (("hours", "seconds"), ("accelerator_hours", "accelerator_seconds")):
        if isinstance(line.get(exact), int):  # the exact seconds: shown as the HTML shows them
            flat[shown] = hours_shown(line[exact])
    if refunds:
        amount, refunded = line.get("amount") or {}, line.get("refunded") or {}
        currency = str(amount.get("currency") or refunded.get("currency") or DEFAULT_CURRENCY)
        gross = int(amount.get("minor", 0)) + int(refunded.get("minor", 0))
        flat["charged"], flat["net"] = str(Money(gross, currency)), flat.get("amount")
        if not int(refunded.get("minor", 0)):
            flat["refunded"] = "-"
    return flat


def _is_zero(value: Any) -> bool:
    try:
        return Decimal(str(value)) == 0
    except ArithmeticError:
        return False


def _is_provider(client: Client, org: str) -> bool:
    """Whether `org` is a provider org; False when the caller may not see it (the hint is a courtesy)."""
    try:
        return client.get_org(org).get("kind") == "provider"
    except ApiError:
        return False


def settlement(
    provider: Annotated[
        str | None, typer.Option(help="One provider org (default: every one you may see).")
    ] = None,
    month: MonthOption = None,
    fmt: Annotated[
        SettlementFormat,
        typer.Option("--format", help="table, csv or json.", parser=choice(SettlementFormat)),
    ] = SettlementFormat.table,
    output: OutOption = None,
) -> None:
    """Providers' payables for a month, reconciled with their sites' usage sequences (finance).

    Gaps in a site's sequence, duplicates and usage on a priced pool left uncharged are flagged
    (usage on a free pool is never charged). The CSV and JSON list each attempt's charges of the
    month as one line (how many, when, what they came to), each payout and each flag.

    Example:

    ```
    suanli settlement --provider pku --month 2026-11 --format csv -o pku-2026-11.csv
    ```
    """
    _no_table_to_file(fmt is SettlementFormat.table, output)
    with session() as client:
        body = client.settlements(
            provider=provider, month=month, format="json" if fmt is SettlementFormat.table else fmt.value
        )
    if fmt is not SettlementFormat.table:
        _emit(body, output)
        return
    for p in body["providers"]:
        ok = "reconciles" if p["reconciles"] else "[red]DOES NOT RECONCILE[/red]"
        stdout.print(
            f"[bold]{escape(p['provider'])}[/bold] {escape(body['month'])}: {ok}, {p['flags']} flag(s)"
        )
        print_records(_flat(p["totals"]), ("currency", "payable", "charged", "paid", "owed"), "no charges")
        for t in p["totals"]:
            if t.get("overpaid"):
                owes = str(_text(t["owed"])).lstrip("-")
                stdout.print(f"[red]overpaid:[/red] paid beyond what it earned; it owes back {escape(owes)}")
        sites = [
            {"site": s["site"], "payable": _text(s["payable"]), "records": s["records"],
             "seq": f"{s['first_seq']}-{s['last_seq']}" if s["records"] else "–", "gaps": len(s["gaps"]),
             "duplicates": len(s["duplicates"]), "uncharged": len(s["uncharged"])}
            for s in p["sites"]
        ]  # fmt: skip
        print_records(
            sites, ("site", "payable", "records", "seq", "gaps", "duplicates", "uncharged"), "no sites"
        )
        for s in p["sites"]:
            for g in s["gaps"]:
                stdout.print(
                    f"[yellow]gap[/yellow] {escape(s['site'])}: seq {g['from']}-{g['to']} never received"
                )
            for d in s["duplicates"]:
                twice = "[red]CHARGED TWICE[/red]" if d["charged_twice"] else "charged once"
                stdout.print(
                    f"[yellow]duplicate[/yellow] {escape(s['site'])}: seq {d['seq']} repeats {d['repeats']}, {twice}"
                )
            for u in s["uncharged"]:
                stdout.print(
                    f"[yellow]uncharged[/yellow] {escape(s['site'])}: seq {u['seq']} ({escape(u['job'])}, {u['hours']} h)"
                )
        stdout.print()


def usage(
    by: Annotated[
        Group, typer.Option(help="Group by project, site, user or month.", parser=choice(Group))
    ] = Group.project,
    org: Annotated[str | None, typer.Option(help="One org (default: every one you belong to).")] = None,
    since: Annotated[
        str | None, typer.Option(help="From: 2026-11-01T00:00:00Z or 2026-11-01 (no zone: UTC).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Until (exclusive), in the same forms.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Compute-hours, and what they were charged (finance roles), grouped.

    CPU HOURS are the CPUs jobs held × the time they ran, as charges price them; CPU USED HOURS the
    CPU time the sites reported (measured on a local site, the allocation on Slurm and Ray).

    Example:

    ```
    suanli usage --by site --org acme --since 2026-11-01T00:00:00Z
    ```
    """
    with session() as client:
        body = client.usage(by=by.value, org=org, since=since, until=until)
    if json_out:
        print_json(body)
        return
    rows = _flat(body.get("items", []))
    used = ("cpu_used_hours",) if any("cpu_used_hours" in r for r in rows) else ()  # older servers: none
    columns = ("key", "records", "hours", "accelerator_hours", "cpu_hours", *used, "charged")
    print_records([{**r, "key": r["key"]} for r in rows], columns, "no usage")


@budget_app.command("set", cls=SignedAmounts)
def budget_set(
    org: Annotated[str, typer.Argument(help="The org.")],
    project: Annotated[str, typer.Argument(help="The project.")],
    amount: Annotated[str, typer.Argument(help="e.g. 5000.00 or '5000.00 CNY'.")],
    month: Annotated[str, typer.Option(help="YYYY-MM, or '*' for every month without its own budget.")] = "*",
    threshold: Annotated[
        list[int] | None, typer.Option(help="Alert at this percentage (repeatable; default 50, 80, 100).")
    ] = None,
    hard_cap: Annotated[
        bool,
        typer.Option(
            "--hard-cap/--no-hard-cap",
            help="Refuse new jobs once the month's charges reach it, start queued ones only while "
            "their hold fits in what it leaves, and stop a running one that has spent its hold and "
            "what the cap leaves.",
        ),
    ] = False,
    reason: Annotated[str, typer.Option(help="Why (kept in the audit trail).")] = "",
    json_out: JsonOption = False,
) -> None:
    """Set a project's budget (owners, admins, finance).

    Example:

    ```
    suanli budget set acme vision 5000.00 --month 2026-12 --hard-cap
    ```
    """
    with session() as client:
        body = client.set_budget(
            org, project, amount, month=month, thresholds=threshold, hard_cap=hard_cap, reason=reason
        )
    if json_out:
        print_json(body)
        return
    _print_budget(body)


@budget_app.command("show")
def budget_show(
    org: Annotated[str, typer.Argument(help="The org.")],
    project: Annotated[str, typer.Argument(help="The project.")],
    month: MonthOption = None,
    json_out: JsonOption = False,
) -> None:
    """The budget in force, what the month spent, and the thresholds reached.

    Example: `suanli budget show acme vision --month 2026-12`
    """
    with session() as client:
        body = client.get_budget(org, project, month=month)
    if json_out:
        print_json(body)
        return
    _print_budget(body)


def _print_budget(body: dict[str, Any]) -> None:
    b = body.get("budget")
    if b is None:
        stdout.print(
            f"{escape(body['org'])}/{escape(body['project'])}: no budget for {escape(body['month'])}"
        )
    else:
        cap = (
            ", [red]hard cap reached: new jobs refused, queued ones wait[/red]"
            if b["blocked"]
            else (", hard cap" if b["hard_cap"] else "")
        )
        every = " (the every-month budget)" if b.get("month") == "*" else ""
        percent = f" ({b['percent']}%)" if b.get("percent") is not None else ""  # None: a zero budget
        stdout.print(
            f"{escape(body['org'])}/{escape(body['project'])} {escape(body['month'])}{every}: "
            f"{escape(_text(b['spent']))} of {escape(_text(b['amount']))}{percent}, alerts at "
            f"{', '.join(f'{t}%' for t in b['thresholds'])}{cap}"
        )
    if body.get("events"):
        stdout.print("[dim]alerts recorded, each with what was spent and the budget then:[/dim]")
        print_records(_flat(body["events"]), ("month", "threshold", "spent", "budget", "at"), "")


@credit_app.command("set", cls=SignedAmounts)
def credit_limit_set(
    org: Annotated[str, typer.Argument(help="The org.")],
    project: Annotated[str, typer.Argument(help="The project.")],
    limit: Annotated[str, typer.Argument(help="e.g. 500.00 or '500.00 CNY'; 0 removes it.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit trail).")] = "",
    json_out: JsonOption = False,
) -> None:
    """Let a project's cash go down to −LIMIT (operators).

    Example:

    ```
    suanli credit-limit set acme vision 500.00 --reason "grant pending"
    ```
    """
    with session() as client:
        body = client.set_credit_limit(org, project, limit, reason=reason)
    if json_out:
        print_json(body)
        return
    stdout.print(
        f"{escape(org)}/{escape(project)}: credit limit {escape(_text(body['credit_limit']))}, "
        f"available {escape(_text(body['available']))}"
    )


def audit(
    org: Annotated[str | None, typer.Option(help="One org's records (its finance roles may ask).")] = None,
    action: Annotated[
        str | None,
        typer.Option(
            help="Only this action: topup, refund, credit_limit, budget, or a change's name (create_org, "
            "disable_site, set_quota, …). A name the trail never records is refused with the full list."
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """The audit trail of every change people made: who, when, what, on what, how much, why.

    Example:

    ```
    suanli audit --action disable_site
    ```
    """
    with session() as client:
        try:
            body = client.audit(org=org, action=action)
        except ApiError as exc:
            if exc.status == 403 and org is None:
                _suggest_org(client, exc)
            raise
    if json_out:
        print_json(body)
        return
    # what each change was made to (`project acme/vision`); a server before `object` gives its path
    rows = [
        {**r, "at": when(r.get("at")), "object": r.get("object") or r.get("target")}
        for r in body.get("items", [])
    ]
    print_records(_flat(rows), ("at", "actor", "action", "object", "amount", "reason"), "no records")


def _suggest_org(client: Client, refused: ApiError) -> None:
    """`suanli audit` without --org is for operators: one who is a member of orgs is told to name
    one (an org's owners, admins and finance see its records). Returns when there is nothing to add."""
    try:
        memberships = [m for m in client.whoami().get("memberships") or [] if isinstance(m, dict)]
    except ApiError:
        return
    if not memberships:
        return
    mine = sorted({str(m["org"]) for m in memberships if m.get("role") in MONEY_ROLES})
    if mine:
        hint = f"name your org: suanli audit --org ORG (yours: {', '.join(mine)})"
    else:
        roles = ", ".join(f"{m.get('org')} {m.get('role')}" for m in memberships)
        hint = f"an org's records are for its owners, admins and finance (suanli audit --org ORG); you are {roles}"
    fail(f"{refused.detail}; {hint}", ExitCode.AUTH)


def register(app: typer.Typer) -> None:
    """Add `statement`, `settlement`, `usage`, `audit` and the `budget` and `credit-limit` groups."""
    app.command()(statement)
    app.command()(settlement)
    app.command()(usage)
    app.command()(audit)
    app.add_typer(budget_app, name="budget")
    app.add_typer(credit_app, name="credit-limit")
