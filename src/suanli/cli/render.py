"""How API objects look in a terminal: JSON for scripts, Rich tables and panels for people."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.table import Table

from suanli.cli.context import stdout
from suanli.domain.resources import format_duration

__all__ = [
    "TERMINAL_STATES",
    "age",
    "cell",
    "items_of",
    "print_events",
    "print_job",
    "print_jobs",
    "print_json",
    "print_records",
    "print_site",
    "print_sites",
    "show",
    "state_text",
    "when",
]

TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
_STATE_STYLE = {
    "PENDING": "yellow",
    "ASSIGNED": "cyan",
    "RUNNING": "blue",
    "SUCCEEDED": "green",
    "FAILED": "red",
    "CANCELLING": "magenta",
    "CANCELLED": "magenta",
    "online": "green",
    "offline": "red",
    "stopped": "yellow",
    "disabled": "dim",
    "new": "yellow",
    "LOST": "red",
    "WITHDRAWN": "yellow",
}


# Piped output is not wrapped at 80 columns (Rich's default off a terminal): scripts and `grep` see
# one line per row. On a terminal, tables fit the window.
PIPE_WIDTH = 400


def show(renderable: RenderableType | str) -> None:
    """Print to stdout: fitted to the window on a terminal, unwrapped (one line per row) in a pipe."""
    if stdout.is_terminal:
        stdout.print(renderable)
    else:
        Console(file=stdout.file, width=PIPE_WIDTH, highlight=False).print(renderable)


def print_json(body: Any) -> None:
    """The API's JSON, indented, with nothing else on stdout (safe to pipe into `jq`)."""
    stdout.file.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    stdout.file.flush()


def items_of(body: Any) -> list[dict[str, Any]]:
    """The records of a list answer, whether paginated (`{"items": [...]}`) or a bare list."""
    if isinstance(body, dict):
        body = body.get("items", [])
    return [item for item in body or [] if isinstance(item, dict)]


def state_text(state: Any) -> str:
    """A state as Rich markup, coloured by what it means."""
    text = escape(str(state or "-"))
    style = _STATE_STYLE.get(str(state))
    return f"[{style}]{text}[/{style}]" if style else text


def when(value: Any) -> str:
    """An RFC 3339 UTC time, shortened to `YYYY-MM-DD HH:MM:SS`; `-` when absent."""
    if not value:
        return "-"
    text = str(value).replace("T", " ")
    for suffix in ("Z", "+00:00"):
        text = text.removesuffix(suffix)
    return text.split(".")[0]


def age(value: Any, now: datetime | None = None) -> str:
    """How long ago an RFC 3339 time was, kubectl style: `45s`, `12m`, `3h`, `2d`; `-` if unknown."""
    try:
        then = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return "-"
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    seconds = max(0, int(((now or datetime.now(UTC)) - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _day(value: Any) -> str:
    return when(value).split(" ")[0]


def cell(value: Any) -> str:
    """A value as a table cell's markup: `-` when absent, `yes`/`no`, JSON for a dict or list."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return escape(json.dumps(value, ensure_ascii=False))
    return escape(str(value))


def _id_column(table: Table, header: str, values: Iterable[Any]) -> None:
    # Ids are copied into the next command: never truncate or wrap them.
    width = max((len(str(v)) for v in values), default=len(header))
    table.add_column(header, no_wrap=True, min_width=max(width, len(header)))


def print_jobs(jobs: Sequence[dict[str, Any]]) -> None:
    """One row per job: id, name, project, state, where it runs, its age, how it ended."""
    table = Table(box=None, pad_edge=False)
    _id_column(table, "ID", (job.get("id") for job in jobs))
    # List answers may leave out where a job runs; show the column only when some job says.
    show_site = any("site" in job for job in jobs)
    # Two tenants may name a project alike: where the list spans orgs (an operator's), name the org.
    show_org = len({job.get("org") for job in jobs}) > 1
    project = "ORG/PROJECT" if show_org else "PROJECT"
    headers = ("NAME", project, "STATE", *(("SITE",) if show_site else ()), "AGE", "EXIT")
    for header in headers:
        table.add_column(header, no_wrap=header in ("STATE", "AGE"), overflow="fold")
    for job in jobs:
        where = "/".join(str(p) for p in (job.get("site"), job.get("pool")) if p) or "-"
        ended = cell(job.get("exit_code")) if job.get("exit_code") is not None else cell(job.get("reason"))
        owner = f"{job.get('org') or '-'}/{job.get('project') or '-'}" if show_org else job.get("project")
        table.add_row(
            cell(job.get("id")),
            cell(job.get("name")),
            cell(owner),
            state_text(job.get("state")),
            *((escape(where),) if show_site else ()),
            age(job.get("created_at")),
            ended,
        )
    show(table if jobs else "[dim]no jobs[/dim]")


def print_job(job: dict[str, Any], events: Sequence[dict[str, Any]] = ()) -> None:
    """A job's details, its attempts, and its most recent events."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    attempts = [a for a in job.get("attempts") or [] if isinstance(a, dict)]
    rows = [
        ("id", cell(job.get("id"))),
        ("name", cell(job.get("name"))),
        ("org/project", escape(f"{job.get('org') or '-'}/{job.get('project') or '-'}")),
        ("state", state_text(job.get("state"))),
    ]
    if job.get("state") == "PENDING":
        rows += _pending_rows(job, attempts)
    else:
        rows += [
            ("reason", cell(job.get("reason"))),
            ("site/pool", escape(f"{job.get('site') or '-'}/{job.get('pool') or '-'}")),
        ]
    rows += [
        ("exit code", cell(job.get("exit_code"))),
        ("retries left", cell(job.get("retries_left"))),
        ("created", when(job.get("created_at"))),
        *((("started", when(job.get("started_at"))),) if job.get("state") != "PENDING" else ()),
        ("ended", when(job.get("ended_at"))),
    ]
    rows += [("charged", _charges(c)) for c in job.get("charges") or [] if isinstance(c, dict)]
    for key, value in rows:
        grid.add_row(key, value)
    show(grid)
    if attempts:
        table = Table(title="attempts", title_justify="left", box=None, pad_edge=False)
        for header in ("#", "SITE/POOL", "STATE", "STARTED", "ENDED", "EXIT", "REASON"):
            table.add_column(header, overflow="fold")
        for a in attempts:
            table.add_row(
                cell(a.get("number")),
                escape(f"{a.get('site') or '-'}/{a.get('pool') or '-'}"),
                state_text(a.get("state")),
                when(a.get("started_at")),
                when(a.get("ended_at")),
                cell(a.get("exit_code")),
                cell(a.get("reason")),
            )
        stdout.print()
        show(table)
    if events:
        stdout.print()
        print_events(events, title="recent events")


WAITING_SHOWN = 3  # pools' reasons `suanli job` lists for a waiting job; `suanli why` has them all


def _pending_rows(job: dict[str, Any], attempts: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """A waiting job's rows: why it waits (the last cycle's reasons, what holds it back first),
    and, once an attempt ended and the job was queued again, that attempt as the last one: the
    job's `site`/`pool` name where it ran, not where it runs."""
    rows = [("reason", cell(job.get("reason")))] if job.get("reason") else []
    waiting = [w for w in job.get("waiting") or [] if isinstance(w, dict)]
    # a gate (funds, quota; its `pool` is "(funds)") binds whatever the pools say: it comes first
    held = [w for w in waiting if str(w.get("pool", "")).startswith("(")]
    pools = [w for w in waiting if w not in held]
    lines = [str(w.get("reason", "")) for w in held]
    lines += [f"{w.get('pool')}: {w.get('reason', '')}" for w in pools[:WAITING_SHOWN]]
    if len(pools) > WAITING_SHOWN:
        lines.append(f"and {len(pools) - WAITING_SHOWN} more pools")
    if lines:
        lines.append(f"(more: suanli why {job.get('id')})")
        rows.append(("waiting", escape("\n".join(lines))))
    if attempts:
        last = attempts[-1]
        ended = f", ended {when(last.get('ended_at'))}" if last.get("ended_at") else ""
        said = (
            f"#{last.get('number', len(attempts))} on {last.get('site') or '-'}/{last.get('pool') or '-'}: "
        )
        rows.append(("last attempt", escape(said) + state_text(last.get("state")) + escape(ended)))
    return rows


def _charges(c: dict[str, Any]) -> str:
    """`12.34 CNY (vouchers 3.70, cash 8.64), net of 5.00 CNY refunded; 23.66 CNY more held`: what a
    job was charged so far, and what refunds gave back of it."""

    def some(key: str) -> str | None:  # the amount without its currency, None when nothing
        text = str(c.get(key) or "").split(" ")[0]
        return text if text.strip("0.") else None

    parts = [f"{k} {some(k)}" for k in ("vouchers", "cash", "arrears") if some(k)]
    out = str(c.get("charged") or "-") + (f" ({', '.join(parts)})" if parts else "")
    if some("refunded"):
        out += f", net of {c['refunded']} refunded"
    if some("held"):
        out += f"; {c['held']} more held"
    return escape(out)


def print_events(events: Sequence[dict[str, Any]], title: str | None = None) -> None:
    """A job's events, oldest first."""
    table = Table(title=title, title_justify="left", box=None, pad_edge=False)
    table.add_column("AT", no_wrap=True)
    table.add_column("KIND", no_wrap=True)
    table.add_column("MESSAGE", overflow="fold")
    for event in events:
        table.add_row(when(event.get("at")), cell(event.get("kind")), cell(event.get("message")))
    show(table if events else "[dim]no events[/dim]")


# Sites that take no work now: what their pools hold idle is not free to anyone.
_AWAY = frozenset({"offline", "stopped", "disabled"})


def _free(pool: dict[str, Any], site_state: Any = None) -> str:
    """What is free in a pool, e.g. `3/8 A100 · 40 cpu · 128 GiB · 1/2 nodes`; `- (stopped)` on a site
    that takes no work now, however idle its pools were when last heard of."""
    if site_state in _AWAY:
        return f"[dim]- ({escape(str(site_state))})[/dim]"
    free = pool.get("free") or {}
    parts = []
    if pool.get("accelerator"):
        per_node, nodes = pool.get("accelerators_per_node"), pool.get("nodes")
        total = f"/{per_node * nodes}" if isinstance(per_node, int) and isinstance(nodes, int) else ""
        parts.append(f"{free.get('accelerators', '?')}{total} {pool['accelerator']}")
    parts.append(f"{free.get('cpus', '?')} cpu")
    memory = free.get("memory_mib")
    parts.append(f"{memory / 1024:.0f} GiB" if isinstance(memory, int | float) else "? GiB")
    parts.append(f"{free.get('nodes_free', '?')}/{pool.get('nodes', '?')} nodes")
    return escape(" · ".join(parts))


def _size(pool: dict[str, Any]) -> str:
    """A pool's size, e.g. `2 nodes x 4 A100` or `1 node x 16 cpu`."""
    nodes = pool.get("nodes", "?")
    accel = pool.get("accelerator")
    per_node = (
        f"{pool.get('accelerators_per_node', '?')} {accel}"
        if accel
        else f"{pool.get('cpus_per_node', '?')} cpu"
    )
    size = f"{nodes} {'node' if nodes == 1 else 'nodes'} x {per_node}"
    limit = pool.get("max_runtime_s")
    return f"{size}, runs ≤ {format_duration(int(limit))}" if isinstance(limit, int) and limit > 0 else size


def print_sites(sites: Sequence[dict[str, Any]]) -> None:
    """One row per pool, grouped by site, with the capacity free right now."""
    table = Table(box=None, pad_edge=False)
    for header in ("SITE", "REGION", "STATE", "POOL", "SIZE", "FREE NOW", "PRICE/H"):
        table.add_column(header, no_wrap=header in ("SITE", "POOL", "STATE", "SIZE"), overflow="fold")
    for site in sites:
        pools = [p for p in site.get("pools") or [] if isinstance(p, dict)]
        head = (cell(site.get("name")), cell(site.get("region")), state_text(site.get("state")))
        if not pools:
            table.add_row(*head, "[dim]no pools[/dim]", "", "", "")
        for index, pool in enumerate(pools):
            row = head if index == 0 else ("", "", "")
            table.add_row(
                *row,
                cell(pool.get("name")),
                escape(_size(pool)),
                _free(pool, site.get("state")),
                cell(pool.get("price_per_hour")),
            )
    show(table if sites else "[dim]no sites[/dim]")


def print_site(site: dict[str, Any]) -> None:
    """One site: who runs it, where, when it was last heard from, and its pools."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for key, value in (
        ("name", cell(site.get("name"))),
        ("org", cell(site.get("org"))),
        ("region", cell(site.get("region"))),
        ("energy", f"PUE {cell(site.get('pue'))}, grid {cell(site.get('carbon_g_per_kwh'))} gCO2e/kWh"),
        ("bandwidth", _bandwidth(site.get("bandwidth_mbps"))),
        ("state", state_text(site.get("state"))),
        ("last seen", when(site.get("last_seen_at"))),
        *((("agent stopped", when(site.get("agent_stopped_at"))),) if site.get("agent_stopped_at") else ()),
    ):
        grid.add_row(key, value)
    show(grid)
    stdout.print()
    print_sites([site])


def _bandwidth(links: Any) -> str:
    """Mbit/s into a site by region, `*` (every other region) last: `cn-east 10000 Mbit/s, * 1000 Mbit/s`."""
    if not isinstance(links, dict) or not links:
        return "-"
    regions = sorted(links, key=lambda region: (region == "*", region))
    return escape(", ".join(f"{region} {links[region]} Mbit/s" for region in regions))


def print_records(records: Sequence[dict[str, Any]], columns: Sequence[str], empty: str) -> None:
    """A plain table of `columns` (those present in any record; every key if none is)."""
    present = [c for c in columns if any(c in r for r in records)]
    if not present and records:
        present = list(records[0])
    table = Table(box=None, pad_edge=False)
    for column in present:
        header = column.upper().replace("_AT", "").replace("_", " ")
        if column == "id":
            _id_column(table, header, (r.get(column) for r in records))
        else:
            table.add_column(header, no_wrap=column.endswith("_at"), overflow="fold")
    for record in records:
        # Dates only: these tables list long-lived things; --json has the full times.
        table.add_row(
            *(_day(r) if c.endswith("_at") else cell(r) for c, r in ((c, record.get(c)) for c in present))
        )
    show(table if records else f"[dim]{escape(empty)}[/dim]")
