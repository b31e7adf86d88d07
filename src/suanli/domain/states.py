"""The job and attempt state machines, as explicit transition tables.

Every state change of a job or an attempt goes through `job_transition` / `attempt_transition`;
the tables below are the whole truth about which moves are legal.
"""

from __future__ import annotations

from enum import StrEnum

from suanli.domain.errors import InvalidTransition


class JobState(StrEnum):
    PENDING = "PENDING"  # waiting for a placement
    ASSIGNED = "ASSIGNED"  # an attempt is placed on a site; the agent has not started it yet
    RUNNING = "RUNNING"
    CANCELLING = "CANCELLING"  # cancel asked; waiting for the site to confirm the kill
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class AttemptState(StrEnum):
    ASSIGNED = "ASSIGNED"  # placed; capacity held; launch offered to the agent
    STARTING = "STARTING"  # the agent accepted it; the engine is starting it
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    LOST = "LOST"  # the lease ran out (lease + grace) without a word from the site
    WITHDRAWN = "WITHDRAWN"  # not running within the start timeout: pulled back to be placed elsewhere
    PREEMPTING = "PREEMPTING"  # told to stop for a job of higher priority or guaranteed quota; holds on
    PREEMPTED = "PREEMPTED"  # stopped by preemption: its job is queued again, retries untouched


_J = JobState
JOB_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    _J.PENDING: frozenset({_J.ASSIGNED, _J.CANCELLED}),
    # An attempt may end before its RUNNING report arrives, hence ASSIGNED → terminal states.
    # Back to PENDING when an attempt failed or was lost and retries remain.
    _J.ASSIGNED: frozenset({_J.RUNNING, _J.PENDING, _J.SUCCEEDED, _J.FAILED, _J.CANCELLING}),
    _J.RUNNING: frozenset({_J.SUCCEEDED, _J.FAILED, _J.PENDING, _J.CANCELLING}),
    # The job may finish on its own before the kill reaches it; the true outcome is kept.
    _J.CANCELLING: frozenset({_J.CANCELLED, _J.SUCCEEDED, _J.FAILED}),
    _J.SUCCEEDED: frozenset(),
    _J.FAILED: frozenset(),
    _J.CANCELLED: frozenset(),
}

_A = AttemptState
ATTEMPT_TRANSITIONS: dict[AttemptState, frozenset[AttemptState]] = {
    _A.ASSIGNED: frozenset(
        {_A.STARTING, _A.RUNNING, _A.SUCCEEDED, _A.FAILED, _A.CANCELLED, _A.LOST, _A.WITHDRAWN, _A.PREEMPTED}
    ),
    _A.STARTING: frozenset(
        {_A.RUNNING, _A.SUCCEEDED, _A.FAILED, _A.CANCELLED, _A.LOST, _A.WITHDRAWN, _A.PREEMPTING}
    ),
    _A.RUNNING: frozenset({_A.SUCCEEDED, _A.FAILED, _A.CANCELLED, _A.LOST, _A.PREEMPTING}),
    # It may still finish on its own before the signal lands; the true outcome is kept then.
    _A.PREEMPTING: frozenset({_A.PREEMPTED, _A.SUCCEEDED, _A.LOST}),
    _A.PREEMPTED: frozenset(),
    _A.SUCCEEDED: frozenset(),
    _A.FAILED: frozenset(),
    _A.CANCELLED: frozenset(),
    _A.LOST: frozenset(),
    _A.WITHDRAWN: frozenset(),
}

JOB_TERMINAL = frozenset(s for s, nxt in JOB_TRANSITIONS.items() if not nxt)
ATTEMPT_TERMINAL = frozenset(s for s, nxt in ATTEMPT_TRANSITIONS.items() if not nxt)
# Attempts that hold capacity on their pool and must be covered by a lease.
ATTEMPT_ACTIVE = frozenset(set(AttemptState) - ATTEMPT_TERMINAL)


def job_transition(current: JobState, target: JobState) -> JobState:
    """Return `target` if the table allows current → target, else raise InvalidTransition."""
    if target not in JOB_TRANSITIONS[current]:
        raise InvalidTransition("job", current.value, target.value)
    return target


def attempt_transition(current: AttemptState, target: AttemptState) -> AttemptState:
    """Return `target` if the table allows current → target, else raise InvalidTransition."""
    if target not in ATTEMPT_TRANSITIONS[current]:
        raise InvalidTransition("attempt", current.value, target.value)
    return target


def job_state_for_attempt(attempt: AttemptState) -> JobState:
    """The job state that mirrors a live attempt's state (terminal outcomes are decided elsewhere)."""
    if attempt in (AttemptState.ASSIGNED, AttemptState.STARTING):
        return JobState.ASSIGNED
    if attempt in (AttemptState.RUNNING, AttemptState.PREEMPTING):  # it runs until the signal lands
        return JobState.RUNNING
    raise ValueError(f"{attempt} is terminal; the job's outcome depends on retries")
