"""Where a job could or does run, for people: `suanli why` (why it waits, or where it went) and `suanli quote`."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from suanli.cli.context import stdout
from suanli.cli.render import age, cell, show, state_text, when

__all__ = ["print_quote", "print_why"]


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
    show(table)
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
    "(budget)": "it starts once its hold fits in what the project's hard-capped budget leaves this "
    "month: finance raises the budget (suanli budget set) or lifts the cap, running jobs end below "
    "their holds, or a new month begins",
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
            "never"
            if never
            else "now"
            if r.get("expected_start") == "now"
            else when(r.get("expected_start")),
            "-" if never else cell(r.get("price_per_hour")),
            "-" if never else cell(r.get("expected_cost")),
            "-" if never else cell(r.get("energy_kwh")),
            "-" if never else cell(r.get("carbon_kg")),
            score,
            "" if r.get("fits") else escape(str(r.get("reason", ""))),
        )
    show(table)
    if any(r.get("score") is not None for r in rows):
        stdout.print(
            f"SCORE: how well a pool suits objective {escape(str(quote.get('objective')))} "
            "(price, carbon, speed, data locality, fit; higher is better): at its turn the job is "
            "placed on the highest-scoring pool with room."
        )
