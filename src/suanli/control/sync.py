"""The agent sync: apply a site's level-triggered report, renew leases, answer with launches and kills.

Rules (see docs/api.md): a report names an attempt by id and fencing token; a report the server does
not recognise as a live attempt of this site is answered with `kill`; terminal reports are recorded
once and answered with `ack`; every live attempt the agent reports gets its lease renewed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter

from suanli.control import charging
from suanli.control.lifecycle import attempt_ended, attempt_progress, attempt_withdrawn
from suanli.domain.catalog import default_catalog
from suanli.domain.states import ATTEMPT_TERMINAL, AttemptState
from suanli.store import PoolOffer, Tx
from suanli.store.tables import Attempt, Site, UsageRecord

log = logging.getLogger("suanli.control")
IMPLAUSIBLE = Counter(
    "suanli_usage_implausible_total", "Usage records cut down to what their attempt could have used"
)

AGENT_STATES = {"STARTING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"}


@dataclass(frozen=True)
class Report:
    id: str
    fencing_token: int
    state: str
    exit_code: int | None = None
    reason: str | None = None
    started_at: datetime | None = None  # the agent's clock; used when no RUNNING report came first
    interrupted: bool = False  # the site stopped it deliberately (its agent shut down): not the job's doing


@dataclass(frozen=True)
class UsageReport:
    seq: int
    attempt_id: str
    wall_seconds: int
    cpu_seconds: int
    accelerator_seconds: int
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True)
class LogReport:
    attempt_id: str
    offset: int
    data: str


@dataclass
class Outcome:
    """What applying a report decided; `answer()` fills launches and cancels."""

    kill: list[str] = field(default_factory=list)
    ack: list[str] = field(default_factory=list)
    capacity_changed: bool = False
    jobs_changed: set[str] = field(default_factory=set)
    usage_acked_seq: int = 0
    usage_next_seq: int = 1  # past every number the site has used: where the agent numbers on from


def apply_report(
    tx: Tx,
    site: Site,
    now: datetime,
    lease_ttl: float,
    *,
    pools: list[PoolOffer] | None,
    attempts: list[Report],
    usage: list[UsageReport],
    logs: list[LogReport],
    stopping: bool = False,
) -> Outcome:
    """Apply one sync. `stopping`: the agent is stopping on purpose and this is its last report (it
    has stopped its attempts and reports them here): the site goes offline now, not a lease later,
    and what was placed there but never started is placed again at once."""
    out = Outcome()
    site.last_seen_at = now
    site.enrolled_at = site.enrolled_at or now
    if (site.agent_stopped_at is not None) != stopping:
        out.capacity_changed = True  # the site leaves, or is back: the scheduler sees it at once
    site.agent_stopped_at = now if stopping else None
    if pools is not None:
        out.capacity_changed = (
            tx.sites.offer(site.id, [canonical(p) for p in pools], now) or out.capacity_changed
        )
    rows = tx.jobs.attempts_by_ids(sorted({r.id for r in attempts} | {u.attempt_id for u in usage}))
    unstarted = _never_started(tx, site, {r.id for r in attempts}) if stopping else []
    # Lock the jobs of the reported attempts (and of those whose usage is charged, and of those a
    # stopping agent leaves unstarted), then read the attempts again: a cancel or a lease expiry
    # that committed meanwhile is seen, and none can interleave with this report.
    tx.jobs.lock(
        [row.job_id for row in rows.values() if row.site_id == site.id] + [a.job_id for a in unstarted]
    )
    rows = tx.jobs.attempts_by_ids(list(rows), fresh=True)
    lease = now + timedelta(seconds=lease_ttl)
    for report in attempts:
        row = rows.get(report.id)
        if row is None or row.site_id != site.id or row.fencing_token != report.fencing_token:
            (out.ack if report.state in ("SUCCEEDED", "FAILED", "CANCELLED") else out.kill).append(report.id)
            continue
        _apply_one(tx, site, row, report, lease, now, out)
    for chunk in logs:
        row = rows.get(chunk.attempt_id) or tx.jobs.attempt(chunk.attempt_id)
        if row is not None and row.site_id == site.id:
            job = tx.jobs.get(row.job_id)
            if job is not None:
                tx.jobs.append_log(job, row, chunk.offset, chunk.data)
                out.jobs_changed.add(job.id)
    fresh: dict[str, list[UsageRecord]] = {}
    for u in usage:
        row = rows.get(u.attempt_id)
        if row is not None and row.site_id == site.id:
            u = plausible(u, row, now)
            record = tx.jobs.add_usage(
                site_id=site.id,
                seq=u.seq,
                attempt=row,
                now=now,
                wall_seconds=u.wall_seconds,
                cpu_seconds=u.cpu_seconds,
                accelerator_seconds=u.accelerator_seconds,
                started_at=u.started_at,
                ended_at=u.ended_at,
            )
            if record is not None:
                fresh.setdefault(row.id, []).append(record)
        out.usage_acked_seq = max(out.usage_acked_seq, u.seq)
    out.usage_next_seq = tx.jobs.max_usage_seq(site.id) + 1
    _charge(tx, rows, fresh, now, out)
    if stopping:
        _withdraw(tx, site, [a.id for a in unstarted], now, out)
        return out
    # Attempts placed here but not launched yet: the agent is alive, so their leases hold too.
    for row in tx.jobs.active_attempts_of_site(site.id):
        if row.state == AttemptState.ASSIGNED.value:
            row.lease_expires_at = lease
    return out


def _never_started(tx: Tx, site: Site, reported: set[str]) -> list[Attempt]:
    """Attempts placed at the site that its stopping agent does not report: it never launched them
    (its last report names every attempt it holds), and it will not now."""
    return [
        a
        for a in tx.jobs.active_attempts_of_site(site.id)
        if a.state == AttemptState.ASSIGNED.value and a.id not in reported
    ]


def _withdraw(tx: Tx, site: Site, attempt_ids: list[str], now: datetime, out: Outcome) -> None:
    """Place again, without spending a retry, what a stopping agent never started (read again under
    the jobs' locks: a cancel may have ended one meanwhile)."""
    fresh = tx.jobs.attempts_by_ids(attempt_ids, fresh=True)
    for attempt in sorted(fresh.values(), key=lambda a: (a.job_id, a.number)):
        job = tx.jobs.get(attempt.job_id)
        if job is None or attempt.state != AttemptState.ASSIGNED.value:
            continue
        attempt_withdrawn(
            tx, job, attempt, now, reason="its agent stopped before starting it", where=site.name
        )
        out.jobs_changed.add(job.id)


# A usage record's wall time may exceed its interval, or the attempt's life on the server's clock, by
# this much (whole-second rounding, a clock a little ahead) before it is cut down.
USAGE_SLACK_S = 60


def plausible(u: UsageReport, row: Attempt, now: datetime) -> UsageReport:
    """A usage record cut down to what the attempt could have used: its wall time at most its own
    interval and the attempt's life so far on the server's clock (from placement to its end, or now);
    its accelerator and CPU seconds at most that wall time (and its rounding, `_held_for`) × what the
    attempt was allocated. A site
    is paid for what it reports, so a figure beyond those (an agent's bug, or worse) is never
    charged; the cut is logged and counted. Deterministic for a given record and attempt, so a resend
    is still recognised as one."""
    end = row.ended_at or now
    wall = min(u.wall_seconds, max(0, int((end - row.created_at).total_seconds())) + USAGE_SLACK_S)
    if u.started_at is not None and u.ended_at is not None:
        wall = min(wall, max(0, int((u.ended_at - u.started_at).total_seconds())) + 1)
    nodes = max(1, len(row.nodes))
    accelerators = min(u.accelerator_seconds, _held_for(wall, row.accelerators_per_node * nodes))
    cpus = min(u.cpu_seconds, _held_for(wall, row.cpus_per_node * nodes))
    if (wall, accelerators, cpus) == (u.wall_seconds, u.accelerator_seconds, u.cpu_seconds):
        return u
    IMPLAUSIBLE.inc()
    log.warning(
        "usage %s of attempt %s cut down to what it could have used: wall %s → %s s, accelerator %s → %s s, "
        "CPU %s → %s s",
        u.seq,
        row.id,
        u.wall_seconds,
        wall,
        u.accelerator_seconds,
        accelerators,
        u.cpu_seconds,
        cpus,
    )
    return replace(u, wall_seconds=wall, accelerator_seconds=accelerators, cpu_seconds=cpus)


def _held_for(wall: int, allocated: int) -> int:
    """The most seconds of `allocated` units a record of `wall` whole seconds can hold: a site rounds
    its wall time and its accelerator (CPU) seconds each to the nearest second, so the run was
    shorter than wall + ½ s (25.3 s on 4 GPUs is 25 s and 101 GPU-seconds, not a claim to cut)."""
    return ((2 * wall + 1) * allocated + 1) // 2


def _charge(
    tx: Tx, rows: dict[str, Attempt], fresh: dict[str, list[UsageRecord]], now: datetime, out: Outcome
) -> None:
    """Charge each new usage record once (the last one of an ended attempt finishes its hold); a
    live attempt whose funds that leaves exhausted is stopped, if its project says so."""
    charging.lock_for_charges(tx, fresh, now)
    for attempt_id, records in sorted(fresh.items()):
        row = rows[attempt_id]
        charging.charge(tx, row, records, now)
        job = tx.jobs.get(row.job_id)
        used = charging.exhausted_after_capture(tx, row, now)
        if job is not None and used is not None:
            charging.stop(tx, job, used, now)
            out.jobs_changed.add(job.id)


def _apply_one(
    tx: Tx, site: Site, row: Attempt, report: Report, lease: datetime, now: datetime, out: Outcome
) -> None:
    current = AttemptState(row.state)
    reported = AttemptState(report.state)
    terminal = reported in ATTEMPT_TERMINAL
    if current in ATTEMPT_TERMINAL:
        # The server already decided (lost, cancelled before start): a live attempt must die.
        (out.ack if terminal else out.kill).append(row.id)
        return
    job = tx.jobs.get(row.job_id)
    assert job is not None
    where = site.name
    if terminal:
        attempt_ended(
            tx,
            job,
            row,
            reported,
            now,
            exit_code=report.exit_code,
            reason=report.reason,
            where=where,
            started_at=report.started_at,
            interrupted=report.interrupted,
        )
        out.ack.append(row.id)
        out.capacity_changed = True
    else:
        attempt_progress(tx, job, row, reported, now, where)
        row.lease_expires_at = lease
    out.jobs_changed.add(job.id)


def canonical(offer: PoolOffer) -> PoolOffer:
    """Name the pool's accelerator as the catalog does (`a100`, `NVIDIA A100-SXM4-80GB` → `A100`), so
    it matches job specs; a model the catalog does not know is kept as the site said it."""
    if offer.accelerator is None:
        return offer
    known = default_catalog().find(offer.accelerator)
    return replace(offer, accelerator=known.name) if known else offer


def launches(tx: Tx, site: Site, reported: set[str]) -> list[dict[str, Any]]:
    """Attempts placed on this site that the agent has not reported holding yet."""
    out = []
    for row in tx.jobs.active_attempts_of_site(site.id):
        if row.state != AttemptState.ASSIGNED.value or row.id in reported or row.cancel_requested:
            continue
        job = tx.jobs.get(row.job_id)
        pool = tx.sites.pool(row.pool_id)
        if job is None or pool is None:
            continue
        out.append(
            {
                "attempt_id": row.id,
                "job_id": job.id,
                "attempt": row.number,
                "fencing_token": row.fencing_token,
                "spec": job.spec,
                "pool": pool.name,
                "allocation": {
                    "accelerator": row.accelerator,
                    "accelerators_per_node": row.accelerators_per_node,
                    "cpus_per_node": row.cpus_per_node,
                    "memory_mib_per_node": row.memory_mib_per_node,
                    "nodes": list(row.nodes),
                },
            }
        )
    return out


def cancels(tx: Tx, site: Site) -> list[str]:
    return [
        row.id
        for row in tx.jobs.active_attempts_of_site(site.id)
        if row.cancel_requested and row.state != AttemptState.ASSIGNED.value
    ]
