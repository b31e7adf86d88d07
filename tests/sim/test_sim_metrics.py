"""Metric definitions: percentiles, bounded slowdown, Jain's index, and a run summarised by hand."""

from __future__ import annotations

import pytest
from sim_builders import replay, trace_of

from suanli.sim import bounded_slowdown, jain_index, percentile, summarize
from suanli.sim.report import as_json, table


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([4, 1, 3, 2], 0, 1),
        ([4, 1, 3, 2], 100, 4),
        ([4, 1, 3, 2], 50, 2.5),  # halfway between the 2nd and 3rd
        ([4, 1, 3, 2], 99, 3.97),  # position 2.97: 3 + 0.97 × (4 − 3)
        ([10, 20], 25, 12.5),
        ([7], 99, 7),
    ],
)
def test_percentile_interpolates_linearly_between_closest_ranks(
    values: list[float], q: float, expected: float
) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_refuses_nothing_and_out_of_range() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1], 101)


@pytest.mark.parametrize(
    ("jct", "duration", "expected"),
    [
        (100, 50, 2),
        (100, 5, 10),  # a 5 s job counts as 10 s long
        (5, 1, 1),  # never below 1
        (30, 30, 1),
    ],
)
def test_bounded_slowdown(jct: float, duration: float, expected: float) -> None:
    assert bounded_slowdown(jct, duration) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [([2, 2, 2], 1), ([1, 0, 0, 0], 0.25), ([1, 3], 0.8), ([0, 0], 1)],
)
def test_jain_index(values: list[float], expected: float) -> None:
    assert jain_index(values) == pytest.approx(expected)


def test_summary_of_a_fifo_run_worked_by_hand() -> None:
    # 4 GPUs. A (tenant x) runs 0–10; B (x) waits for A, runs 10–20; C (y, 5 s) waits for B, 20–25.
    trace = trace_of((0, 10, 2, "x"), (0, 10, 4, "x"), (1, 5, 2, "y"))
    s = summarize(trace, replay("fifo", trace, 4))
    assert s.avg_jct_s == pytest.approx(54 / 3)
    assert s.p50_jct_s == 20
    assert s.avg_wait_s == pytest.approx(29 / 3)
    assert s.p99_wait_s == pytest.approx(10 + 0.98 * 9)
    # Slowdowns: A 10/10 = 1, B 20/10 = 2, C 24/max(5, 10) = 2.4. Tenants: x mean 1.5, y 2.4.
    assert s.avg_bsld == pytest.approx(5.4 / 3)
    assert s.jain == pytest.approx(3.9**2 / (2 * (1.5**2 + 2.4**2)))
    assert s.makespan_s == 25
    assert s.utilisation == pytest.approx((20 + 40 + 10) / (4 * 25))
    assert s.preemptions == 0


def test_table_in_hours_and_json_in_seconds() -> None:
    trace = trace_of((0, 7200, 1), (0, 3600, 1))
    s = summarize(trace, replay("fifo", trace, 1))
    header, rows = table([s], wall=False)
    assert header[:4] == ("policy", "avg JCT", "p50 JCT", "p99 JCT")
    assert rows == [("fifo", "2.50", "2.50", "2.99", "1.00", "1.98", "2.00", "3.0", "1.000", "1.000", "–")]
    body = as_json("t.csv", [s])
    assert body["runs"][0]["avg_jct_s"] == 9000 and body["runs"][0]["policy"] == "fifo"
