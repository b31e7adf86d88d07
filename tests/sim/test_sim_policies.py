"""The built-in policies on hand-made traces whose answers were worked out by hand (4 GPUs unless said)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sim_builders import jcts, replay, starts, trace_of

from suanli.sim import Trace


def with_limits(trace: Trace) -> Trace:
    """`trace` with each job's run-time limit its duration (what a tenant who knows it would ask)."""
    return replace(trace, jobs=tuple(replace(j, limit_s=j.duration) for j in trace.jobs))


# A holds 2 of 4 GPUs for 10 s; B (all 4) must wait for it; C is short and narrow, D long and narrow.
BLOCKED_HEAD = trace_of((0, 10, 2), (0, 10, 4), (1, 5, 2), (2, 20, 1))
# A leaves 1 GPU free; at B's shadow time (10 s) 4 are free and B needs 2, so 2 are extra.
EXTRA_GPUS = trace_of((0, 10, 3), (0, 10, 2), (1, 100, 1), (2, 50, 1))
# A fills the pool until 100 s; then B (2 GPUs, 50 s), C (4 GPUs, 10 s), D (1 GPU, 5 s) wait.
SHORT_LATE = trace_of((0, 100, 4), (1, 50, 2), (2, 10, 4), (3, 5, 1))
# Tenant x holds the pool (A for 10 s, B for 100 s); x's C and then y's D wait for A's GPUs.
HELD = trace_of((0, 10, 2, "x"), (0, 100, 2, "x"), (1, 5, 2, "x"), (2, 5, 2, "y"))

CASES = [
    # FIFO: C waits behind the blocked B although it fits.
    ("fifo", BLOCKED_HEAD, {"A": 10, "B": 20, "C": 24, "D": 38}),
    # EASY: C ends (6 s) before B's shadow time (10 s), so it backfills; D (20 s) would delay B.
    ("easy", BLOCKED_HEAD, {"A": 10, "B": 20, "C": 5, "D": 38}),
    # FIFO: everyone waits for B; at 10 s B, C and D all start.
    ("fifo", EXTRA_GPUS, {"A": 10, "B": 20, "C": 109, "D": 58}),
    # EASY: C runs past the shadow time, but only on an extra GPU, so it starts at 1 s; D finds no GPU
    # free until 10 s.
    ("easy", EXTRA_GPUS, {"A": 10, "B": 20, "C": 100, "D": 58}),
    # FIFO at 100 s: B starts, C (4 GPUs) blocks D.
    ("fifo", SHORT_LATE, {"A": 100, "B": 149, "C": 158, "D": 162}),
    # SJF at 100 s: D (5 s) first, then C (10 s) blocks B although B fits beside D.
    ("sjf", SHORT_LATE, {"A": 100, "B": 164, "C": 113, "D": 102}),
    # The production scheduler (`fair`) reserves for the blocked B, and with no limits nothing can show
    # it ends by B's start (A's end is unknown): as FIFO, C and D wait for B.
    ("suanli", BLOCKED_HEAD, {"A": 10, "B": 20, "C": 24, "D": 38}),
    # With the run-time limits the tenants gave (here each job's duration): B's start is A's limit
    # (10 s); C (limit 5 s) ends before it and backfills at 1 s, D (20 s) would not: EASY's answer.
    ("suanli", with_limits(BLOCKED_HEAD), {"A": 10, "B": 20, "C": 5, "D": 38}),
    # Fair share reads what each tenant holds: at 10 s x still holds 2 GPUs (B) and y none, so y's D
    # goes before x's earlier C.
    ("suanli", HELD, {"A": 10, "B": 100, "C": 19, "D": 13}),
]


@pytest.mark.parametrize(("policy", "trace", "expected"), CASES)
def test_completion_times(policy: str, trace: Trace, expected: dict[str, float]) -> None:
    assert jcts(trace, replay(policy, trace, 4)) == expected


def test_jobs_submitted_together_keep_input_order() -> None:
    trace = trace_of((5, 10, 4), (5, 10, 4), (5, 10, 4))
    for policy in ("fifo", "easy", "sjf", "las", "suanli"):
        assert starts(trace, replay(policy, trace, 4)) == {"A": 5, "B": 15, "C": 25}, policy


def test_las_preempts_a_demoted_job_and_charges_the_restart() -> None:
    # A (4 GPUs) crosses 3,250 GPU-s at 812.5 s and drops to Q1. B arrives at 1,000 s in Q0 and takes
    # the pool: A is preempted with 1,000 s done. A restarts at 1,100 s, spends 30 s restarting, and
    # needs 1,000 s more: it ends at 2,130 s.
    trace = trace_of((0, 2000, 4), (1000, 100, 4))
    run = replay("las", trace, 4)
    assert jcts(trace, run) == {"A": 2130, "B": 100}
    assert [o.preemptions for o in run.outcomes] == [1, 0]
    without_overhead = replay("las", trace, 4, restart_overhead_s=0)
    assert jcts(trace, without_overhead) == {"A": 2100, "B": 100}


def test_las_is_fit_first_and_demotes_at_fractional_times() -> None:
    # A (3 GPUs) holds Q0 until 3,250/3 s. B (2 GPUs) does not fit beside it; C (1 GPU) does and
    # starts at once, ahead of B. When A drops to Q1, B preempts it; A comes back 30 s after B ends.
    trace = trace_of((0, 10_000, 3), (10, 100, 2), (20, 100, 1))
    run = replay("las", trace, 4)
    crossing = 3250 / 3
    assert starts(trace, run) == pytest.approx({"A": 0, "B": crossing, "C": 20})
    assert jcts(trace, run) == pytest.approx({"A": 10_130, "B": crossing + 100 - 10, "C": 100})


def test_las_keeps_a_running_job_ahead_of_an_earlier_waiting_one_in_its_queue() -> None:
    # P (4 GPUs) drops to Q1 at 812.5 s; Q (4 GPUs, waiting in Q0 since 100 s) preempts it. At 1,625 s
    # Q drops to Q1 too, where P waits: Q holds GPUs, so it stays ahead of P although P arrived first.
    # Q drops to Q2 at 2,612.5 s and P (Q1) takes over; P reaches Q2 at 3,630 s holding the GPUs, so
    # Q waits for it to end (11,830 s), then restarts and runs its last 8,200 s.
    trace = trace_of((0, 10_000, 4), (100, 10_000, 4))
    run = replay("las", trace, 4)
    assert starts(trace, run) == {"A": 0, "B": 812.5}
    assert jcts(trace, run) == {"A": 11_830, "B": 20_060 - 100}
    assert [o.preemptions for o in run.outcomes] == [1, 1]


def test_las_newcomer_displaces_lower_queue_jobs_in_arrival_order() -> None:
    # A and B (2 GPUs each) drop to Q1 at 1,625 s; C (4 GPUs, Q0) preempts both at 2,000 s; both
    # restart at 2,100 s. D (1 GPU, Q0) arrives at 3,000 s: A, first by arrival, keeps its 2 GPUs, B
    # no longer fits beside D and is preempted; it restarts when D ends (3,050 s), with 30 s of restart.
    trace = trace_of((0, 10_000, 2), (0, 10_000, 2), (2000, 100, 4), (3000, 50, 1))
    run = replay("las", trace, 4)
    assert starts(trace, run) == {"A": 0, "B": 0, "C": 2000, "D": 3000}
    assert [o.preemptions for o in run.outcomes] == [1, 2, 0, 0]
    assert jcts(trace, run) == {"A": 10_130, "B": 10_130 + 50 + 30, "C": 100, "D": 50}
