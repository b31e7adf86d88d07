"""PNG plots of a comparison: the JCT CDF per policy (log x, beside its slowest 5% on a linear axis
with each policy's p99 marked) and each tenant's mean bounded slowdown (beyond `MAX_TENANTS` tenants, the
worst off and the rest as one group, so the plot stays readable at any tenant count).

matplotlib is an optional extra (`pip install 'suanli[sim]'`), imported only when a plot is drawn and
always with the Agg backend (files, no display). Without it `plot_runs` raises `PlotError`, which says
how to install it.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suanli.sim.engine import Run
from suanli.sim.errors import SimError
from suanli.sim.metrics import bounded_slowdown, percentile
from suanli.sim.trace import Trace

__all__ = [
    "FILES",
    "MAX_TENANTS",
    "TAIL_FROM",
    "PlotError",
    "TenantBars",
    "colour",
    "jct_hours",
    "plot_runs",
    "tail_marks",
    "tenant_bars",
]

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


MAX_TENANTS = 20
"""Beyond this many tenants the slowdown plot shows the worst this many and one bar for the rest."""


@dataclass(frozen=True)
class TenantBars:
    """What the per-tenant slowdown plot draws: a label per group of bars, each policy's mean bounded
    slowdown per label (`heights`), and `shown`, what the title says the groups are."""

    labels: tuple[str, ...]
    heights: dict[str, tuple[float, ...]]
    shown: str
    others: int = 0  # tenants folded into the last group; 0: every tenant has its own


def tenant_bars(trace: Trace, runs: Sequence[Run], most: int = MAX_TENANTS) -> TenantBars:
    """Every tenant by name when there are at most `most` (or one more: a bar of one "other" says
    nothing a bar of its own would not); else the `most` worst off, worst first (ranked by their highest
    mean bounded slowdown under any of `runs`), then one group for the rest: the mean over all their
    jobs."""
    slowdowns = [
        [
            bounded_slowdown(o.finish - j.submit, j.duration)
            for j, o in zip(trace.jobs, run.outcomes, strict=True)
        ]
        for run in runs
    ]
    tenants = sorted({j.tenant for j in trace.jobs})
    means = [_mean_by(trace, figures, tenants) for figures in slowdowns]
    if len(tenants) <= most + 1:
        heights = {run.policy: tuple(m[t] for t in tenants) for run, m in zip(runs, means, strict=True)}
        return TenantBars(tuple(tenants), heights, f"all {_count(len(tenants), 'tenant')}")
    worst = sorted(tenants, key=lambda t: (-max(m[t] for m in means), t))[:most]
    kept = set(worst)
    rest = len(tenants) - most
    heights = {}
    for run, m, figures in zip(runs, means, slowdowns, strict=True):
        theirs = [f for j, f in zip(trace.jobs, figures, strict=True) if j.tenant not in kept]
        heights[run.policy] = (*(m[t] for t in worst), sum(theirs) / len(theirs))
    shown = (
        f"the {most} worst off of {len(tenants):,} tenants (by their highest under any policy), "
        f"then the other {rest:,} together (the mean over their jobs)"
    )
    return TenantBars((*worst, f"{rest:,} others"), heights, shown, rest)


def _mean_by(trace: Trace, figures: Sequence[float], tenants: Sequence[str]) -> dict[str, float]:
    """Each tenant's mean of `figures` (one per job of `trace`)."""
    sums = dict.fromkeys(tenants, 0.0)
    counts = dict.fromkeys(tenants, 0)
    for j, figure in zip(trace.jobs, figures, strict=True):
        sums[j.tenant] += figure
        counts[j.tenant] += 1
    return {t: sums[t] / counts[t] for t in tenants}


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _tenant_slowdown(plt: Any, trace: Trace, runs: Sequence[Run], path: Path) -> None:
    """Grouped bars, a group per tenant (`tenant_bars`: at most `MAX_TENANTS` and the rest as one
    hatched group), a bar per policy, on a log axis."""
    bars = tenant_bars(trace, runs)
    groups = len(bars.labels)
    fig, ax = plt.subplots(figsize=(max(8, groups * 0.6), 5))
    width = 0.8 / max(len(runs), 1)
    for k, run in enumerate(runs):
        drawn = ax.bar(
            [t + k * width for t in range(groups)],
            bars.heights[run.policy],
            width,
            label=run.policy,
            color=colour(run.policy, runs),
        )
        if bars.others:
            drawn.patches[-1].set_hatch("//")
    ax.set_xticks([t + 0.4 - width / 2 for t in range(groups)])
    ax.set_xticklabels(bars.labels, rotation=45, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("mean bounded slowdown (log scale)")
    ax.set_xlabel("tenant")
    ax.legend()
    ax.set_title(f"mean bounded slowdown per tenant: {_name(trace)}\n{bars.shown}", fontsize="medium")
    _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: Path) -> None:
    try:
        fig.tight_layout()
        fig.savefig(path, format="png", dpi=100)
    except OSError as exc:
        raise PlotError(f"cannot write {path}: {exc}") from exc
    finally:
        plt.close(fig)
