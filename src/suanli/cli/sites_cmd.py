"""Provider sites and their pools: `sites` to browse capacity, `site ...` to add and manage sites."""

from __future__ import annotations

import shlex
from typing import Annotated, Any

import typer
from rich.markup import escape

from suanli.cli import context
from suanli.cli.amounts import SignedAmounts
from suanli.cli.context import fail, session, stderr, stdout
from suanli.cli.exit_codes import ExitCode
from suanli.cli.render import items_of, print_json, print_site, print_sites, state_text

__all__ = ["BACKEND_CHOICES", "agent_command_line", "register"]

JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]
SiteName = Annotated[str, typer.Argument(metavar="NAME", help="The site's name.")]
site_app = typer.Typer(
    help="Add provider sites, issue enrollment tokens, set energy profiles and prices, disable and enable sites.",
    no_args_is_help=True,
)


BACKEND_PLACEHOLDER = "BACKEND"
# What the provider puts for BACKEND, and the options each engine wants (`suanli agent --help`).
BACKEND_CHOICES = (
    "local: jobs run on the agent's machine; add --pool SPEC per pool it offers (e.g. --pool A100:8; "
    "default: its GPUs, else all its CPUs)",
    "slurm: jobs run as Slurm batch jobs; one pool per partition and GPU type "
    "(e.g. --backend-opt partition=gpu to offer only some)",
    "ray: jobs run on a Ray cluster (e.g. --backend-opt address=http://127.0.0.1:8265)",
)


def agent_command_line(server: str, site: str, token: str) -> str:
    """The `suanli agent` invocation that enrolls site `site` with a single-use `token`, with the one
    choice only the provider can make left as `--backend BACKEND`: the server does not know whether
    the site is one machine or a cluster's front end, and the agent refuses `BACKEND` as unknown, so
    a line copied without choosing runs nothing."""
    args = ["suanli", "agent", "--server", server, "--site", site, "--token", token]
    return shlex.join(args) + f" --backend {BACKEND_PLACEHOLDER}"


def _print_enrollment(server: str, site: str, body: dict[str, Any]) -> None:
    """The guidance on stderr first, then the token and the command on stdout: read in order on a
    terminal (stdout, buffered in a pipe, would come out after a later stderr line anyway), and only
    the token and the command where stdout alone is kept."""
    token = body.get("enrollment_token") or body.get("token")
    if not token:
        stderr.print("[yellow]warning:[/yellow] the server answered without an enrollment token")
        return
    choices = "".join(f"\n  {escape(choice)}" for choice in BACKEND_CHOICES)
    stderr.print(
        "\nOn the site's machine (beside its cluster, for Slurm or Ray), run the `suanli agent` line "
        f"below, with {BACKEND_PLACEHOLDER} one of:{choices}\n[dim]The agent trades the enrollment token "
        f"for its own and keeps it in --state-dir DIR (default ~/.suanli/agent-{escape(site)}); two agents "
        "on one machine: give each its own --state-dir (see `suanli agent --help`).[/dim]\n"
    )
    stdout.print(f"enrollment token (single use, shown once): [b]{escape(str(token))}[/b]", soft_wrap=True)
    stdout.print(escape(agent_command_line(server, site, str(token))), soft_wrap=True)


def sites(json_out: JsonOption = False) -> None:
    """List sites with their pools and the capacity free on each.

    Examples:

    ```
    suanli sites
    suanli sites --json | jq '.items[].pools[].free'
    ```
    """
    with session() as client:
        body = client.list_sites()
    if json_out:
        print_json(body)
        return
    print_sites(items_of(body))


@site_app.command("list")
def site_list(json_out: JsonOption = False) -> None:
    """List sites with their pools (same as `suanli sites`)."""
    sites(json_out)


@site_app.command("show")
def site_show(name: SiteName, json_out: JsonOption = False) -> None:
    """Show one site: its org, region, state, last contact and pools.

    Example:

    ```
    suanli site show pku-a100
    ```
    """
    with session() as client:
        found = client.get_site(name)
    if json_out:
        print_json(found)
        return
    print_site(found)


@site_app.command("add")
def site_add(
    name: SiteName,
    org: Annotated[str, typer.Option(help="The provider org that runs the site.")],
    region: Annotated[str | None, typer.Option(help="Where it is, e.g. cn-north or eu-west.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Register a provider site; prints its single-use enrollment token and the agent command to run.

    Example:

    ```
    suanli site add pku-a100 --org pku-hpc --region cn-north
    ```
    """
    profile = context.current_profile()
    with session() as client:
        body = client.create_site(name, org, region)
    if json_out:
        print_json(body)
        return
    site = body.get("site") or {}
    stderr.print(f"site {escape(str(site.get('name', name)))} added ({state_text(site.get('state', 'new'))})")
    _print_enrollment(profile.server, name, body)


@site_app.command("enroll-token")
def site_enroll_token(name: SiteName, json_out: JsonOption = False) -> None:
    """Issue a fresh single-use enrollment token for a site (e.g. to move its agent to a new machine).

    A site has one agent: when an agent enrolls with the new token, the site's earlier agent tokens
    are revoked, and an agent still running with one stops at its next sync.

    Example:

    ```
    suanli site enroll-token pku-a100
    ```
    """
    profile = context.current_profile()
    with session() as client:
        body = client.new_enrollment_token(name)
    if json_out:
        print_json(body)
        return
    _print_enrollment(profile.server, name, body)


@site_app.command("disable")
def site_disable(name: SiteName, json_out: JsonOption = False) -> None:
    """Stop placing new jobs on a site; jobs already there run to the end.

    Example:

    ```
    suanli site disable pku-a100
    ```
    """
    with session() as client:
        body = client.disable_site(name)
    if json_out:
        print_json(body)
        return
    state = body.get("state", "disabled") if isinstance(body, dict) else "disabled"
    stdout.print(f"site {escape(name)} {state_text(state)}")


@site_app.command("enable")
def site_enable(name: SiteName, json_out: JsonOption = False) -> None:
    """Place new jobs on a disabled site again.

    Example:

    ```
    suanli site enable pku-a100
    ```
    """
    with session() as client:
        body = client.enable_site(name)
    if json_out:
        print_json(body)
        return
    state = body.get("state", "online") if isinstance(body, dict) else "online"
    stdout.print(f"site {escape(name)} {state_text(state)}")


@site_app.command("set")
def site_set(
    name: SiteName,
    region: Annotated[str | None, typer.Option(help="The site's region, e.g. cn-shanghai.")] = None,
    pue: Annotated[str | None, typer.Option(help="Power usage effectiveness, 1.0–3.0, e.g. 1.25.")] = None,
    carbon: Annotated[int | None, typer.Option(help="Grid carbon intensity in gCO2e/kWh (0–2000).")] = None,
    bandwidth: Annotated[
        list[str] | None,
        typer.Option(
            help="Mbit/s into the site from a region, REGION=MBPS (repeatable; '*' for the others).",
            show_default=False,
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Set a site's region, energy profile and bandwidth, which objectives and quotes use.

    The energy profile drives `greenest` and carbon figures; bandwidth drives how long a job's
    inputs take to arrive (the `locality` score).

    Example:

    ```
    suanli site set sh-a100 --pue 1.25 --carbon 560 --bandwidth cn-east=10000 --bandwidth '*=1000'
    ```
    """
    if region is None and pue is None and carbon is None and not bandwidth:
        fail(
            "nothing to set: give --region, --pue, --carbon or --bandwidth (suanli site show NAME shows it)",
            ExitCode.USAGE,
        )
    links = _bandwidth(bandwidth) if bandwidth else None
    with session() as client:
        body = client.update_site(name, region=region, pue=pue, carbon_g_per_kwh=carbon, bandwidth_mbps=links)
    if json_out:
        print_json(body)
        return
    print_site(body)


def _bandwidth(values: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        region, sep, mbps = value.partition("=")
        if not sep or not region or not mbps.isdigit():
            fail(
                f"--bandwidth {value!r}: expected REGION=MBPS, e.g. cn-east=10000 or '*=1000'", ExitCode.USAGE
            )
        out[region] = int(mbps)
    return out


@site_app.command("price", cls=SignedAmounts)
def site_price(
    name: SiteName,
    pool: Annotated[str, typer.Argument(help="The pool's name, as `suanli sites` shows it.")],
    price: Annotated[
        str,
        typer.Argument(
            help="Per accelerator-hour (CPU-hour on a CPU pool): 38.00 or '38.00 CNY'. A price cannot "
            "be removed (price books are versioned): a new price replaces it."
        ),
    ],
    json_out: JsonOption = False,
) -> None:
    """Price a pool (a new price book version, the provider paid the same rate; `suanli price set`
    sets a wholesale rate apart). Jobs placed there are held for and charged; quotes and the
    `cheapest` objective use it.

    Example:

    ```
    suanli site price sh-a100 a100 38.00
    ```
    """
    with session() as client:
        body = client.set_pool_price(name, pool, price)
    if json_out:
        print_json(body)
        return
    print_site(body)


def register(app: typer.Typer) -> None:
    """Add `sites` and the `site` group to the `suanli` app."""
    app.command()(sites)
    app.add_typer(site_app, name="site")
