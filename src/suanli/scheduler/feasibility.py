"""Could a job ever run here? The static check the API makes before it accepts a job."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from suanli.scheduler.framework import build, run_filters
from suanli.scheduler.plan import Code, PoolVerdict
from suanli.scheduler.profiles import PROFILES
from suanli.scheduler.snapshot import PendingJob, PoolView


def never_fits(job: PendingJob, pools: Sequence[PoolView]) -> tuple[PoolVerdict, ...] | None:
    """Verdicts per pool if no pool could take the job even when empty and online; None if one could.

    With no pools known at all the job may still wait for a site to join, so that is not "never".
    """
    if not pools:
        return None
    plugins = build(PROFILES.get(job.objective) or PROFILES["balanced"])
    verdicts = []
    for pool in pools:
        empty = replace(pool, online=True, free=tuple(pool.per_node for _ in pool.free))
        status = run_filters(plugins, job, empty, empty.free)
        if status.ok:
            return None
        verdicts.append(PoolVerdict(pool.label, Code.UNRESOLVABLE, status.reason))
    return tuple(verdicts)
