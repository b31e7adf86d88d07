"""`bench/sim_oracle.py`: the analysis that bounds protection rules (ADR 0031) must really protect
the jobs it names, and only from eviction for service, or its bounds say nothing."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from sim_builders import jcts, starts, trace_of

from suanli.scheduler.victims import Victims
from suanli.sim import Network, make_policy, simulate
from suanli.sim.compare import DEFAULT, DEFAULT_CHECKPOINT_S, with_checkpoints
from suanli.sim.policies.service import ServiceOrder
from suanli.sim.synthetic import generate

BENCH = Path(__file__).resolve().parents[2] / "bench" / "sim_oracle.py"


@pytest.fixture(scope="module")
def oracle() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sim_oracle", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _replay(trace, gpus: int):  # type: ignore[no-untyped-def]
    net = Network.single(gpus)
    return simulate(trace, net, make_policy(DEFAULT, trace, net), checkpoint_s=DEFAULT_CHECKPOINT_S)


def test_protected_jobs_are_never_evicted_and_the_scheduler_is_restored(oracle: ModuleType) -> None:
    trace = with_checkpoints(generate(jobs=300, gpus=16, load=0.9, seed=3), DEFAULT_CHECKPOINT_S)
    before = _replay(trace, 16)
    assert sum(o.preemptions for o in before.outcomes) > 0  # else the test could not fail
    wide = {i for i, j in enumerate(trace.jobs) if j.gpus >= 4}
    assert any(before.outcomes[i].preemptions for i in wide)

    stoppable = Victims.stoppable
    with oracle.protected(lambda i: i in wide):
        during = _replay(trace, 16)
    assert Victims.stoppable is stoppable
    assert all(during.outcomes[i].preemptions == 0 for i in wide)
    assert sum(o.preemptions for o in during.outcomes) > 0  # the others are still evicted
    again = _replay(trace, 16)
    assert [o.finish for o in again.outcomes] == [o.finish for o in before.outcomes]


def test_rules_parse_and_refuse_what_they_do_not_know(oracle: ModuleType) -> None:
    assert oracle.parse_rule("long=0.5") == (0.5, None, None)
    assert oracle.parse_rule("wide=16") == (None, 16, None)
    assert oracle.parse_rule("long=0.75,wide=32") == (0.75, 32, None)
    assert oracle.parse_rule("soon=600").soon == 600.0
    with pytest.raises(SystemExit, match="long=F"):
        oracle.parse_rule("short=1")
    with pytest.raises(SystemExit, match="wide=N"):
        oracle.parse_rule("wide=many")
    with pytest.raises(SystemExit, match="soon=S"):
        oracle.parse_rule("soon=later")


def test_no_eviction_for_a_job_whose_room_comes_soon(oracle: ModuleType) -> None:
    """`soon=S` with S beyond every run time: every waiting job's room comes within S, so nothing is
    evicted for service; with S negative nothing is held back (the replay is as it was)."""
    trace = with_checkpoints(generate(jobs=300, gpus=16, load=0.9, seed=3), DEFAULT_CHECKPOINT_S)
    before = _replay(trace, 16)
    assert sum(o.preemptions for o in before.outcomes) > 0
    cycle, stoppable = ServiceOrder._cycle, Victims.stoppable
    longest = max(j.duration for j in trace.jobs)
    with oracle.room_soon(longest + 1):
        held = _replay(trace, 16)
    assert sum(o.preemptions for o in held.outcomes) == 0
    with oracle.room_soon(-1.0):
        same = _replay(trace, 16)
    assert [o.finish for o in same.outcomes] == [o.finish for o in before.outcomes]
    assert (ServiceOrder._cycle, Victims.stoppable) == (cycle, stoppable)


def test_true_predictions_expect_each_job_to_run_its_true_duration(oracle: ModuleType) -> None:
    trace = with_checkpoints(generate(jobs=40, gpus=8, load=0.9, seed=5), DEFAULT_CHECKPOINT_S)
    net = Network.single(8)
    policy = make_policy(DEFAULT, trace, net)
    told = oracle.TruePredictions(policy._facts, trace)
    assert [told.expected_s(f) for f in policy._facts] == [j.duration for j in trace.jobs]
    told.observe(policy._facts[0], 1.0)  # what finishes changes nothing: it already knows
    assert told.expected_s(policy._facts[0]) == trace.jobs[0].duration


def _srpt(oracle: ModuleType, trace, gpus: int, long_s: float):  # type: ignore[no-untyped-def]
    return simulate(trace, gpus, oracle.RemainingFirst(trace, long_s), checkpoint_s=1800.0)


def test_remaining_first_evicts_a_longer_attempt_only_near_its_checkpoint(oracle: ModuleType) -> None:
    """A (2 GPUs, 3000 s) runs alone; B (1 GPU, 100 s) comes at 60 s, 60 s after A's start (inside the
    120 s window): A is evicted, B runs 60–160, A restarts (30 s) and has lost its 60 s. C (1 GPU, 100 s)
    comes at 1000 s, 810 s after A's restart, outside the window: it waits for A's next checkpoint, 1800 s
    of progress after its restart ended at 190 s, so at 1990 s; it evicts A then (losing nothing) and
    runs 1990–2090."""
    trace = trace_of((0, 3000, 2), (60, 100, 1), (1000, 100, 1))
    run = _srpt(oracle, trace, 2, long_s=10_000)
    assert starts(trace, run) == {"A": 0, "B": 60, "C": pytest.approx(1990)}
    assert jcts(trace, run)["B"] == 100
    assert jcts(trace, run)["C"] == pytest.approx(1090)
    # A: its 60 s lost, B's and C's 100 s each, and two restarts of 30 s
    assert run.outcomes[0].preemptions == 2
    assert run.outcomes[0].finish == pytest.approx(0 + 60 + 100 + 30 + 3000 + 100 + 30)


def test_remaining_first_never_evicts_nor_delays_a_long_job(oracle: ModuleType) -> None:
    """With A long (≥ long_s), B waits for A's end; a long job that comes later starts before a
    shorter one that waits with it."""
    trace = trace_of((0, 3000, 2), (60, 100, 1), (100, 2500, 2))
    run = _srpt(oracle, trace, 2, long_s=2000)
    assert sum(o.preemptions for o in run.outcomes) == 0
    assert starts(trace, run) == {"A": 0, "C": 3000, "B": 5500}
