"""Failover: an attempt a site accepted but did not start within the start timeout is pulled back.

The attempt becomes WITHDRAWN (the site's agent is told to kill it at its next sync, by fencing), and
the job goes back to PENDING with its retries untouched; the scheduler then prefers other sites.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from suanli.control.lifecycle import attempt_withdrawn
from suanli.domain.states import AttemptState
from suanli.store import Tx

_UNSTARTED = {AttemptState.ASSIGNED.value, AttemptState.STARTING.value}


def pull_back(tx: Tx, now: datetime, start_timeout: float) -> tuple[set[str], set[str]]:
    """Withdraw attempts placed more than `start_timeout` s ago that are not running yet.

    Returns the ids of the jobs that changed and of the sites whose agents should hear of it.
    """
    cutoff = now - timedelta(seconds=start_timeout)
    stale = tx.jobs.unstarted_attempts(cutoff)
    # Lock first, then look again: a sync may have reported the attempt running meanwhile.
    tx.jobs.lock(a.job_id for a in stale)
    fresh = tx.jobs.attempts_by_ids([a.id for a in stale], fresh=True)
    jobs: set[str] = set()
    sites: set[str] = set()
    for attempt in sorted(fresh.values(), key=lambda a: (a.job_id, a.number)):
        job = tx.jobs.get(attempt.job_id)
        if job is None or attempt.state not in _UNSTARTED:
            continue
        site = tx.sites.site(attempt.site_id)
        attempt_withdrawn(
            tx,
            job,
            attempt,
            now,
            reason=f"not running {start_timeout:.0f}s after placement",
            where=site.name if site else attempt.site_id,
        )
        jobs.add(job.id)
        sites.add(attempt.site_id)
    return jobs, sites
