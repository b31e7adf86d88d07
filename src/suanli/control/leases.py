"""Lease expiry: an attempt whose site said nothing for lease + grace is LOST and its job requeued."""

from __future__ import annotations

from datetime import datetime, timedelta

from suanli.control.lifecycle import attempt_ended
from suanli.domain.states import AttemptState
from suanli.store import Tx


def expire(tx: Tx, now: datetime, grace: float) -> set[str]:
    """Mark attempts lost; return the ids of the jobs that changed."""
    changed: set[str] = set()
    for attempt in tx.jobs.expired_attempts(now - timedelta(seconds=grace)):
        job = tx.jobs.get(attempt.job_id, lock=True)
        site = tx.sites.site(attempt.site_id)
        if job is None:
            continue
        silent = (now - attempt.lease_expires_at).total_seconds() + grace
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
