"""Metric definitions: percentiles, bounded slowdown, Jain's index, finish-time fairness, cost, energy, and
runs summarised by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sim_builders import replay, trace_of

from suanli.domain.money import Money
from suanli.sim import (
    Network,
    Pool,
    bounded_slowdown,
    jain_index,
    make_policy,
    percentile,
    simulate,
    summarize,
)
from suanli.sim.metrics import finish_time_fairness
from suanli.sim.report import as_json, more, table


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
    header, rows = table([s], wall=False, extra=False)
    assert header[:4] == ("policy", "avg JCT", "p50 JCT", "p99 JCT")
    assert rows == [("fifo", "2.50", "2.50", "2.99", "1.00", "1.98", "2.00", "3.0", "1.000", "1.000", "–")]
    body = as_json("t.csv", [s])
    assert body["runs"][0]["avg_jct_s"] == 9000 and body["runs"][0]["policy"] == "fifo"


def test_cost_energy_carbon_fairness_and_pool_use_worked_by_hand() -> None:
    # One pool of 4 A100s (400 W) at 10.00 CNY per GPU-hour, PUE 1.5, 500 g/kWh. FIFO: A (tenant x,
    # 2 GPUs, 1 h) runs 0–3600; B (y, 4 GPUs, 0.5 h) waits for it and runs 3600–5400.
    pool = Pool("s", "p", "A100", 4, 1, 4, "r", Money(1000, "CNY"), Decimal("1.5"), 500)
    network = Network("test", (pool,))
    trace = trace_of((0, 3600, 2, "x"), (0, 1800, 4, "y"))
    s = summarize(trace, simulate(trace, network, make_policy("fifo", trace, network), name="fifo"))
    # 2 GPU-hours each: 20.00 CNY each, in fen.
    assert (s.currency, s.cost_minor_by_tenant, s.cost_minor) == ("CNY", {"x": 2000, "y": 2000}, 4000)
    # 4 GPU-hours × 400 W × PUE 1.5 = 2.4 kWh; × 500 g = 1.2 kg.
    assert s.energy_kwh == pytest.approx(2.4)
    assert s.carbon_kg == pytest.approx(1.2)
    # Both tenants have work in the system at 0 s, so each job's isolated JCT is twice its duration:
    # ρ(A) = 3600 / 7200 = 0.5, ρ(B) = 5400 / 3600 = 1.5.
    assert s.ftf_max == pytest.approx(1.5)
    assert s.ftf_jain == pytest.approx(2.0**2 / (2 * (0.5**2 + 1.5**2)))
    assert s.pool_utilisation == {"s/p": pytest.approx(4 * 3600 / (4 * 5400))}
    assert s.passes == 3 and 0 <= s.pass_mean_s <= s.pass_p99_s <= s.pass_max_s
    assert more(s)[:4] == ("1.50", "40.00 CNY", "2", "0.0")


def test_finish_time_fairness_counts_tenants_with_work_at_each_submit() -> None:
    # FIFO on 1 GPU: A (x) 0–20, B (y) 5 s → 20–40, C (x) 30 s → 40–60, D (x) 60 s → 60–80. A is
    # alone at 0 s; B and C arrive while the other tenant has work: two; D arrives as C ends: alone.
    trace = trace_of((0, 20, 1, "x"), (5, 20, 1, "y"), (30, 20, 1, "x"), (60, 20, 1, "x"))
    run = replay("fifo", trace, 1)
    jct = [o.finish - j.submit for j, o in zip(trace.jobs, run.outcomes, strict=True)]
    assert finish_time_fairness(trace, jct) == pytest.approx([20 / 20, 35 / 40, 30 / 40, 20 / 20])


def test_a_network_without_prices_has_no_cost_or_energy() -> None:
    trace = trace_of((0, 10, 1))
    s = summarize(trace, replay("fifo", trace, 1))
    assert (s.cost_minor, s.cost_minor_by_tenant, s.energy_kwh, s.carbon_kg) == (None, None, None, None)
    assert more(s)[1:4] == ("–", "–", "–")
    assert as_json("t.csv", [s])["runs"][0]["cost_minor"] is None
