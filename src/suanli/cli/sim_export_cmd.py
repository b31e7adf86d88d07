"""`suanli sim-export`: the network's own jobs and pools as files `suanli sim` replays, for capacity planning.

Reads `GET /workload` page by page (the ended jobs of a window, as rigid jobs) and `GET /sites` (the
accelerator pools now offered) and writes two files into a folder: `trace.csv`, a processed-Philly
CSV with date-times (`sim.loaders.write_philly`), and `network.yaml`, a network file
(`examples/networks/README.md`) with every accelerator pool, its shape, list price and its site's
energy profile. Edit the network (add a pool, change a price) and replay the same jobs on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from suanli.cli.context import fail, session, stderr
from suanli.cli.exit_codes import ExitCode
from suanli.client import Client
from suanli.domain.money import DEFAULT_CURRENCY
from suanli.sim.errors import TraceError
from suanli.sim.loaders import write_philly
from suanli.sim.trace import Trace, TraceJob

__all__ = ["register"]

PAGE = 5_000  # jobs asked for per call of /workload
TRACE, NETWORK = "trace.csv", "network.yaml"


def sim_export(
    out: Annotated[
        Path,
        typer.Argument(
            metavar="DIR",
            help="The folder to write trace.csv and network.yaml into (made if missing).",
            show_default=False,
        ),
    ],
    since: Annotated[
        str | None,
        typer.Option(
            help="Jobs submitted from: 2026-11-01T00:00:00Z or 2026-11-01 (no zone: UTC). Default: 30 days before --until."
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Until (exclusive), in the same forms. Default: now.")
    ] = None,
) -> None:
    """Write the network's ended jobs and its accelerator pools as files `suanli sim` replays.

    Each job submitted in the window that ran becomes one job of the trace: its submission time,
    the accelerators its last run held, how long that run took, its org as the tenant, its name,
    max_runtime, whether it may be preempted, and the models it accepted. The network file has
    every accelerator pool offered now, with its list price and its site's energy profile. You see
    the jobs of your own orgs; operators see everyone's.

    Examples:

    ```
    suanli sim-export plan/ --since 2026-11-01
    suanli sim plan/trace.csv --network plan/network.yaml --policy suanli-las --policy easy
    ```

    Then edit plan/network.yaml (add a pool, change a price) and replay again.
    """
    if out.exists() and not out.is_dir():
        fail(f"{out}: is a file; give a folder to write {TRACE} and {NETWORK} into", ExitCode.USAGE)
    with session() as client:
        got = _read_workload(client, since, until)
        sites = client.list_sites()["items"]
    if not got.jobs:
        fail(
            f"no jobs to export between {got.since} and {got.until}: {got.skipped_line() or 'none ended'}; "
            "widen the window with --since/--until",
            ExitCode.FAILED,
        )
    network, left_out = _network_yaml(sites)
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_philly(Trace("suanli", got.start(), got.trace_jobs()), out / TRACE, wall_clock=True)
        (out / NETWORK).write_text(network, encoding="utf-8")
    except (OSError, TraceError) as exc:
        fail(f"{out}: cannot write there: {exc}", ExitCode.FAILED)
    _summary(out, got, left_out)


@dataclass
class _Workload:
    since: str = ""
    until: str = ""
    jobs: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def start(self) -> datetime:
        return min(_instant(j["submitted_at"]) for j in self.jobs).replace(tzinfo=None)

    def trace_jobs(self) -> tuple[TraceJob, ...]:
        start = self.start()
        return tuple(
            TraceJob(
                id=j["job"],
                submit=(_instant(j["submitted_at"]).replace(tzinfo=None) - start).total_seconds(),
                duration=float(j["duration_s"]),
                gpus=int(j["gpus"]),
                tenant=j["tenant"],
                limit_s=float(j["max_runtime_s"]) if j.get("max_runtime_s") else None,
                model=j.get("model") or None,
                name=j.get("name") or "",
                preemptible=bool(j.get("preemptible")),
                checkpoint_s=float(j["checkpoint_s"]) if j.get("checkpoint_s") else None,
            )
            for j in self.jobs
        )

    def skipped_line(self) -> str:
        said = {"never_ran": "never ran", "no_accelerators": "without accelerators"}
        parts = [f"{n:,} {said.get(k, k)}" for k, n in self.skipped.items() if n]
        return f"left out {', '.join(parts)}" if parts else ""


def _read_workload(client: Client, since: str | None, until: str | None) -> _Workload:
    got, cursor = _Workload(), None
    while True:
        page = client.workload(since=since, until=until, cursor=cursor, limit=PAGE)
        got.since, got.until = page["since"], page["until"]
        got.jobs += page["items"]
        for reason, n in page.get("skipped", {}).items():
            got.skipped[reason] = got.skipped.get(reason, 0) + int(n)
        cursor = page.get("next_cursor")
        if not cursor:
            return got
        stderr.print(f"[dim]read {len(got.jobs):,} jobs…[/dim]")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _network_yaml(sites: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """The network file's text, and the pools left out (no accelerators, or none offered)."""
    lines = ["# The network's accelerator pools as offered at export (suanli sim-export).", "sites:"]
    left_out: list[str] = []
    for site in sites:
        pools = [p for p in site.get("pools", []) if p.get("accelerator") and p.get("nodes")]
        left_out += [f"{site['name']}/{p['name']}" for p in site.get("pools", []) if p not in pools]
        if not pools:
            continue
        lines += [f"  - name: {_quoted(site['name'])}"]
        if site.get("region"):
            lines.append(f"    region: {_quoted(site['region'])}")
        lines.append(
            f"    pue: {site['pue']}"
            if site.get("pue")
            else "    pue: 1.0  # not set on the network (suanli site set SITE --pue)"
        )
        carbon = site.get("carbon_g_per_kwh")
        lines.append(
            f"    carbon_g_per_kwh: {carbon}"
            if carbon is not None
            else "    carbon_g_per_kwh: 0  # not set on the network (suanli site set SITE --carbon)"
        )
        lines.append("    pools:")
        for p in pools:
            lines += _pool_lines(p)
    return "\n".join(lines) + "\n", left_out


def _pool_lines(pool: dict[str, Any]) -> list[str]:
    per, nodes = int(pool["accelerators_per_node"]), int(pool["nodes"])
    price = pool.get("price_per_hour")
    amount, _, currency = (price or "").partition(" ")
    out = [
        f"      - name: {_quoted(pool['name'])}",
        f"        accelerator: {_quoted(pool['accelerator'])}",
        f"        gpus: {per * nodes}",
        f"        nodes: {nodes}",
        f"        gpus_per_node: {per}",
    ]
    if price:
        out.append(f'        price_per_gpu_hour: "{Decimal(amount)}"')
        out.append(f"        currency: {currency or DEFAULT_CURRENCY}")
    else:
        out.append('        price_per_gpu_hour: "0"  # free on the network (no price set)')
    return out


def _quoted(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _summary(out: Path, got: _Workload, left_out: list[str]) -> None:
    tenants = len({j["tenant"] for j in got.jobs})
    skipped = got.skipped_line()
    stderr.print(
        f"wrote {len(got.jobs):,} job{'' if len(got.jobs) == 1 else 's'} of {tenants} "
        f"tenant{'' if tenants == 1 else 's'} submitted {got.since} to {got.until} to "
        f"{escape(str(out / TRACE))}{f' ({skipped})' if skipped else ''}"
    )
    pools_note = f" (left out, no accelerators: {', '.join(left_out)})" if left_out else ""
    stderr.print(f"wrote the network's accelerator pools to {escape(str(out / NETWORK))}{escape(pools_note)}")
    stderr.print(
        f"replay: suanli sim {escape(str(out / TRACE))} --network {escape(str(out / NETWORK))} "
        "--policy suanli-las --policy easy"
    )


def register(app: typer.Typer) -> None:
    """Add `sim-export` to the `suanli` app."""
    app.command("sim-export")(sim_export)
