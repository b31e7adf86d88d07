"""The engine's event order and the rules it holds every policy to."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sim_builders import jcts, replay, starts, trace_of

from suanli.sim import Decision, PoolState, SimulationError, make_policy, simulate
from suanli.sim.trace import MAX_DURATION_S


class Scripted:
    """A policy that answers each pass from a script: {time: Decision}."""

    def __init__(self, script: dict[float, Decision]) -> None:
        self.script = script
        self.calls: list[tuple[str, int | None, float]] = []

    def arrive(self, job: int, now: float) -> None:
        self.calls.append(("arrive", job, now))

    def depart(self, job: int, now: float) -> None:
        self.calls.append(("depart", job, now))

    def decide(self, now: float, pool: PoolState) -> Decision:
        self.calls.append(("decide", None, now))
        return self.script.get(now, Decision())


def test_each_event_time_releases_then_enqueues_then_decides_once() -> None:
    trace = trace_of((0, 10, 4), (10, 5, 4), (10, 5, 1))
    policy = Scripted({0: Decision((0,)), 10: Decision((1,)), 15: Decision((2,))})
    simulate(trace, 4, policy)
    assert policy.calls == [
        ("arrive", 0, 0),
        ("decide", None, 0),
        ("depart", 0, 10),
        ("arrive", 1, 10),
        ("arrive", 2, 10),
        ("decide", None, 10),
        ("depart", 1, 15),
        ("decide", None, 15),
        ("depart", 2, 20),
        ("decide", None, 20),
    ]


def test_a_job_that_ends_as_it_starts_is_released_at_the_same_instant() -> None:
    trace = trace_of((0, 0, 4), (0, 3, 4))
    run = replay("fifo", trace, 4)
    assert starts(trace, run) == {"A": 0, "B": 0}
    assert jcts(trace, run) == {"A": 0, "B": 3}


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ({0: Decision((0, 1))}, "with 0 free"),
        ({0: Decision((0, 0))}, "not waiting"),
        ({0: Decision((2,))}, "not waiting"),  # C has not arrived yet
        ({0: Decision((0,), (1,))}, "not running"),
        ({0: Decision((0,), wake_at=0)}, "woken"),
        ({}, "still wait on an idle pool"),
    ],
)
def test_policies_that_break_the_rules_are_stopped(script: dict[float, Decision], message: str) -> None:
    trace = trace_of((0, 10, 4), (0, 10, 1), (5, 10, 1))
    with pytest.raises(SimulationError, match=message):
        simulate(trace, 4, Scripted(script))


def test_a_job_wider_than_the_pool_is_refused_up_front() -> None:
    with pytest.raises(SimulationError, match="job B needs 8 GPUs; the pool has 4"):
        replay("fifo", trace_of((0, 1, 1), (0, 1, 8)), 4)


def test_a_job_read_from_a_file_is_named_by_its_file_and_line() -> None:
    trace = trace_of((0, 1, 1), (0, 1, 64))
    from_file = replace(
        trace,
        source="p.csv",
        jobs=tuple(replace(j, id=str(k + 2), line=k + 2) for k, j in enumerate(trace.jobs)),
    )
    with pytest.raises(SimulationError, match=r"^p.csv:3: the job needs 64 GPUs; the pool has 8$"):
        replay("fifo", from_file, 8)


def test_a_replay_that_runs_past_a_millennium_is_refused_not_crashed() -> None:
    # 5-year jobs (the longest a loader accepts) one after another on one GPU
    trace = trace_of(*[(0, MAX_DURATION_S, 1)] * 201)
    with pytest.raises(SimulationError, match="ran past 1,000 years of simulated time"):
        replay("suanli-las", trace, 1)


def test_wake_at_brings_a_pass_with_nothing_else_happening() -> None:
    trace = trace_of((0, 100, 1))
    policy = Scripted({0: Decision(wake_at=7.5), 7.5: Decision((0,))})
    run = simulate(trace, 4, policy)
    assert run.outcomes[0].first_start == 7.5
    assert run.passes == 3  # 0, 7.5, and the finish at 107.5


def test_progress_reports_climb_to_the_total() -> None:
    trace = trace_of(*[(i, 1, 1) for i in range(450)])
    seen: list[tuple[int, int]] = []
    simulate(trace, 4, make_policy("fifo", trace, 4), progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (450, 450)
    assert len(seen) > 100
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
