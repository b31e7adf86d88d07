"""PNG plots of a comparison: the JCT CDF per policy (log x) and each tenant's mean bounded slowdown.

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
from suanli.sim.metrics import bounded_slowdown
from suanli.sim.trace import Trace

__all__ = ["FILES", "PlotError", "plot_runs"]

FILES = ("jct-cdf.png", "tenant-bsld.png")
INSTALL_HINT = "pip install 'suanli[sim]' (or pip install 'matplotlib>=3.8')"
_JCT_FLOOR_H = 1 / 3600  # a log axis has no zero: a JCT under 1 s is drawn at 1 s


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


def _jct_cdf(plt: Any, trace: Trace, runs: Sequence[Run], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 5))
    for run in runs:
        hours = sorted(
            max((o.finish - j.submit) / 3600, _JCT_FLOOR_H)
            for j, o in zip(trace.jobs, run.outcomes, strict=True)
        )
        n = len(hours)
        ax.step(hours, [(k + 1) / n for k in range(n)], where="post", label=run.policy)
    ax.set_xscale("log")
    ax.set_xlabel("job completion time (hours, log scale)")
    ax.set_ylabel("fraction of jobs")
    ax.set_ylim(0, 1)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title(f"JCT CDF: {len(trace):,} jobs of {trace.source}")
    _save(plt, fig, path)


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
        ax.bar(xs, [sums[t] / counts[t] for t in tenants], width, label=run.policy)
    ax.set_xticks([t + 0.4 - width / 2 for t in range(len(tenants))])
    ax.set_xticklabels(tenants, rotation=45, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("mean bounded slowdown (log scale)")
    ax.set_xlabel("tenant")
    ax.legend()
    ax.set_title("bounded slowdown per tenant")
    _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: Path) -> None:
    try:
        fig.tight_layout()
        fig.savefig(path, format="png", dpi=100)
    except OSError as exc:
        raise PlotError(f"cannot write {path}: {exc}") from exc
    finally:
        plt.close(fig)
