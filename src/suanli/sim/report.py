"""How results look: the comparison table (times in hours, as the reference table) and JSON.

The simulator stays free of terminal code: `table` returns the header and rows as text, and the CLI and
the benchmark lay them out (Rich, Markdown).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from suanli.domain.money import EXPONENT
from suanli.sim.metrics import Summary

__all__ = ["HEADER", "MORE", "as_json", "markdown", "more", "row", "table"]

HEADER = (
    "policy",
    "avg JCT",
    "p50 JCT",
    "p99 JCT",
    "avg wait",
    "p99 wait",
    "avg bsld",
    "makespan",
    "util",
    "Jain",
    "preemptions",
)
MORE = ("FTF max", "cost", "kWh", "CO2 t", "pass ms p99", "lost GPU-h")
"""Columns beyond the reference table's: finish-time fairness, cost, energy, carbon, scheduler time."""
_HOUR = 3600.0
_NONE = "–"


def row(s: Summary) -> tuple[str, ...]:
    """One summary as the reference table writes it: hours to 2 places, makespan to 1."""
    hours = (s.avg_jct_s, s.p50_jct_s, s.p99_jct_s, s.avg_wait_s, s.p99_wait_s)
    return (
        s.policy,
        *(f"{h / _HOUR:.2f}" for h in hours),
        f"{s.avg_bsld:.2f}",
        f"{s.makespan_s / _HOUR:.1f}",
        f"{s.utilisation:.3f}",
        f"{s.jain:.3f}",
        f"{s.preemptions:,}" if s.preemptions else "–",
    )


def more(s: Summary) -> tuple[str, ...]:
    """The `MORE` columns: max tenant ρ, total cost, kWh, tonnes of CO2, p99 ms per pass, GPU-hours lost
    to preemptions (work redone, restarts)."""
    cost = _NONE
    if s.cost_minor is not None and s.currency is not None:
        cost = f"{Decimal(s.cost_minor).scaleb(-EXPONENT[s.currency]):,} {s.currency}"
    return (
        f"{s.ftf_max:.2f}",
        cost,
        _NONE if s.energy_kwh is None else f"{s.energy_kwh:,.0f}",
        _NONE if s.carbon_kg is None else f"{s.carbon_kg / 1000:,.1f}",
        f"{s.pass_p99_s * 1000:.2f}",
        f"{s.lost_gpu_s / _HOUR:,.0f}",
    )


def table(
    summaries: Sequence[Summary], wall: bool = True, extra: bool = True
) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """The header and one row per summary: the reference columns, then (`extra`) the `MORE` ones,
    then (`wall`) the run's wall time in seconds."""
    header = (*HEADER, *(MORE if extra else ()), *(("wall s",) if wall else ()))
    rows = [
        (*row(s), *(more(s) if extra else ()), *((f"{s.wall_s:.1f}",) if wall else ())) for s in summaries
    ]
    return header, rows


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def as_json(trace: str, summaries: Sequence[Summary]) -> dict[str, Any]:
    """The runs as one JSON object: times in seconds, money in minor units of `currency`, one entry
    per policy in run order."""
    return {"trace": trace, "runs": [s.to_json() for s in summaries]}
