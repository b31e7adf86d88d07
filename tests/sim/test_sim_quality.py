"""The default policy (`suanli`, the `service` queue order) in the simulator: hand-checked schedules,
preemption costs, and properties (no preemption of a non-preemptible job, predictions never read true
durations, a long job is not starved by a stream of short ones)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sim_builders import jcts, trace_of

from suanli.scheduler import service
from suanli.sim import Network, Trace, TraceJob, load_trace, make_policy, simulate, summarize
from suanli.sim.compare import DEFAULT, check, pool_size, sized_sites, with_checkpoints
from suanli.sim.policies.suanli import Production

MIN = 60.0
HOUR = 3600.0


def run(trace: Trace, gpus: int, checkpoint_s: float | None = 30 * MIN, policy: str = "suanli-service"):  # type: ignore[no-untyped-def]
    return simulate(trace, gpus, make_policy(policy, trace, gpus), name=policy, checkpoint_s=checkpoint_s)


def test_a_short_job_evicts_a_long_one_just_after_its_checkpoint() -> None:
    # A (4 GPUs, 4 h, checkpoints every 30 min) has had 8 GPU-hours when B (1 GPU, 10 min) arrives at
    # 2 h 10 min. A is evicted only just after a checkpoint: at 2 h 30 min, losing nothing. B runs to
    # 2 h 40 min; A restarts then, pays 30 s of restart and has 1 h 30 min left: it ends at 4 h 10 min 30 s.
    trace = with_checkpoints(trace_of((0, 4 * HOUR, 4, "a"), (130 * MIN, 10 * MIN, 1, "b")), 30 * MIN)
    r = run(trace, 4)
    assert jcts(trace, r) == pytest.approx({"A": 4 * HOUR + 10 * MIN + 30, "B": 30 * MIN})
    a, b = r.outcomes
    assert (a.preemptions, b.preemptions) == (1, 0)
    assert a.lost_s == pytest.approx(0, abs=0.01)  # the policy wakes 1 ms after the checkpoint
    assert summarize(trace, r).lost_gpu_s == pytest.approx(4 * 30, abs=0.1)


def test_a_job_without_checkpoints_is_evicted_after_its_minimum_run_and_loses_its_work() -> None:
    # No declared interval: A may be evicted once it has run 10 min; the engine's interval (30 min)
    # still decides what it keeps: at 2 h 10 min it keeps 2 h and loses 10 min.
    trace = trace_of((0, 4 * HOUR, 4, "a"), (130 * MIN, 10 * MIN, 1, "b"))
    r = run(trace, 4)
    assert jcts(trace, r) == pytest.approx({"A": 4 * HOUR + 20 * MIN + 30, "B": 10 * MIN})
    assert r.outcomes[0].lost_s == pytest.approx(10 * MIN)
    assert summarize(trace, r).lost_gpu_s == pytest.approx(4 * (10 * MIN + 30))


@pytest.mark.parametrize("policy", ["suanli-las", "suanli-service"])
def test_jobs_that_lose_their_work_when_evicted_do_not_evict_each_other_for_ever(policy: str) -> None:
    # A and B (3 of 4 GPUs each, 5.5 h, can resume, no interval declared) evict each other: B, new,
    # evicts A once A has had an accelerator-hour (20 min on 3 GPUs). A's 20 min end before the
    # engine's first checkpoint (30 min), so it keeps nothing. Its attained service is what it ran,
    # kept or lost, as the control plane counts it; counted by what it kept, A ranked as new again,
    # evicted B 20 min later, and so on for ever.
    base = trace_of((0, 20_000, 3, "a"), (100, 20_000, 3, "b"))
    trace = replace(base, jobs=tuple(replace(j, preemptible=True) for j in base.jobs))
    r = run(trace, 4, policy=policy)
    assert all(o.finish < 3 * 20_000 for o in r.outcomes)
    assert sum(o.preemptions for o in r.outcomes) <= 4


def test_a_job_that_cannot_resume_is_never_evicted() -> None:
    base = trace_of((0, 4 * HOUR, 4, "a"), (130 * MIN, 10 * MIN, 1, "b"))
    trace = replace(base, jobs=(replace(base.jobs[0], preemptible=False), base.jobs[1]))
    r = run(trace, 4)
    assert jcts(trace, r) == pytest.approx({"A": 4 * HOUR, "B": 4 * HOUR - 130 * MIN + 10 * MIN})
    assert r.outcomes[0].preemptions == 0


def test_las_starves_a_long_job_that_the_ageing_rule_rescues() -> None:
    # One GPU: L (10 h) from 0, then a 40-minute job every 45 minutes for 30 hours (load ~0.9).
    # LAS keeps preempting L for the stream; under `service` L is aged after waiting twice the longest
    # of what it is expected to run, what it has run and an hour, then runs to its end.
    shorts = [(HOUR + k * 45 * MIN, 40 * MIN, 1, "s") for k in range(40)]
    trace = trace_of((0, 10 * HOUR, 1, "long"), *shorts)
    las = run(trace, 1, policy="las")
    ours = run(trace, 1)
    assert jcts(trace, las)["A"] > 30 * HOUR
    assert jcts(trace, ours)["A"] < 10 * HOUR + service.ageing_bound_s(10 * HOUR, HOUR) + 2 * HOUR


@dataclass(frozen=True)
class _Hidden:
    """A trace job whose run time cannot be read: what a predictor must never need."""

    job: TraceJob

    def __getattr__(self, name: str) -> object:
        if name in ("duration", "gpu_seconds"):
            raise AssertionError(f"the policy read the job's true {name}")
        return getattr(self.job, name)


# (submit s, duration s, GPUs, tenant, can resume) per job of a random trace
RANDOM_JOBS = st.lists(
    st.tuples(
        st.integers(0, 20_000),
        st.integers(1, 30_000),
        st.sampled_from([1, 1, 1, 2, 4]),
        st.sampled_from(["a", "b", "c"]),
        st.booleans(),
    ),
    min_size=2,
    max_size=25,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RANDOM_JOBS)
def test_properties_on_random_traces(jobs: list[tuple[int, int, int, str, bool]]) -> None:
    """Non-preemptible jobs are never preempted (the engine refuses it, and none is counted); the
    policy never reads a true duration; every job finishes."""
    base = trace_of(*((s, d, g, t) for s, d, g, t, _ in jobs))
    trace = replace(
        base, jobs=tuple(replace(j, preemptible=p) for j, (*_, p) in zip(base.jobs, jobs, strict=True))
    )
    hidden = replace(trace, jobs=cast(tuple[TraceJob, ...], tuple(_Hidden(j) for j in trace.jobs)))
    r = simulate(trace, 4, Production(hidden, Network.single(4)), checkpoint_s=600)
    for job, outcome in zip(trace.jobs, r.outcomes, strict=True):
        assert outcome.finish >= job.submit + job.duration
        if not job.preemptible:
            assert outcome.preemptions == 0


def test_pool_size_is_the_smallest_multiple_of_8_at_load_0_8() -> None:
    trace = trace_of((0, HOUR, 8), (HOUR, HOUR, 8), (2 * HOUR, HOUR, 8))  # 24 GPU-h over 2 h
    assert pool_size(trace) == 16  # 24 / (16 × 2) = 0.75; 8 GPUs would be 1.5


def test_the_sized_sites_hold_the_sized_pools_gpus_and_each_pool_the_widest_job() -> None:
    # 24 GPU-h over 2 h: 16 GPUs at load 0.75, the widest job 8 → two pools of 8 on two models
    trace = trace_of((0, HOUR, 8), (HOUR, HOUR, 8), (2 * HOUR, HOUR, 8))
    net = sized_sites(trace)
    assert [(p.label, p.gpus) for p in net.pools] == [("sh-lingang/a100", 8), ("sh-lingang/v100", 8)]
    # 192 GPU-h over 3 h: 80 GPUs at load 0.8 exactly, 10 nodes of 8, the widest job 2 nodes
    wide = trace_of(
        (0, 3 * HOUR, 16), (HOUR, 3 * HOUR, 16), (2 * HOUR, 3 * HOUR, 16), (3 * HOUR, 3 * HOUR, 16)
    )
    assert sum(p.gpus for p in sized_sites(wide).pools) == pool_size(wide) == 80
    assert [p.gpus for p in sized_sites(wide).pools] == [32, 24, 24]  # 10 nodes dealt out, each ≥ 2
    assert len(sized_sites(wide).sites) == 2 and all(p.price is not None for p in sized_sites(wide).pools)


def test_the_goals_compare_with_the_baselines_of_the_same_run() -> None:
    trace = trace_of((0, 4 * HOUR, 4, "a"), (130 * MIN, 10 * MIN, 1, "b"), (3 * HOUR, HOUR, 2, "c"))
    summaries = [summarize(trace, run(trace, 4, policy=p)) for p in ("easy", "las", "las2", DEFAULT)]
    goals = check(summaries)
    assert goals is not None
    assert goals.p99_jct_bar_s == summaries[0].p99_jct_s
    assert goals.avg_jct_bar_s == min(summaries[1].avg_jct_s, summaries[2].avg_jct_s)
    assert "avg≤LAS" in goals.marks()


# ADR 0019: `las-ckpt` (the fast prototype) and `suanli-las` (the production scheduler with the `las`
# order) evict only just after a checkpoint and never age a job past the first rung (`las-ckpt` none).


@pytest.mark.parametrize("policy", ["las-ckpt", "suanli-las"])
def test_the_las_policies_evict_just_after_a_checkpoint(policy: str) -> None:
    # As above: B waits for A's checkpoint at 2 h 30 min (20 min), A loses nothing. Plain `las`
    # evicts A at once and A redoes the 10 minutes since its checkpoint.
    trace = with_checkpoints(trace_of((0, 4 * HOUR, 4, "a"), (130 * MIN, 10 * MIN, 1, "b")), 30 * MIN)
    r = run(trace, 4, policy=policy)
    assert jcts(trace, r) == pytest.approx({"A": 4 * HOUR + 10 * MIN + 30, "B": 30 * MIN})
    assert r.outcomes[0].lost_s == pytest.approx(0, abs=0.01)
    las = run(trace, 4, policy="las")
    assert jcts(trace, las) == pytest.approx({"A": 4 * HOUR + 20 * MIN + 30, "B": 10 * MIN})


@pytest.mark.parametrize("policy", ["las-ckpt", "suanli-las"])
def test_the_las_policies_never_evict_a_job_that_cannot_resume(policy: str) -> None:
    base = with_checkpoints(trace_of((0, 4 * HOUR, 4, "a"), (130 * MIN, 10 * MIN, 1, "b")), 30 * MIN)
    trace = replace(base, jobs=(replace(base.jobs[0], preemptible=False), base.jobs[1]))
    r = run(trace, 4, policy=policy)
    assert jcts(trace, r) == pytest.approx({"A": 4 * HOUR, "B": 4 * HOUR - 130 * MIN + 10 * MIN})


@pytest.mark.parametrize("policy", ["las-ckpt", "suanli-las"])
def test_the_las_policies_give_up_the_starvation_bound(policy: str) -> None:
    # The price ADR 0019 states: the stream of 40-minute jobs that `suanli-service` makes wait for
    # the aged long job keeps it out, as under `las`, until the stream ends (after 31 h).
    shorts = [(HOUR + k * 45 * MIN, 40 * MIN, 1, "s") for k in range(40)]
    trace = trace_of((0, 10 * HOUR, 1, "long"), *shorts)
    assert jcts(trace, run(trace, 1, policy=policy))["A"] > 30 * HOUR


def test_under_las_a_short_wide_job_is_not_starved_by_a_stream_of_narrow_ones() -> None:
    # Four GPUs kept busy by 1-GPU, 30-minute jobs arriving every 7.5 minutes for 8 h; a 4-GPU,
    # 5-minute job of another tenant arrives at 1 h. Fit-first hands every freed GPU to the stream.
    # Under `suanli-las` (ADR 0022) the wide job ages after twice the longer of its expected run time
    # (30 min, learnt from the stream) and its first rung's time (15 min), keeps its place in band 0
    # by fair share (its tenant holds nothing), reserves, and starts once the running 30-minute jobs
    # end. `las-ckpt`, with no ageing, leaves it behind the stream until the stream ends.
    stream = [(k * 7.5 * MIN, 30 * MIN, 1, "big") for k in range(64)]
    trace = with_checkpoints(trace_of(*stream[:8], (HOUR, 5 * MIN, 4, "wide"), *stream[8:]), 30 * MIN)
    wide = trace.jobs[8].id
    assert jcts(trace, run(trace, 4, policy="suanli-las"))[wide] < HOUR + 30 * MIN + 5 * MIN + 10 * MIN
    assert jcts(trace, run(trace, 4, policy="las-ckpt"))[wide] > 7 * HOUR


def test_under_las_a_job_waiting_alone_takes_the_room_that_frees_instead_of_evicting() -> None:
    # Four GPUs. Three 20-minute 1-GPU jobs of tenant b teach the predictor (b's 1-GPU jobs run 20
    # min). A (3 GPUs, 6 h) runs from 25 min, checkpointing at 55 min, 1 h 25, ... 2 h 25; C (1 GPU,
    # 30 min) fills the pool from 2 h. B (b, 1 GPU, 10 min) arrives at 2 h 10 and waits alone.
    # Plain LAS evicts A at its 2 h 25 checkpoint: B ends at 2 h 35, A waits for C's GPU (2 h 30) and
    # its restart, and ends 5 min 30 s late. Under ADR 0025 B, alone, holds back for its expected 20
    # minutes, takes C's GPU when it frees at 2 h 30, and A is never stopped.
    history = [(0, 20 * MIN, 1, "b")] * 3
    trace = with_checkpoints(
        trace_of(
            *history,
            (25 * MIN, 6 * HOUR, 3, "a"),
            (2 * HOUR, 30 * MIN, 1, "c"),
            (130 * MIN, 10 * MIN, 1, "b"),
        ),
        30 * MIN,
    )
    r = run(trace, 4, policy="suanli-las")
    assert {k: v for k, v in jcts(trace, r).items() if k in "DEF"} == pytest.approx(
        {"D": 6 * HOUR, "E": 30 * MIN, "F": 30 * MIN}
    )
    assert sum(o.preemptions for o in r.outcomes) == 0


def test_under_las_a_job_waiting_alone_evicts_once_it_has_waited_its_expected_run_time() -> None:
    # As above without C: B (2 GPUs, 10 min, expected 20 min) arrives at 2 h 06 and nothing frees.
    # It holds back until 2 h 26, when A is still within two minutes of its 2 h 25 checkpoint: the
    # policy wakes then, B evicts A (A loses the minute since its checkpoint) and runs to 2 h 36; A
    # restarts after B, pays 30 s and has 4 h left.
    history = [(0, 20 * MIN, 1, "b")] * 3
    trace = with_checkpoints(
        trace_of(*history, (25 * MIN, 6 * HOUR, 3, "a"), (126 * MIN, 10 * MIN, 2, "b")), 30 * MIN
    )
    r = run(trace, 4, policy="suanli-las")
    assert {k: v for k, v in jcts(trace, r).items() if k in "DE"} == pytest.approx(
        {"D": 6 * HOUR + 11 * MIN + 30, "E": 30 * MIN}, abs=0.01
    )
    assert r.outcomes[3].lost_s == pytest.approx(MIN, abs=0.01)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    RANDOM_JOBS,
    st.sampled_from(["las-ckpt", "suanli-las"]),
)
def test_las_properties_on_random_traces(jobs: list[tuple[int, int, int, str, bool]], policy: str) -> None:
    """As for `suanli`: no preemption of a job that cannot resume, no true duration read, all finish."""
    base = with_checkpoints(trace_of(*((s, d, g, t) for s, d, g, t, _ in jobs)), 600)
    trace = replace(
        base, jobs=tuple(replace(j, preemptible=p) for j, (*_, p) in zip(base.jobs, jobs, strict=True))
    )
    hidden = replace(trace, jobs=cast(tuple[TraceJob, ...], tuple(_Hidden(j) for j in trace.jobs)))
    r = simulate(trace, 4, make_policy(policy, hidden, 4), checkpoint_s=600)
    for job, outcome in zip(trace.jobs, r.outcomes, strict=True):
        assert outcome.finish >= job.submit + job.duration
        if not job.preemptible:
            assert outcome.preemptions == 0


ALIBABA = Path("/work/shared/traces/alibaba-gpu-v2023/openb_pod_list_default.csv")


@pytest.mark.skipif(not ALIBABA.exists(), reason="the shared traces are not here")
def test_on_sites_the_alibaba_trace_meets_the_three_goals() -> None:
    # Its 24 GPUs as three 8-GPU pools on two sites (`sized_sites`): 8-GPU jobs need a whole pool
    # while 1-GPU jobs spread over all three. Before ADR 0028 an 8-GPU job past the third rung waited
    # hundreds of hours with 13-16 GPUs free in pieces, and Jain's index was 0.432 against EASY's
    # 0.742; with claims, gathering by rank and moves it meets all three (0.883 when measured).
    trace = with_checkpoints(load_trace(ALIBABA, "alibaba"), 1800)
    net = sized_sites(trace)
    runs = [
        simulate(trace, net, make_policy(p, trace, net), name=p, checkpoint_s=1800)
        for p in ("easy", "las", "las2", DEFAULT)
    ]
    goals = check([summarize(trace, r) for r in runs])
    assert goals is not None
    assert (goals.avg_ok, goals.p99_ok, goals.jain_ok) == (True, True, True), goals.marks()
    preempted = sum(o.preemptions for o in runs[-1].outcomes)
    assert preempted < 10_000  # each is a restart: the rules do not thrash (9,000 when measured)


def test_a_job_with_a_limit_backfills_before_an_aged_jobs_reservation() -> None:
    # One pool of 4. R (3 GPUs, 20 h, limit 20 h, cannot resume) runs from 0; W (4 GPUs, 1 h, limit
    # 1 h) comes a minute later, waits and is aged two hours after, so it reserves the pool from R's end, 20 h, as the control plane
    # sees it (R's attempt ends by its max_runtime). S (1 GPU, 30 min, limit 8 h) comes at 2.5 h, after
    # W in the queue (more expected work), and ends by 10.5 h: before the reservation, so it backfills
    # the free GPU at once. Were R's end unknown in the simulator's snapshots, W's reservation would
    # have no start, and S would wait for W (till 21 h).
    base = trace_of((0, 20 * HOUR, 3), (MIN, HOUR, 4), (2.5 * HOUR, 30 * MIN, 1))
    limits = {"A": 20 * HOUR, "B": HOUR, "C": 8 * HOUR}
    trace = replace(
        base,
        jobs=tuple(replace(j, limit_s=limits[j.id], preemptible=j.id != "A") for j in base.jobs),
    )
    r = run(trace, 4, policy="suanli-las")
    start = {j.id: o.first_start for j, o in zip(trace.jobs, r.outcomes, strict=True)}
    assert start["C"] == pytest.approx(2.5 * HOUR, abs=1.0)
    assert start["B"] == pytest.approx(20 * HOUR, abs=1.0)
