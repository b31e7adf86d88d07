"""PNG plots of a comparison (needs the `sim` extra, matplotlib)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sim_builders import replay, trace_of

from suanli.sim import Trace
from suanli.sim.metrics import bounded_slowdown, summarize
from suanli.sim.plots import (
    FILES,
    MAX_TENANTS,
    PlotError,
    _name,
    colour,
    plot_runs,
    tail_marks,
    tenant_bars,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_a_small_comparison_renders_to_png_files(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    trace = trace_of((0, 10, 2, "x"), (0, 10, 4, "x"), (1, 5, 2, "y"), (2, 0.5, 1, "y"))
    runs = [replay(p, trace, 4) for p in ("fifo", "easy")]
    paths = plot_runs(trace, runs, tmp_path / "plots")
    assert [p.name for p in paths] == list(FILES)
    for path in paths:
        body = path.read_bytes()
        assert body.startswith(PNG_SIGNATURE)
        assert len(body) > 10_000  # axes, two series and a legend; an empty canvas is far smaller


def test_an_unwritable_folder_is_a_plot_error(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    trace = trace_of((0, 10, 1))
    with pytest.raises(PlotError, match="cannot create the plot folder"):
        plot_runs(trace, [replay("fifo", trace, 1)], blocker / "plots")


def test_the_tail_panel_marks_the_p99_the_tables_report() -> None:
    trace = trace_of(*((k * 60, 600 + 97 * k, 1 + k % 3, "xy"[k % 2]) for k in range(150)))
    runs = [replay(p, trace, 4) for p in ("fifo", "easy")]
    marks = tail_marks(trace, runs)
    assert [policy for policy, _ in marks] == ["fifo", "easy"]
    for (_, p99_h), run in zip(marks, runs, strict=True):
        assert p99_h == pytest.approx(summarize(trace, run).p99_jct_s / 3600)
    assert marks[0][1] != marks[1][1]  # two policies, two marks (the trace is busy enough to differ)


def test_plots_name_the_trace_file_not_the_folders_above_it() -> None:
    trace = replace(trace_of((0, 10, 1), (0, 5, 1)), source="/somewhere/deep/traces/philly.csv")
    assert _name(trace) == "traces/philly.csv"


def test_a_policy_keeps_its_colour_from_plot_to_plot_and_no_two_share_one() -> None:
    trace = trace_of((0, 10, 1), (0, 5, 1))
    runs = [replay(p, trace, 1) for p in ("fifo", "easy", "las", "suanli-las")]
    assert colour("suanli-las", runs) == colour("suanli-las", runs[::-1]) == colour("suanli-las", runs[3:])
    mine = [replace(runs[0], policy=name) for name in ("mine", "theirs")]
    everyone = [*runs, *mine]
    assert len({colour(r.policy, everyone) for r in everyone}) == len(everyone)


def test_both_plots_draw_each_policy_in_its_colour(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    import suanli.sim.plots as plots

    drawn: list[Any] = []
    monkeypatch.setattr(plots, "_save", lambda plt, fig, path: drawn.append(fig))
    trace = trace_of((0, 10, 1, "x"), (0, 5, 1, "y"))
    runs = [replay(p, trace, 1) for p in ("suanli-las", "fifo")]
    plot_runs(trace, runs, tmp_path)
    want = {r.policy: matplotlib.colors.to_hex(colour(r.policy, runs)) for r in runs}
    cdf, tenants = drawn
    lines = {ln.get_label(): matplotlib.colors.to_hex(ln.get_color()) for ln in cdf.axes[0].get_lines()}
    bars = {
        c.get_label(): matplotlib.colors.to_hex(c.patches[0].get_facecolor())
        for c in tenants.axes[0].containers
    }
    assert lines == want and bars == want


def many_tenants(count: int) -> Trace:
    """Two 1-GPU jobs per tenant, t0 … t<count-1>, arriving one a minute: on one GPU each waits longer
    than the one before, so every tenant's slowdown differs."""
    jobs = [(k * 60.0, 300.0 + 7 * k, 1, f"t{k % count}") for k in range(2 * count)]
    return trace_of(*jobs)


def test_with_many_tenants_the_slowdown_plot_shows_the_worst_and_the_rest_as_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    import suanli.sim.plots as plots

    drawn: list[Any] = []
    monkeypatch.setattr(plots, "_save", lambda plt, fig, path: drawn.append(fig))
    trace = many_tenants(60)
    plot_runs(trace, [replay(p, trace, 1) for p in ("fifo", "las")], tmp_path)
    ax = drawn[1].axes[0]
    labels = [label.get_text() for label in ax.get_xticklabels()]
    assert len(labels) == MAX_TENANTS + 1 and labels[-1] == "40 others"
    assert "the 20 worst off of 60 tenants" in ax.get_title()
    assert "the other 40 together" in ax.get_title()


@pytest.mark.parametrize(
    ("count", "groups"), [(3, 3), (MAX_TENANTS, MAX_TENANTS), (MAX_TENANTS + 1, MAX_TENANTS + 1)]
)
def test_up_to_the_cap_every_tenant_has_its_own_bars_by_name(count: int, groups: int) -> None:
    trace = many_tenants(count)
    bars = tenant_bars(trace, [replay("fifo", trace, 1)])
    assert bars.labels == tuple(sorted(f"t{k}" for k in range(count))) and len(bars.labels) == groups
    assert bars.others == 0 and bars.shown == f"all {count} tenants"


def test_past_the_cap_the_worst_come_first_and_the_rest_is_the_mean_over_their_jobs() -> None:
    trace = many_tenants(30)
    runs = [replay(p, trace, 1) for p in ("fifo", "las")]
    bars = tenant_bars(trace, runs, most=5)
    per_job = {
        run.policy: [
            bounded_slowdown(o.finish - j.submit, j.duration)
            for j, o in zip(trace.jobs, run.outcomes, strict=True)
        ]
        for run in runs
    }

    def mean(policy: str, tenants: set[str]) -> float:
        mine = [f for j, f in zip(trace.jobs, per_job[policy], strict=True) if j.tenant in tenants]
        return sum(mine) / len(mine)

    worst = sorted({j.tenant for j in trace.jobs}, key=lambda t: (-max(mean(p, {t}) for p in per_job), t))[:5]
    assert bars.labels == (*worst, "25 others") and bars.others == 25
    rest = {j.tenant for j in trace.jobs} - set(worst)
    for policy in per_job:
        assert bars.heights[policy] == pytest.approx(
            (*(mean(policy, {t}) for t in worst), mean(policy, rest))
        )
