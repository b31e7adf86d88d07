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
    "items_of",
    "print_events",
    "print_job",
    "print_jobs",
    "print_json",
    "print_quote",
    "print_records",
    "print_site",
    "print_sites",
    "print_why",
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


def _show(renderable: RenderableType | str) -> None:
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


def _cell(value: Any) -> str:
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
        ended = _cell(job.get("exit_code")) if job.get("exit_code") is not None else _cell(job.get("reason"))
        owner = f"{job.get('org') or '-'}/{job.get('project') or '-'}" if show_org else job.get("project")
        table.add_row(
            _cell(job.get("id")),
            _cell(job.get("name")),
            _cell(owner),
            state_text(job.get("state")),
            *((escape(where),) if show_site else ()),
            age(job.get("created_at")),
            ended,
        )
    _show(table if jobs else "[dim]no jobs[/dim]")


def print_job(job: dict[str, Any], events: Sequence[dict[str, Any]] = ()) -> None:
    """A job's details, its attempts, and its most recent events."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    attempts = [a for a in job.get("attempts") or [] if isinstance(a, dict)]
    rows = [
        ("id", _cell(job.get("id"))),
        ("name", _cell(job.get("name"))),
        ("org/project", escape(f"{job.get('org') or '-'}/{job.get('project') or '-'}")),
        ("state", state_text(job.get("state"))),
    ]
    if job.get("state") == "PENDING":
        rows += _pending_rows(job, attempts)
    else:
        rows += [
            ("reason", _cell(job.get("reason"))),
            ("site/pool", escape(f"{job.get('site') or '-'}/{job.get('pool') or '-'}")),
        ]
    rows += [
        ("exit code", _cell(job.get("exit_code"))),
        ("retries left", _cell(job.get("retries_left"))),
        ("created", when(job.get("created_at"))),
        *((("started", when(job.get("started_at"))),) if job.get("state") != "PENDING" else ()),
        ("ended", when(job.get("ended_at"))),
    ]
    rows += [("charged", _charges(c)) for c in job.get("charges") or [] if isinstance(c, dict)]
    for key, value in rows:
        grid.add_row(key, value)
    _show(grid)
    if attempts:
        table = Table(title="attempts", title_justify="left", box=None, pad_edge=False)
        for header in ("#", "SITE/POOL", "STATE", "STARTED", "ENDED", "EXIT", "REASON"):
            table.add_column(header, overflow="fold")
        for a in attempts:
            table.add_row(
                _cell(a.get("number")),
                escape(f"{a.get('site') or '-'}/{a.get('pool') or '-'}"),
                state_text(a.get("state")),
                when(a.get("started_at")),
                when(a.get("ended_at")),
                _cell(a.get("exit_code")),
                _cell(a.get("reason")),
            )
        stdout.print()
        _show(table)
    if events:
        stdout.print()
        print_events(events, title="recent events")


WAITING_SHOWN = 3  # pools' reasons `suanli job` lists for a waiting job; `suanli why` has them all


def _pending_rows(job: dict[str, Any], attempts: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """A waiting job's rows: why it waits (the last cycle's reasons, what holds it back first),
    and, once an attempt ended and the job was queued again, that attempt as the last one: the
    job's `site`/`pool` name where it ran, not where it runs."""
    rows = [("reason", _cell(job.get("reason")))] if job.get("reason") else []
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
        table.add_row(when(event.get("at")), _cell(event.get("kind")), _cell(event.get("message")))
    _show(table if events else "[dim]no events[/dim]")


def _free(pool: dict[str, Any]) -> str:
    """What is free in a pool, e.g. `3/8 A100 · 40 cpu · 128 GiB · 1/2 nodes`."""
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
        head = (_cell(site.get("name")), _cell(site.get("region")), state_text(site.get("state")))
        if not pools:
            table.add_row(*head, "[dim]no pools[/dim]", "", "", "")
        for index, pool in enumerate(pools):
            row = head if index == 0 else ("", "", "")
            table.add_row(
                *row,
                _cell(pool.get("name")),
                escape(_size(pool)),
                _free(pool),
                _cell(pool.get("price_per_hour")),
            )
    _show(table if sites else "[dim]no sites[/dim]")


def print_site(site: dict[str, Any]) -> None:
    """One site: who runs it, where, when it was last heard from, and its pools."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for key, value in (
        ("name", _cell(site.get("name"))),
        ("org", _cell(site.get("org"))),
        ("region", _cell(site.get("region"))),
        ("energy", f"PUE {_cell(site.get('pue'))}, grid {_cell(site.get('carbon_g_per_kwh'))} gCO2e/kWh"),
        ("bandwidth", _bandwidth(site.get("bandwidth_mbps"))),
        ("state", state_text(site.get("state"))),
        ("last seen", when(site.get("last_seen_at"))),
        *((("agent stopped", when(site.get("agent_stopped_at"))),) if site.get("agent_stopped_at") else ()),
    ):
        grid.add_row(key, value)
    _show(grid)
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
            *(_day(r) if c.endswith("_at") else _cell(r) for c, r in ((c, record.get(c)) for c in present))
        )
    _show(table if records else f"[dim]{escape(empty)}[/dim]")


def print_why(why: dict[str, Any]) -> None:
    """`suanli why`: where the job went and why, or every pool's reason for not taking it now."""
    state = str(why.get("state", ""))
    job_id = escape(str(why.get("id", "")))
    if state != "PENDING":
        where = (
            f" on {escape(str(why.get('site')))}/{escape(str(why.get('pool')))}" if why.get("site") else ""
        )
        stdout.print(f"{job_id} is {state_text(state)}{where}; it is not waiting.")
        for message in why.get("placements") or []:
            stdout.print(f"  {escape(str(message))}")
        _print_preempted(job_id, why)
        return
    # What binds first: a gate (funds, quota) or capacity reserved for another job holds the job
    # back however the queue ranks it, so it heads the answer with what would clear it.
    for block in why.get("blocked") or []:
        _print_held_back(job_id, block)
    if why.get("queue"):
        stdout.print(f"{job_id} in the queue: {escape(str(why['queue']))}.")
    _print_preempted(job_id, why)
    reservation = why.get("reservation")
    if reservation:
        when = (
            f"from {escape(str(reservation['starts_at']))}"
            if reservation.get("starts_at")
            else "once the running jobs there end (their length is not known)"
        )
        if reservation.get("claim") and not reservation.get("starts_at"):
            when = "as the jobs in its way there pass their checkpoints (a claim: held for it from cycle to cycle)"
        stdout.print(f"{job_id} holds a reservation on {escape(str(reservation['pool']))} {when}.")
        if reservation.get("preempting"):
            stdout.print(f"  {reservation['preempting']} preemptible job(s) there are being stopped for it.")
    candidates = why.get("candidates") or []
    if not candidates:
        stdout.print(f"{job_id} is waiting: no site offers any pool yet.")
        return
    fits = [c for c in candidates if c.get("fits")]
    if fits and why.get("blocked"):
        stdout.print(f"{escape(str(fits[0]['pool']))} would take it now, once what holds it back is cleared.")
    elif fits:
        stdout.print(
            f"{job_id} is waiting, but {escape(str(fits[0]['pool']))} fits now: the next cycle places it."
        )
    else:
        stdout.print(f"{job_id} is waiting: no pool takes it now.")
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header in ("POOL", "VERDICT", "REASON", "SCORE"):
        table.add_column(header)
    labels = {
        "ok": "[green]fits[/green]",
        "unschedulable": "[yellow]not now[/yellow]",
        "unresolvable": "[red]never[/red]",
    }
    for c in candidates:
        score = "" if c.get("score") is None else f"{float(c['score']):.0f}"
        table.add_row(
            escape(str(c["pool"])),
            labels.get(str(c["code"]), str(c["code"])),
            escape(str(c["reason"])),
            score,
        )
    _show(table)
    for pool in why.get("holding") or []:
        _print_holders(pool)


HOLDERS_SHOWN = 5


def _print_holders(pool: dict[str, Any]) -> None:
    """What runs on a pool a waiting job does not fit now (`suanli why`), longest-running first."""
    attempts = [a for a in pool.get("attempts") or [] if isinstance(a, dict)]
    if not attempts:
        return
    n = len(attempts)
    stdout.print(f"{escape(str(pool['pool']))} is held by {n} running job{'s' if n != 1 else ''}:")
    for a in attempts[:HOLDERS_SHOWN]:
        who = f"{a['name']} ({a['job']}, {a['org']})" if a.get("job") else f"a job of {a['org']}"
        size = (
            f"{a['accelerators']} accelerator{'s' if a['accelerators'] != 1 else ''}, "
            if a.get("accelerators")
            else ""
        )
        size += f"{a['cpus']} CPU{'s' if a.get('cpus') != 1 else ''}"
        ends = f"ends by {when(a['ends_by'])}" if a.get("ends_by") else "no max_runtime, so no known end"
        if a.get("stopping"):
            stop = "being stopped"
        elif a.get("preemptible"):
            stop = "preemptible"
        else:
            stop = "not preemptible: runs to its end"
        stdout.print(
            f"  {escape(who)}: {escape(size)}, running {age(a.get('started_at'))}, {escape(ends)}; {stop}"
        )
    if n > HOLDERS_SHOWN:
        stdout.print(f"  and {n - HOLDERS_SHOWN} more")


# What clears a gate's refusal (`blocked[].pool` names the gate: the scheduler's `GATES`)
_CLEARS = {
    # a submitted job's max_runtime cannot change: a smaller hold means a new job
    "(funds)": "it starts once its project's available funds cover the hold: a top-up or a higher "
    "credit limit (operators: suanli topup, suanli credit-limit set), or cancel it and resubmit "
    "with a shorter max_runtime, for a smaller hold",
    "(quota)": "it starts once its org's running jobs free enough of its quota, or an operator raises "
    "the limit (suanli org quota)",
}


def _print_held_back(job_id: str, block: dict[str, Any]) -> None:
    """One thing that holds a waiting job back (`suanli why`), and what clears it where that is known."""
    reason = escape(str(block.get("reason", ""))).rstrip(".")
    clears = _CLEARS.get(str(block.get("pool")))
    stdout.print(f"{job_id} is held back: {reason}" + (f"; {clears}." if clears else ""))


def _print_preempted(job_id: str, why: dict[str, Any]) -> None:
    """How often the job was stopped for others, and the last time why (`suanli why`)."""
    times = int(why.get("preemptions") or 0)
    if not times:
        return
    said = f"{job_id} was preempted {times} time{'s' if times != 1 else ''}, each time queued again with its retries untouched"
    last = why.get("last_preemption")
    if last:
        said += f"; the last at {escape(str(last['at']))}: {escape(str(last['message']))}"
    stdout.print(f"{said}.")


def print_quote(quote: dict[str, Any]) -> None:
    """`suanli quote`: pools that fit, best first, with price, energy and carbon; then why not the rest."""
    rows = quote.get("candidates") or []
    hours = quote.get("expected_hours")
    basis = (
        "the default hold: no max_runtime given"
        if quote.get("expected_hours_from") == "default_hold"
        else "max_runtime"
    )
    stdout.print(
        f"objective {escape(str(quote.get('objective')))}, priced for {escape(str(hours))} h ({basis})"
    )
    ahead, projected = quote.get("queue_ahead"), quote.get("queue_projected")
    if ahead:
        counted = "" if projected == ahead else f" (the first {projected} counted)"
        stdout.print(
            f"START counts the {ahead} job(s) waiting ahead{counted}, each running to its max_runtime"
        )
    if not rows:
        stdout.print("no site offers any pool yet")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header in ("POOL", "START", "PRICE/H", "COST", "ENERGY kWh", "CO2 kg", "SCORE", "WHY NOT"):
        table.add_column(header)
    for r in rows:
        score = "" if r.get("score") is None else f"{float(r['score']):.0f}"
        never = r.get("code") == "unresolvable"  # it could never run there: its price is not the job's
        table.add_row(
            escape(str(r["pool"])),
            "now" if r.get("expected_start") == "now" else when(r.get("expected_start")),
            "-" if never else _cell(r.get("price_per_hour")),
            "-" if never else _cell(r.get("expected_cost")),
            "-" if never else _cell(r.get("energy_kwh")),
            "-" if never else _cell(r.get("carbon_kg")),
            score,
            "" if r.get("fits") else escape(str(r.get("reason", ""))),
        )
    _show(table)
    if any(r.get("score") is not None for r in rows):
        stdout.print(
            f"SCORE: how well a pool suits objective {escape(str(quote.get('objective')))} "
            "(price, carbon, speed, data locality, fit; higher is better): at its turn the job is "
            "placed on the highest-scoring pool with room."
        )
