"""Pool price books: `price set|list` (operators set; anyone may list what tenants pay)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from suanli.cli.context import fail, session
from suanli.cli.exit_codes import ExitCode
from suanli.cli.money_cmd import money_text
from suanli.cli.render import print_json, print_records

__all__ = ["register"]

JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]
price_app = typer.Typer(
    help="Pool price books: versions of tenant prices and wholesale rates.", no_args_is_help=True
)


def _tenant_rate(per: str, example: str) -> Any:
    return typer.Option(
        help=f"What tenants pay per {per}, in major units, e.g. {example}. Left out: the pool's "
        "previous version's rate (none: 0, free)."
    )


def _wholesale_rate(per: str, example: str, tenant_option: str) -> Any:
    return typer.Option(
        help=f"What the provider is paid per {per}, in major units, e.g. {example}. Left out: the "
        f"pool's previous version's rate; with none, refused if {tenant_option} is given."
    )


@price_app.command("set")
def price_set(
    site: Annotated[str, typer.Argument(help="The site.")],
    pool: Annotated[str, typer.Argument(help="The pool.")],
    accelerator_hour: Annotated[str | None, _tenant_rate("accelerator-hour", "38.00")] = None,
    cpu_hour: Annotated[str | None, _tenant_rate("CPU-hour", "0.20")] = None,
    gb_hour: Annotated[str | None, _tenant_rate("GiB-hour of memory", "0.05")] = None,
    wholesale_accelerator_hour: Annotated[
        str | None, _wholesale_rate("accelerator-hour", "30.00", "--accelerator-hour")
    ] = None,
    wholesale_cpu_hour: Annotated[str | None, _wholesale_rate("CPU-hour", "0.15", "--cpu-hour")] = None,
    wholesale_gb_hour: Annotated[
        str | None, _wholesale_rate("GiB-hour of memory", "0.04", "--gb-hour")
    ] = None,
    minimum: Annotated[
        str | None,
        typer.Option(help="Minimum charge per job attempt. Left out: the previous version's (none: 0)."),
    ] = None,
    currency: Annotated[
        str | None,
        typer.Option(
            help="CNY, USD, EUR, HKD or JPY. Left out: the previous version's (none: CNY). A version in "
            "another currency keeps nothing of the one before."
        ),
    ] = None,
    effective: Annotated[
        str | None,
        typer.Option(help="In force from: 2027-01-01T00:00:00Z or 2027-01-01 (no zone: UTC; default now)."),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Add a price book version for a pool: tenant prices and the provider's wholesale rates (operators).

    A rate, the minimum or the currency left out keeps the pool's previous version's. With no previous
    version (or a new currency), a tenant rate left out is 0 (free), and a wholesale rate left out is
    refused if its tenant rate is given: say what the provider is paid (0 for nothing).

    Example:

    ```
    suanli price set sh-a100 a100 --accelerator-hour 38 --wholesale-accelerator-hour 30 --minimum 1.00
    ```
    """
    tenant = {"accelerator_hour": accelerator_hour, "cpu_hour": cpu_hour, "gb_hour": gb_hour}
    wholesale = {
        "accelerator_hour": wholesale_accelerator_hour,
        "cpu_hour": wholesale_cpu_hour,
        "gb_hour": wholesale_gb_hour,
    }
    with session() as client:
        body = client.set_price_book(
            site,
            pool,
            tenant={k: v for k, v in tenant.items() if v is not None},
            wholesale={k: v for k, v in wholesale.items() if v is not None},
            currency=currency,
            minimum=minimum,
            effective_at=effective,
        )
    if json_out:
        print_json(body)
        return
    _print_prices([body])


@price_app.command("list")
def price_list(
    site_name: Annotated[
        str | None, typer.Argument(metavar="[SITE]", help="Only this site's pools (as --site).")
    ] = None,
    site: Annotated[str | None, typer.Option(help="Only this site's pools.")] = None,
    json_out: JsonOption = False,
) -> None:
    """List price book versions; IN FORCE marks the one each pool charges now.

    Example:

    ```
    suanli price list sh-a100
    ```
    """
    if site and site_name and site != site_name:
        fail(f"two sites given: {site_name!r} and --site {site!r}", ExitCode.USAGE)
    site = site or site_name
    with session() as client:
        body = client.list_prices(site)
    if json_out:
        print_json(body)
        return
    _print_prices(body.get("items", []))


def _rate(item: dict[str, Any], key: str) -> str:
    """Tenant price, then " / wholesale" where the caller may see it."""
    wholesale = item.get("wholesale")
    return str(item["tenant"][key]) + (f" / {wholesale[key]}" if wholesale else "")


def _print_prices(items: list[dict[str, Any]]) -> None:
    rows = [
        {
            "site": i["site"],
            "pool": i["pool"],
            "version": i["version"],
            "accelerator_hour": _rate(i, "accelerator_hour"),
            "cpu_hour": _rate(i, "cpu_hour"),
            "gb_hour": _rate(i, "gb_hour"),
            "currency": i["currency"],
            "minimum": money_text(i["minimum"]),
            "effective_at": i["effective_at"],
            "in_force": "yes" if i["in_force"] else "",
        }
        for i in items
    ]
    columns = ("site", "pool", "version", "accelerator_hour", "cpu_hour", "gb_hour", "currency", "minimum")
    print_records(rows, (*columns, "effective_at", "in_force"), "no price books")


def register(app: typer.Typer) -> None:
    """Add the `price` group."""
    app.add_typer(price_app, name="price")
