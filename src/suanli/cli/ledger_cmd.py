"""`suanli ledger check`: the ledger's durable truths read back from the server's database (operators)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from suanli.cli.context import fail, session, stdout
from suanli.cli.exit_codes import ExitCode
from suanli.cli.render import print_json

__all__ = ["register"]

JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]
ledger_app = typer.Typer(
    help="The ledger's own consistency, for operators and auditors.", no_args_is_help=True
)


@ledger_app.command("check")
def ledger_check(json_out: JsonOption = False) -> None:
    """Check the ledger's durable truths on the server's database (operators).

    Every transfer balances in each currency; debits equal credits per currency; each account's
    balance is the sum of its entries; each project's month spend (what budgets count) is what its
    charges and refunds add up to; no voucher holds more than its face value or less than nothing.
    Reads the whole ledger. Exits 1 when anything differs, listing what and by how much; it repairs
    nothing.

    Example: `suanli ledger check`
    """
    with session() as client:
        body = client.check_ledger()
    if json_out:
        print_json(body)
    else:
        read = body.get("read", {})
        counted = ", ".join(_counted(n, what) for what, n in read.items())
        head = "consistent" if body.get("consistent") else "[red]NOT CONSISTENT[/red]"
        stdout.print(f"ledger {head}: read {escape(counted)}")
        for c in body.get("checks", []):
            stdout.print(f"  {'✓' if c['ok'] else '[red]✗[/red]'} {escape(c['what'])}")
            for finding in c.get("findings", []):
                stdout.print(f"      {escape(finding)}")
            if c.get("count", 0) > len(c.get("findings", [])):
                stdout.print(f"      … and {c['count'] - len(c['findings']):,} more")
    if not body.get("consistent"):
        found = sum(c.get("count", 0) for c in body.get("checks", []))
        fail(f"the ledger is not consistent: {_counted(found, 'findings')}", ExitCode.FAILED)


def _counted(n: int, things: str) -> str:
    """`1 entry`, `2,000 month spends`: what `ledger check` read, by the API's plural names."""
    one = {"entries": "entry", "month_spends": "month spend"}.get(things, things.removesuffix("s"))
    return f"{n:,} {one if n == 1 else things.replace('_', ' ')}"


def register(app: typer.Typer) -> None:
    """Add the `ledger` group to the `suanli` app."""
    app.add_typer(ledger_app, name="ledger")
