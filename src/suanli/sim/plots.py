"""PNG plots of a comparison: the JCT CDF per policy (log x, beside its slowest 5% on a linear axis
with each policy's p99 marked) and each tenant's mean bounded slowdown.

matplotlib is an optional extra (`pip install 'suanli[sim]'`), imported only when a plot is drawn and
always with the Agg backend (files, no display). Without it `plot_runs` raises `PlotError`, which says
how to install it.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from suanli.sim.engine import Run
from suanli.sim.errors import SimError
from suanli.sim.metrics import bounded_slowdown, percentile
from suanli.sim.trace import Trace

__all__ = ["FILES", "TAIL_FROM", "PlotError", "colour", "jct_hours", "plot_runs", "tail_marks"]

FILES = ("jct-cdf.png", "tenant-bsld.png")
INSTALL_HINT = "pip install 'suanli[sim]' (or pip install 'matplotlib>=3.8')"
_JCT_FLOOR_H = 1 / 3600  # a log axis has no zero: a JCT under 1 s is drawn at 1 s
TAIL_FROM = 0.95  # the tail panel shows the CDF from here to 1
# One colour per policy in every plot (matplotlib's tab10), so figures side by side read alike;
# another policy takes the next colour left
_COLOURS = {
    name: f"C{k}"
    for k, name in enumerate(
        ("easy", "las", "las2", "suanli-las", "fifo", "sjf", "las-ckpt", "suanli", "suanli-service")
    )
}


class PlotError(SimError):
    """Plots cannot be drawn here: matplotlib is missing, or the folder cannot be written."""


def plot_runs(trace: Trace, runs: Sequence[Run], out_dir: Path) -> list[Path]:
    """Write `FILES` into `out_dir` (created if missing) for `runs`, replays of `trace`; return their paths."""
    plt = _pyplot()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PlotError(f"cannot create the plot folder {out_dir}: {exc}") from exc
    paths = [out_dir / name for name in FILES]
    _jct_cdf(plt, trace, runs, paths[0])
    _tenant_slowdown(plt, trace, runs, paths[1])
    return paths


def _pyplot() -> Any:
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError as exc:
        raise PlotError(f"plots need matplotlib, which is not installed: {INSTALL_HINT}") from exc
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def jct_hours(trace: Trace, run: Run) -> list[float]:
    """The run's job completion times in hours, in the trace's order."""
    return [(o.finish - j.submit) / 3600 for j, o in zip(trace.jobs, run.outcomes, strict=True)]


def tail_marks(trace: Trace, runs: Sequence[Run]) -> list[tuple[str, float]]:
    """(policy, p99 JCT in hours) per run: what the tail panel marks, the figure the tables report."""
    return [(run.policy, percentile(jct_hours(trace, run), 99)) for run in runs]


def _jct_cdf(plt: Any, trace: Trace, runs: Sequence[Run], path: Path) -> None:
    """Two panels: the whole CDF on a log axis (where LAS's short jobs win), and its top
    `TAIL_FROM`..1 on a linear one with each policy's p99 marked (where EASY's long jobs do)."""
    fig, (whole, tail) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [3, 2]})
    marks = dict(tail_marks(trace, runs))
    for run in runs:
        hours = sorted(jct_hours(trace, run))
        n = len(hours)
        fractions = [(k + 1) / n for k in range(n)]
        (line,) = whole.step(
            [max(h, _JCT_FLOOR_H) for h in hours],
            fractions,
            where="post",
            label=run.policy,
            color=colour(run.policy, runs),
        )
        first = max(0, int(n * TAIL_FROM) - 1)
        tail.step(hours[first:], fractions[first:], where="post", color=line.get_color())
        tail.plot([marks[run.policy]], [0.99], "o", color=line.get_color(),
                  label=f"{run.policy}: p99 {marks[run.policy]:,.2f} h")  # fmt: skip
    whole.set_xscale("log")
    whole.set_xlabel("job completion time (hours, log scale)")
    whole.set_ylabel("fraction of jobs")
    whole.set_ylim(0, 1)
    whole.grid(True, which="both", alpha=0.3)
    whole.legend()
    whole.set_title(f"JCT CDF: {len(trace):,} jobs of {_name(trace)}")
    tail.axhline(0.99, linestyle=":", color="grey", linewidth=1)
    tail.set_ylim(TAIL_FROM, 1.0005)
    tail.set_xlabel("job completion time (hours)")
    tail.grid(True, alpha=0.3)
    tail.legend(loc="lower right", fontsize="small")
    tail.set_title(f"the slowest {100 * (1 - TAIL_FROM):.0f}% of jobs, p99 marked")
    _save(plt, fig, path)


def colour(policy: str, runs: Sequence[Run]) -> str:
    """The policy's colour: its own if it has one (`_COLOURS`), else one no policy of `runs` has."""
    if policy in _COLOURS:
        return _COLOURS[policy]
    taken = {_COLOURS[r.policy] for r in runs if r.policy in _COLOURS}
    spare = [c for c in (f"C{k}" for k in range(10)) if c not in taken] or ["C9"]
    others = [r.policy for r in runs if r.policy not in _COLOURS]
    return spare[others.index(policy) % len(spare)]


def _name(trace: Trace) -> str:
    """The trace's file and its folder (`sia-philly/philly.csv`), not where this machine keeps it."""
    source = Path(trace.source)
    return f"{source.parent.name}/{source.name}" if source.parent.name else source.name


def _tenant_slowdown(plt: Any, trace: Trace, runs: Sequence[Run], path: Path) -> None:
    tenants = sorted({j.tenant for j in trace.jobs})
    fig, ax = plt.subplots(figsize=(max(8, len(tenants) * 0.6), 5))
    width = 0.8 / max(len(runs), 1)
    for k, run in enumerate(runs):
        sums = dict.fromkeys(tenants, 0.0)
        counts = dict.fromkeys(tenants, 0)
        for j, o in zip(trace.jobs, run.outcomes, strict=True):
            sums[j.tenant] += bounded_slowdown(o.finish - j.submit, j.duration)
            counts[j.tenant] += 1
        xs = [t + k * width for t in range(len(tenants))]
        ax.bar(
            xs,
            [sums[t] / counts[t] for t in tenants],
            width,
            label=run.policy,
            color=colour(run.policy, runs),
        )
    ax.set_xticks([t + 0.4 - width / 2 for t in range(len(tenants))])
    ax.set_xticklabels(tenants, rotation=45, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("mean bounded slowdown (log scale)")
    ax.set_xlabel("tenant")
    ax.legend()
    ax.set_title(f"bounded slowdown per tenant: {_name(trace)}")
    _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: Path) -> None:
    try:
        fig.tight_layout()
        fig.savefig(path, format="png", dpi=100)
    except OSError as exc:
        raise PlotError(f"cannot write {path}: {exc}") from exc
    finally:
        plt.close(fig)
