"""How results look: the comparison table (times in hours, as the reference table) and JSON.

The simulator stays free of terminal code: `table` returns the header and rows as text, and the CLI and
the benchmark lay them out (Rich, Markdown).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from suanli.sim.metrics import Summary

__all__ = ["HEADER", "as_json", "markdown", "row", "table"]

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
_HOUR = 3600.0


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


def table(summaries: Sequence[Summary], wall: bool = True) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """The header and one row per summary; `wall` adds the run's wall time in seconds."""
    header = (*HEADER, "wall s") if wall else HEADER
    rows = [(*row(s), f"{s.wall_s:.1f}") if wall else row(s) for s in summaries]
    return header, rows


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def as_json(trace: str, summaries: Sequence[Summary]) -> dict[str, Any]:
    """The runs as one JSON object: times in seconds, one entry per policy in run order."""
    return {"trace": trace, "runs": [s.to_json() for s in summaries]}
