"""Job and attempt state changes, each through the domain's transition tables, each with an event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from suanli.domain.states import (
    ATTEMPT_TERMINAL,
    AttemptState,
    JobState,
    attempt_transition,
    job_transition,
)
from suanli.store import Tx
from suanli.store.tables import Attempt, Job, JobEvent

# How a requeue says an attempt was taken back before it started (`last_preemption` reads it)
_BEFORE_START = "preempted before it started"


def move_job(
    tx: Tx,
    job: Job,
    target: JobState,
    now: datetime,
    message: str,
    events: list[dict[str, Any]] | None = None,
) -> None:
    """Move the job to `target` and record the event; into `events`, when given, for the caller to
    write with others (`JobRepo.add_events`)."""
    job.state = job_transition(JobState(job.state), target).value
    job.updated_at = now
    if events is None:
        tx.jobs.add_event(job.id, now, target.value.lower(), message)
    else:
        events.append({"job_id": job.id, "at": now, "kind": target.value.lower(), "message": message})


def attempt_progress(
    tx: Tx, job: Job, attempt: Attempt, target: AttemptState, now: datetime, where: str
) -> None:
    """A live attempt moved forward (STARTING or RUNNING); the job mirrors it."""
    current = AttemptState(attempt.state)
    if current == target or target not in (AttemptState.STARTING, AttemptState.RUNNING):
        return
    if current is AttemptState.PREEMPTING:  # told to stop; it reports progress until it has
        return
    if current is AttemptState.RUNNING:  # never back from RUNNING to STARTING
        return
    attempt.state = attempt_transition(current, target).value
    if target is AttemptState.RUNNING:
        attempt.started_at = attempt.started_at or now
        if job.state == JobState.ASSIGNED.value:
            move_job(tx, job, JobState.RUNNING, now, f"attempt {attempt.number} running on {where}")
            job.started_at = job.started_at or now


FREE_INTERRUPTIONS = 3  # requeues a job gets free when sites stop it on purpose; then retries count


def attempt_ended(
    tx: Tx,
    job: Job,
    attempt: Attempt,
    outcome: AttemptState,
    now: datetime,
    *,
    exit_code: int | None,
    reason: str | None,
    where: str,
    started_at: datetime | None = None,
    interrupted: bool = False,
) -> None:
    """An attempt reached a terminal state; decide the job's outcome (done, retry, or failed).

    `started_at` is the site's word for when it ran, used when it ended before a RUNNING report
    arrived; it is clamped between the placement and now. `interrupted`: the site stopped the
    attempt on its own, deliberately (its agent shut down cleanly), so the job is queued again with
    its retries untouched, as after a preemption, `FREE_INTERRUPTIONS` times at most (ADR 0032).
    """
    if outcome not in ATTEMPT_TERMINAL:
        raise ValueError(f"{outcome} is not terminal")
    if attempt.state == AttemptState.PREEMPTING.value and outcome is not AttemptState.SUCCEEDED:
        _preempted(tx, job, attempt, outcome, now, exit_code=exit_code, where=where, started_at=started_at)
        return
    attempt.state = attempt_transition(AttemptState(attempt.state), outcome).value
    attempt.ended_at = now
    if attempt.started_at is None and started_at is not None and outcome is not AttemptState.LOST:
        attempt.started_at = min(max(started_at, attempt.created_at), now)
        job.started_at = job.started_at or attempt.started_at
    attempt.exit_code = exit_code
    attempt.reason = reason
    said = f"attempt {attempt.number} on {where}: {outcome.value.lower()}" + (
        f" ({reason})" if reason and reason != outcome.value.lower() else ""
    )
    cancelling = job.state == JobState.CANCELLING.value or attempt.cancel_requested
    if outcome is AttemptState.SUCCEEDED:
        _finish(tx, job, JobState.SUCCEEDED, now, said, exit_code=exit_code if exit_code is not None else 0)
    elif cancelling:
        _finish(tx, job, JobState.CANCELLED, now, said, exit_code=exit_code, reason=job.reason or "cancelled")
    elif interrupted and outcome is AttemptState.FAILED and job.interruptions < FREE_INTERRUPTIONS:
        job.interruptions += 1
        move_job(
            tx,
            job,
            JobState.PENDING,
            now,
            f"{said}; the site stopped it, not the job, so retries are untouched",
        )
    elif outcome is AttemptState.LOST and attempt.started_at is None:
        # The site went silent before it ever ran the job: nothing of the job's can have failed
        # (ADR 0006, addendum). Its site is avoided from now on, so this cannot loop.
        move_job(tx, job, JobState.PENDING, now, f"{said}; it never started there, so retries are untouched")
    elif job.retries_left > 0:
        job.retries_left -= 1
        move_job(tx, job, JobState.PENDING, now, f"{said}; retrying ({job.retries_left} retries left)")
    else:
        _finish(
            tx, job, JobState.FAILED, now, said, exit_code=exit_code, reason=reason or outcome.value.lower()
        )


def stop_job(tx: Tx, job: Job, now: datetime, *, reason: str, message: str) -> set[str]:
    """Stop a job that is not PENDING or ended (the cancel path): a started attempt is asked to
    stop, one not started at its site is ended at once (fencing kills a late start). The job ends
    CANCELLED with `reason`. Returns the sites whose agents must be told."""
    move_job(tx, job, JobState.CANCELLING, now, message)
    job.reason = reason  # what the job ends with once its attempt has stopped
    sites: set[str] = set()
    for attempt in tx.jobs.attempts(job.id):
        if attempt.state in (AttemptState.STARTING.value, AttemptState.RUNNING.value):
            attempt.cancel_requested = True
            sites.add(attempt.site_id)
        elif attempt.state == AttemptState.ASSIGNED.value:
            attempt.cancel_requested = True
            attempt_ended(
                tx,
                job,
                attempt,
                AttemptState.CANCELLED,
                now,
                exit_code=None,
                reason=f"{reason} before start",
                where=site.name if (site := tx.sites.site(attempt.site_id)) else attempt.site_id,
            )
            sites.add(attempt.site_id)
    return sites


def attempt_withdrawn(tx: Tx, job: Job, attempt: Attempt, now: datetime, *, reason: str, where: str) -> None:
    """The control plane pulls back an attempt that did not start in time; the job is placed again
    (elsewhere if it can be) without spending a retry: the tenant's job did nothing wrong."""
    attempt.state = attempt_transition(AttemptState(attempt.state), AttemptState.WITHDRAWN).value
    attempt.ended_at = now
    attempt.reason = reason
    said = f"attempt {attempt.number} on {where}: withdrawn ({reason})"
    if job.state == JobState.CANCELLING.value:
        _finish(tx, job, JobState.CANCELLED, now, said, exit_code=None, reason=job.reason or "cancelled")
    else:
        move_job(tx, job, JobState.PENDING, now, f"{said}; placing it again")


def attempt_preempt(tx: Tx, job: Job, attempt: Attempt, now: datetime, *, reason: str, where: str) -> bool:
    """Preempt a live attempt for a job the scheduler ranks higher. One not started at its site yet
    ends at once; a started one becomes PREEMPTING (the agent stops it: SIGTERM, a grace period, then
    SIGKILL) and keeps its capacity until the site says it ended. Returns whether the site must be told."""
    current = AttemptState(attempt.state)
    if current is AttemptState.ASSIGNED:
        attempt.state = attempt_transition(current, AttemptState.PREEMPTED).value
        attempt.cancel_requested = True  # fencing kills a late start
        attempt.ended_at, attempt.reason = now, reason
        _requeue(tx, job, now, f"attempt {attempt.number} on {where}: {_BEFORE_START} ({reason})")
        return False
    attempt.state = attempt_transition(current, AttemptState.PREEMPTING).value
    attempt.cancel_requested = True
    attempt.reason = reason
    tx.jobs.add_event(
        job.id, now, "preempting", f"attempt {attempt.number} on {where}: stopping it ({reason})"
    )
    return True


def _preempted(
    tx: Tx,
    job: Job,
    attempt: Attempt,
    outcome: AttemptState,
    now: datetime,
    *,
    exit_code: int | None,
    where: str,
    started_at: datetime | None,
) -> None:
    """A preempted attempt ended (killed, or lost meanwhile): the job queues again, retries untouched."""
    target = AttemptState.LOST if outcome is AttemptState.LOST else AttemptState.PREEMPTED
    attempt.state = attempt_transition(AttemptState.PREEMPTING, target).value
    attempt.ended_at, attempt.exit_code = now, exit_code
    if attempt.started_at is None and started_at is not None:
        attempt.started_at = min(max(started_at, attempt.created_at), now)
    said = f"attempt {attempt.number} on {where}: {target.value.lower()} ({attempt.reason or 'preempted'})"
    if job.state == JobState.CANCELLING.value:
        _finish(tx, job, JobState.CANCELLED, now, said, exit_code=exit_code, reason=job.reason or "cancelled")
        return
    _requeue(tx, job, now, said)


def _requeue(tx: Tx, job: Job, now: datetime, said: str) -> None:
    job.preemptions = (job.preemptions or 0) + 1
    move_job(tx, job, JobState.PENDING, now, f"{said}; queued again, retries untouched")


def _finish(
    tx: Tx,
    job: Job,
    target: JobState,
    now: datetime,
    message: str,
    *,
    exit_code: int | None,
    reason: str | None = None,
) -> None:
    move_job(tx, job, target, now, message)
    job.exit_code = exit_code
    job.reason = reason
    job.ended_at = now


def last_preemption(events: list[JobEvent]) -> JobEvent | None:
    """The last time one of the job's attempts was stopped for another job (told to stop while it
    ran, or taken back before it started), from its events oldest first; None if never."""
    for e in reversed(events):
        if e.kind == "preempting" or (
            e.kind == JobState.PENDING.value.lower() and _BEFORE_START in e.message
        ):
            return e
    return None
