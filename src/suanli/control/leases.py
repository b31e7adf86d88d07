"""Lease expiry: an attempt whose site said nothing for lease + grace is LOST and its job requeued."""

from __future__ import annotations

from datetime import datetime, timedelta

from suanli.control.lifecycle import attempt_ended
from suanli.domain.states import ATTEMPT_TERMINAL, AttemptState
from suanli.store import Tx

_ENDED = {s.value for s in ATTEMPT_TERMINAL}


def expire(tx: Tx, now: datetime, grace: float) -> set[str]:
    """Mark attempts lost; return the ids of the jobs that changed."""
    changed: set[str] = set()
    cutoff = now - timedelta(seconds=grace)
    expired = tx.jobs.expired_attempts(cutoff)
    # Lock first, then look again: a sync may have renewed the lease or ended the attempt meanwhile.
    tx.jobs.lock(a.job_id for a in expired)
    fresh = tx.jobs.attempts_by_ids([a.id for a in expired], fresh=True)
    for attempt in sorted(fresh.values(), key=lambda a: (a.job_id, a.number)):
        job = tx.jobs.get(attempt.job_id)
        site = tx.sites.site(attempt.site_id)
        if job is None or attempt.state in _ENDED or attempt.lease_expires_at >= cutoff:
            continue
        silent = (now - attempt.lease_expires_at).total_seconds()
        attempt_ended(
            tx,
            job,
            attempt,
            AttemptState.LOST,
            now,
            exit_code=None,
            reason=f"no word from the site for {silent:.0f}s past its lease",
            where=site.name if site else attempt.site_id,
        )
        changed.add(job.id)
    return changed


def extend_all(tx: Tx, now: datetime, lease_ttl: float) -> int:
    """After a control-plane restart, give every live attempt a fresh lease: agents could not renew
    while we were down, and they fence themselves on their own clocks anyway."""
    fresh = now + timedelta(seconds=lease_ttl)
    count = 0
    for site in tx.sites.sites():
        for attempt in tx.jobs.active_attempts_of_site(site.id):
            if attempt.lease_expires_at < fresh:
                attempt.lease_expires_at = fresh
                count += 1
    return count
