"""Queue order `service`: least attained service first, with an ageing bound for long waiters.

Durations are not known when jobs wait, so the order is by what *is* known: how much service each
job has had (accelerators × seconds run, kept or lost, `PendingJob.ran_s`), what it is expected to need
(`expected_s`: a prediction from finished jobs, else its max_runtime), and how long it has waited.

A job's **rank** (lower goes first, and only a lower rank may evict a higher one) comes from the
band of its attained service on a geometric ladder of accelerator-hours (a rung at
``LADDER_BASE_S × LADDER_RATIO**k``; band 0 below the first) and its age:

- **1**: band 0, not aged. New and small jobs go first, as in Tiresias' discretized LAS.
- **2 (`AGED`)**: it has waited, in all, at least its *ageing bound*
  ``AGEING_FACTOR × max(expected_s, ran_s, AGEING_FLOOR_S)``. Aged jobs go next, oldest first; a
  blocked aged job gets an EASY reservation (backfill guards the capacity it needs) and may evict
  preemptible jobs past the first rung that are not aged; once started, an aged job is not evicted
  for service until it has run for its ageing bound (then it ranks by its service again). So after its bound only other aged jobs, jobs that cannot resume, and jobs below one
  accelerator-hour of service (each of which finishes or passes the rung soon) stand before it.
  Aged jobs do not go before new ones: in a long overload nearly every job outlives its bound, and
  putting them all first would turn the queue into FIFO (measured: the Philly average went from
  LAS-like to EASY-like).
- **2 + band**, band ≥ 1, not aged: jobs that have had more service than the first rung.

The ladder is scale-free (every factor of four is a rung), so it needs no constant fitted to one
trace; the rungs bound how often one job is preempted (log₄ of its size in accelerator-hours).

Within one rank, the fair-share order of `order.FairQueue` applies (priority first, then the org's
and project's dominant share), then, for jobs not aged, the smallest expected work first (expected
seconds × accelerators, unknown last), then age. A running job keeps its place against a waiting
job of the same rank ("holders first"), so jobs do not thrash on a rung.

Under **`las`** (ADR 0019, 0022; `every_band` False) only a job below the first rung ages; its
ageing floor is the time its first rung takes (one accelerator-hour over its accelerators), and once
aged a job of more than one accelerator keeps its place among the new jobs (`queue_rank`: fair
share, then expected work) while it reserves and may evict jobs past the first rung. A job that
waits alone holds back from evicting for service for its expected run time (`holds_back`, ADR 0025).

**When an attempt may be evicted** (`evictable_rank`): one that declares a checkpoint interval only
within `CHECKPOINT_WINDOW_S` after one of its checkpoints (so it loses at most that much work), one
that declares none only after `MIN_RUN_S` of running; never an aged one. The constants are design
choices, not fits to a trace: see ADR 0017.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

from suanli.scheduler.snapshot import PendingJob, Running

__all__ = [
    "AGED",
    "AGEING_FACTOR",
    "AGEING_FLOOR_S",
    "LADDER_BASE_S",
    "LADDER_RATIO",
    "accelerators",
    "ageing_bound_s",
    "band",
    "evictable_until",
    "holds_back",
    "holds_back_until_s",
    "is_aged",
    "may_age",
    "moves_after_s",
    "next_rung_s",
    "pending_rank",
    "protected_until",
    "queue_rank",
    "running_rank",
    "waited_s",
    "waits_alone",
]

LADDER_BASE_S = 3600.0  # accelerator-seconds: the first rung is one accelerator-hour
LADDER_RATIO = 4.0
AGEING_FACTOR = 2.0  # aged after waiting twice what it is expected to need (or has run) …
AGEING_FLOOR_S = 3600.0  # … of at least an hour: no job is aged before two hours of waiting


def band(service_s: float) -> int:
    """The rung of the ladder `service_s` accelerator-seconds have reached (0: below the first)."""
    if service_s < LADDER_BASE_S:
        return 0
    return 1 + int(math.log(service_s / LADDER_BASE_S, LADDER_RATIO) + 1e-9)


def next_rung_s(service_s: float) -> float:
    """The accelerator-seconds at which a job with `service_s` moves to the next band."""
    return LADDER_BASE_S * LADDER_RATIO ** band(service_s)


def ageing_bound_s(
    expected_s: float | None, ran_s: float, accelerators: int = 1, every_band: bool = True
) -> float:
    """How long, in all, a job may wait before it is aged (module docstring).

    Under `las` (`every_band` False, ADR 0022) the floor is the time the job's first rung takes, one
    accelerator-hour over its accelerators, rather than an hour: fit-first hands every freed
    accelerator to a narrow job, so only ageing gets a wide one the room it needs, and measured in
    accelerator-hours of waiting it then comes as soon for a wide job as for a narrow one."""
    floor = AGEING_FLOOR_S if every_band else LADDER_BASE_S / max(accelerators, 1)
    return AGEING_FACTOR * max(expected_s or 0.0, ran_s, floor)


def accelerators(job: PendingJob) -> int:
    options = job.resources.accelerators
    return (options[0].count if options else 0) * job.resources.nodes


def waited_s(job: PendingJob, now: datetime) -> float:
    """Seconds the job has spent waiting since it was submitted (time since then less its progress)."""
    return max(0.0, (now - job.created_at).total_seconds() - job.ran_s)


def waits_alone(waiting: int, every_band: bool) -> bool:
    """Whether, with `waiting` jobs waiting in all, one of them waits *alone* in the sense of
    `holds_back`: under `las` (not `every_band`), no other job waits. The reserver, the simulator's
    wake-ups and `explain_wait` all ask this one question."""
    return not every_band and waiting == 1


def holds_back(job: PendingJob, now: datetime) -> bool:
    """Under `las`, whether a job that waits *alone* (no other job is waiting) still holds back from
    evicting for service (ADR 0025): it does until it has waited as long as it is expected to run.

    Alone, every accelerator that frees is its own, so an eviction buys it only the time until
    enough free, while the victim pays a restart, the work since its checkpoint and a wait of its
    own; waiting at most its expected run time keeps its bounded slowdown from this wait within 2
    (`AGEING_FACTOR`). With no expectation (no history, no max_runtime) it evicts at once, as LAS."""
    return job.expected_s is not None and waited_s(job, now) < job.expected_s


def holds_back_until_s(job: PendingJob) -> float | None:
    """Seconds after its submission at which a lone waiting job stops holding back (`holds_back`),
    or None if it never does."""
    if job.expected_s is None:
        return None
    return job.ran_s + job.expected_s


def moves_after_s(job: PendingJob, preempt_after_s: float) -> float:
    """How long a job waits before it may move attempts to gather its room (ADR 0028): as long as
    it is expected to run (the prediction, else its max_runtime), and no less than
    `preempt_after_s`. Room in pieces mostly comes whole as jobs end; a move costs each attempt moved
    a restart, so it is made for a job whose wait would otherwise outgrow its run."""
    return max(preempt_after_s, job.expected_s or 0.0)


MIN_RUN_S = 600.0  # an attempt that declares no checkpoints runs this long before it may be evicted
CHECKPOINT_WINDOW_S = 120.0  # one that does is evicted only this soon after a checkpoint


AGED = 2  # the rank of an aged job: after new jobs (1), before jobs past the first rung (3 and up)


def may_age(job: PendingJob, every_band: bool = True) -> bool:
    """Whether the job can be aged at all: under `service` (`every_band`) every job; under `las`
    (ADR 0019) only one below the first rung, which has not had an accelerator-hour yet."""
    return every_band or band(job.ran_s * max(accelerators(job), 1)) == 0


def is_aged(job: PendingJob, now: datetime, every_band: bool = True) -> bool:
    if not may_age(job, every_band):
        return False
    return waited_s(job, now) >= ageing_bound_s(job.expected_s, job.ran_s, accelerators(job), every_band)


def pending_rank(job: PendingJob, now: datetime, every_band: bool = True) -> int:
    """1 for a job below the first rung, `AGED` for an aged one, 2 + its band for the others.
    (`is_aged` and `may_age` written out: every cycle asks this of every waiting job.)"""
    n = accelerators(job)
    b = band(job.ran_s * max(n, 1))
    if (every_band or b == 0) and waited_s(job, now) >= ageing_bound_s(
        job.expected_s, job.ran_s, n, every_band
    ):
        return AGED
    return 1 if b == 0 else AGED + b


def queue_rank(job: PendingJob, now: datetime, every_band: bool = True) -> int:
    """The rank the queue order sorts `job` by: `pending_rank`, except that under `las` an aged job
    of more than one accelerator keeps its place in band 0 (ADR 0022). Fit-first hands every freed
    accelerator to whichever narrow job comes first, so a wide job aged behind every new one still
    waited for a burst of them to drain; in band 0 fair share and the smallest expected work put it
    where its tenant's share says, and it reserves. An aged 1-accelerator job is never kept out by
    width, and stays after the new ones: kept in band 0 as well, the dominant tenant's many aged
    jobs waited behind every smaller tenant's new ones (measured: Philly-10000's Jain 0.607 → 0.333)."""
    rank = pending_rank(job, now, every_band)
    return 1 if rank == AGED and not every_band and accelerators(job) > 1 else rank


def running_rank(r: Running, now: datetime, every_band: bool = True) -> int:
    """0 for an attempt that was aged when it started (never evicted for service), else the rank a
    waiting job with its service would have.

    Kept in `Running.memo` with the span it holds for (until its protection ends or its service
    reaches the next rung): every cycle asks it of every attempt that may be evicted."""
    key = ("running_rank", every_band)
    kept = cast("tuple[int, datetime, datetime] | None", r.memo.get(key))
    if kept is not None and kept[1] <= now < kept[2]:
        return kept[0]
    value = running_service_s(r, now, every_band)
    if value is None:
        protected = protected_until(r, every_band)
        assert protected is not None
        r.memo[key] = (0, now, protected)
        return 0
    b = band(value)
    rank = 1 if b == 0 else AGED + b
    if r.started_at is None:  # not running yet: its service does not grow
        until = datetime.max.replace(tzinfo=now.tzinfo)
    else:  # service grows by its accelerators a second: asked again a millisecond before the rung
        gpus = max(r.per_node.accelerators * len(r.nodes), 1)
        rung = next_rung_s(value) * (1 - 2e-9)  # `band` counts a relative 1.4e-9 short of a rung as past it
        until = now + timedelta(seconds=max(0.0, (rung - value) / gpus - 1e-3))
    r.memo[key] = (rank, now, until)
    return rank


_CLOSED = "evictable_from"  # `Running.memo` key: the next moment `evictable_rank` may be above 0


def evictable_rank(r: Running, now: datetime, every_band: bool = True) -> int:
    """The rank an attempt may be evicted at for service, or 0 (not now).

    Never while it is aged. An attempt that declares a checkpoint interval is evicted only just after
    a checkpoint (within `CHECKPOINT_WINDOW_S` of one, and after its first), so it loses at most that
    much work; one that declares none, only after it has run `MIN_RUN_S` since it (re)started. Either
    way a job cannot be evicted over and over for nothing."""
    if r.started_at is None:
        return running_rank(r, now, every_band)
    memo = r.memo
    closed = memo.get(_CLOSED)  # until when it may not be evicted (worked out the last time)
    if closed is not None and now < closed:  # type: ignore[operator]
        return 0
    ran = (now - r.started_at).total_seconds()
    if r.checkpoint_s:
        if ran < r.checkpoint_s or ran % r.checkpoint_s > CHECKPOINT_WINDOW_S:
            memo[_CLOSED] = r.started_at + timedelta(seconds=(ran // r.checkpoint_s + 1) * r.checkpoint_s)
            return 0
    elif ran < MIN_RUN_S:
        memo[_CLOSED] = r.started_at + timedelta(seconds=MIN_RUN_S)
        return 0
    return running_rank(r, now, every_band)


def evictable_until(r: Running, now: datetime, every_band: bool = True) -> tuple[int, datetime]:
    """`evictable_rank` at `now`, and an instant before which it cannot change: the attempt's
    checkpoint window opens (or its minimum run ends), the window closes, its service reaches the
    next rung, or its protection ends (`evictable.EvictableRanks` asks again only then)."""
    rank = evictable_rank(r, now, every_band)
    memo = r.memo
    closed = memo.get(_CLOSED)
    if closed is not None and now < closed:  # type: ignore[operator]
        return rank, closed  # type: ignore[return-value]
    kept = cast("tuple[int, datetime, datetime]", memo[("running_rank", every_band)])
    until = kept[2]
    if r.checkpoint_s and r.started_at is not None:  # open: until its window closes
        ran = (now - r.started_at).total_seconds()
        every = r.checkpoint_s
        until = min(until, r.started_at + timedelta(seconds=(ran // every) * every + CHECKPOINT_WINDOW_S))
    return rank, until


def next_evictable_s(r: Running, now: datetime) -> float:
    """Seconds from `now` until the attempt may next be evicted for service (0: it may be now), its
    rank permitting."""
    if r.started_at is None:
        return 0.0
    ran = (now - r.started_at).total_seconds()
    every = r.checkpoint_s
    if not every:
        return max(0.0, MIN_RUN_S - ran)
    if ran >= every and ran % every <= CHECKPOINT_WINDOW_S:
        return 0.0
    return (math.floor(ran / every) + 1) * every - ran


def protected_until(r: Running, every_band: bool = True) -> datetime | None:
    """When an attempt that was aged at its start stops being protected from eviction for service:
    after running for its ageing bound (so each time a job ages it gets a run at least that long);
    None for an attempt that was not aged."""
    memo = r.memo
    key = ("protected_until", every_band)
    if key in memo:
        return memo[key]  # type: ignore[return-value]
    until = memo[key] = _protected_until(r, every_band)
    return until


def _protected_until(r: Running, every_band: bool) -> datetime | None:
    if r.created_at is None or r.started_at is None:
        return None
    if not every_band and band(r.ran_s * max(r.per_node.accelerators * len(r.nodes), 1)) > 0:
        return None  # under `las` only an attempt that started below the first rung was aged
    waited = (r.started_at - r.created_at).total_seconds() - r.ran_s
    bound = ageing_bound_s(r.expected_s, r.ran_s, r.per_node.accelerators * len(r.nodes), every_band)
    if waited < bound:
        return None
    return r.started_at + timedelta(seconds=bound)


def running_service_s(r: Running, now: datetime, every_band: bool = True) -> float | None:
    """The accelerator-seconds of service an attempt is ranked by, or None while it is protected
    (`protected_until`)."""
    until = protected_until(r, every_band)
    if until is not None and now < until:
        return None
    ran = r.ran_s
    if r.started_at is not None:
        ran += max(0.0, (now - r.started_at).total_seconds())
    return ran * max(r.per_node.accelerators * len(r.nodes), 1)


def explain_wait(job: PendingJob, queue: Sequence[PendingJob], now: datetime, every_band: bool = True) -> str:
    """Why a waiting job waits under the `service` order (`las`: `every_band` False), for people
    (what `suanli why` shows): the jobs ranked before it, by tenant, and when the ageing rule
    promotes it, if it can."""
    rank = queue_rank(job, now, every_band)
    aged = is_aged(job, now, every_band)
    ahead: dict[str, int] = {}
    for other in queue:
        if other.id != job.id and _before(other, job, now, rank, every_band):
            ahead[other.org_id] = ahead.get(other.org_id, 0) + 1
    total = sum(ahead.values())
    if aged:
        where = (
            "it has waited past its ageing bound: only new jobs and older aged ones go first"
            if every_band
            else "it has waited past its ageing bound: it holds room for itself and may evict jobs past "
            "the first rung"
        )
        return f"{where}; {total} job{'s' if total != 1 else ''} are ahead of it"
    by = ", ".join(f"{n} of tenant {org}" for org, n in sorted(ahead.items(), key=lambda kv: (-kv[1], kv[0])))
    head = (
        f"waiting behind {total} job{'s' if total != 1 else ''} with less service or shorter expected work"
        if total
        else "no waiting job goes before it in the queue order"  # what holds it is said beside (gates, pools)
    )
    # a job without accelerators has its service counted in hours, one unit however many CPUs
    freed, hour = (
        ("every accelerator", "an accelerator-hour")
        if accelerators(job)
        else ("all capacity", "an hour of service")
    )
    alone = ""
    if waits_alone(len(queue), every_band) and job.expected_s is not None and holds_back(job, now):
        alone = (
            f"; it waits alone, so {freed} that frees is its own: it evicts no job for service "
            f"for {_duration(job.expected_s - waited_s(job, now))} more (its expected run time)"
        )
    if not may_age(job, every_band):
        return f"{head}{f' ({by})' if by else ''}; it has had {hour}, so it is not promoted{alone}"
    left = ageing_bound_s(job.expected_s, job.ran_s, accelerators(job), every_band) - waited_s(job, now)
    return f"{head}{f' ({by})' if by else ''}; promoted in {_duration(left)} by the ageing rule{alone}"


def _before(other: PendingJob, job: PendingJob, now: datetime, rank: int, every_band: bool) -> bool:
    theirs = queue_rank(other, now, every_band)
    if theirs != rank:
        return theirs < rank
    if rank == AGED and every_band:  # `las` orders its aged jobs by expected work too
        return (other.created_at, other.id) < (job.created_at, job.id)
    mine, work = _work(job), _work(other)
    return (work, other.created_at, other.id) < (mine, job.created_at, job.id)


def _work(job: PendingJob) -> float:
    return job.expected_s * max(accelerators(job), 1) if job.expected_s is not None else math.inf


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"
