"""Tests for the job and attempt state machines: the legal moves, and what the tables guarantee."""

from collections.abc import Mapping
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.errors import DomainError, InvalidTransition
from suanli.domain.states import (
    ATTEMPT_ACTIVE,
    ATTEMPT_TERMINAL,
    ATTEMPT_TRANSITIONS,
    JOB_TERMINAL,
    JOB_TRANSITIONS,
    AttemptState,
    JobState,
    attempt_transition,
    job_state_for_attempt,
    job_transition,
)

J, A = JobState, AttemptState
S = TypeVar("S")


def reachable(table: Mapping[S, frozenset[S]], start: S) -> set[S]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in table[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_the_terminal_states_are_the_outcomes() -> None:
    assert {J.SUCCEEDED, J.FAILED, J.CANCELLED} == JOB_TERMINAL
    assert {A.SUCCEEDED, A.FAILED, A.CANCELLED, A.LOST, A.WITHDRAWN, A.PREEMPTED} == ATTEMPT_TERMINAL
    assert {A.ASSIGNED, A.STARTING, A.RUNNING, A.PREEMPTING} == ATTEMPT_ACTIVE


def test_every_state_has_a_row_in_its_table() -> None:
    assert set(JOB_TRANSITIONS) == set(JobState)
    assert set(ATTEMPT_TRANSITIONS) == set(AttemptState)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (J.PENDING, J.ASSIGNED),
        (J.PENDING, J.CANCELLED),
        (J.ASSIGNED, J.RUNNING),
        (J.ASSIGNED, J.SUCCEEDED),  # finished before its RUNNING report arrived
        (J.ASSIGNED, J.PENDING),  # attempt lost, retries remain
        (J.RUNNING, J.PENDING),
        (J.RUNNING, J.CANCELLING),
        (J.CANCELLING, J.CANCELLED),
        (J.CANCELLING, J.SUCCEEDED),  # finished before the kill arrived: the true outcome is kept
    ],
    ids=str,
)
def test_legal_job_moves(current: JobState, target: JobState) -> None:
    assert job_transition(current, target) is target


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (J.PENDING, J.RUNNING),  # never started without an attempt
        (J.PENDING, J.SUCCEEDED),
        (J.RUNNING, J.CANCELLED),  # a running job is cancelled only once the site confirms the kill
        (J.RUNNING, J.ASSIGNED),
        (J.CANCELLING, J.RUNNING),
        (J.SUCCEEDED, J.PENDING),
        (J.FAILED, J.PENDING),
        (J.CANCELLED, J.PENDING),
        (J.PENDING, J.PENDING),
    ],
    ids=str,
)
def test_illegal_job_moves_name_both_states(current: JobState, target: JobState) -> None:
    with pytest.raises(InvalidTransition, match=f"job cannot go from {current} to {target}") as caught:
        job_transition(current, target)
    assert isinstance(caught.value, DomainError)
    assert (caught.value.current, caught.value.target) == (current.value, target.value)


@pytest.mark.parametrize(
    ("current", "target", "legal"),
    [
        (A.ASSIGNED, A.STARTING, True),
        (A.ASSIGNED, A.RUNNING, True),
        (A.STARTING, A.LOST, True),
        (A.RUNNING, A.SUCCEEDED, True),
        (A.RUNNING, A.STARTING, False),
        (A.LOST, A.RUNNING, False),  # a report for a lost attempt is refused
        (A.STARTING, A.WITHDRAWN, True),  # accepted but not started in time: pulled back
        (A.RUNNING, A.WITHDRAWN, False),  # a running attempt is never pulled back
        (A.WITHDRAWN, A.RUNNING, False),
        (A.RUNNING, A.PREEMPTING, True),  # told to stop for a job ranked higher
        (A.PREEMPTING, A.PREEMPTED, True),
        (A.PREEMPTING, A.SUCCEEDED, True),  # it finished before the signal landed
        (A.PREEMPTING, A.RUNNING, False),  # never back
        (A.ASSIGNED, A.PREEMPTED, True),  # not started yet: stopped at once
        (A.PREEMPTED, A.RUNNING, False),
        (A.SUCCEEDED, A.FAILED, False),
    ],
    ids=str,
)
def test_attempt_moves(current: AttemptState, target: AttemptState, legal: bool) -> None:
    if legal:
        assert attempt_transition(current, target) is target
    else:
        with pytest.raises(InvalidTransition, match=f"attempt cannot go from {current} to {target}"):
            attempt_transition(current, target)


@pytest.mark.parametrize("state", sorted(set(JobState) - JOB_TERMINAL), ids=str)
def test_every_unfinished_job_can_be_cancelled(state: JobState) -> None:
    assert J.CANCELLED in reachable(JOB_TRANSITIONS, state)


@pytest.mark.parametrize("state", sorted(ATTEMPT_ACTIVE), ids=str)
def test_every_active_attempt_can_be_declared_lost(state: AttemptState) -> None:
    assert attempt_transition(state, A.LOST) is A.LOST


@pytest.mark.parametrize(
    ("attempt", "job"),
    [(A.ASSIGNED, J.ASSIGNED), (A.STARTING, J.ASSIGNED), (A.RUNNING, J.RUNNING)],
    ids=str,
)
def test_a_live_attempt_is_mirrored_on_its_job(attempt: AttemptState, job: JobState) -> None:
    assert job_state_for_attempt(attempt) is job


@pytest.mark.parametrize("attempt", sorted(ATTEMPT_TERMINAL), ids=str)
def test_a_finished_attempt_does_not_decide_its_job_alone(attempt: AttemptState) -> None:
    with pytest.raises(ValueError, match="retries"):
        job_state_for_attempt(attempt)


@pytest.mark.parametrize(
    ("current", "target"),
    [(c, t) for c in sorted(ATTEMPT_ACTIVE) for t in sorted(ATTEMPT_TRANSITIONS[c] & ATTEMPT_ACTIVE)],
    ids=str,
)
def test_the_job_can_follow_every_move_between_live_attempt_states(
    current: AttemptState, target: AttemptState
) -> None:
    before, after = job_state_for_attempt(current), job_state_for_attempt(target)
    assert before == after or after in JOB_TRANSITIONS[before]


@given(st.data())
def test_a_walk_through_the_job_table_can_always_finish_and_stops_at_an_outcome(data: st.DataObject) -> None:
    state = data.draw(st.sampled_from(sorted(JobState)))
    for _ in range(20):
        assert reachable(JOB_TRANSITIONS, state) & JOB_TERMINAL, f"{state} can never finish"
        if state in JOB_TERMINAL:
            break
        state = job_transition(state, data.draw(st.sampled_from(sorted(JOB_TRANSITIONS[state]))))
    if state in JOB_TERMINAL:
        for target in JobState:
            with pytest.raises(InvalidTransition):
                job_transition(state, target)


@given(st.data())
def test_an_attempt_only_moves_forward_and_ends_within_four_moves(data: st.DataObject) -> None:
    state = data.draw(st.sampled_from(sorted(AttemptState)))
    for _ in range(4):  # ASSIGNED, STARTING, RUNNING, PREEMPTING, then an outcome
        if state in ATTEMPT_TERMINAL:
            break
        state = attempt_transition(state, data.draw(st.sampled_from(sorted(ATTEMPT_TRANSITIONS[state]))))
    assert state in ATTEMPT_TERMINAL
    for target in AttemptState:
        with pytest.raises(InvalidTransition):
            attempt_transition(state, target)
