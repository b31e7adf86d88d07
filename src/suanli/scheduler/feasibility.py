"""Could a job ever run here? The static check the API makes before it accepts a job."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from suanli.scheduler.framework import build, run_filters
from suanli.scheduler.plan import Code, PoolVerdict, Status
from suanli.scheduler.profiles import PROFILES
from suanli.scheduler.snapshot import PendingJob, PoolView


def never_fits(job: PendingJob, pools: Sequence[PoolView]) -> tuple[PoolVerdict, ...] | None:
    """Verdicts per pool if no pool could take the job even when empty and online; None if one could.

    With no pools known at all the job may still wait for a site to join, so that is not "never".
    """
    if not pools:
        return None
    verdicts = []
    for pool, status in _empty_verdicts(job, pools):
        if status.ok:
            return None
        verdicts.append(PoolVerdict(pool.label, Code.UNRESOLVABLE, status.reason))
    return tuple(verdicts)


def could_run(job: PendingJob, pools: Sequence[PoolView]) -> list[PoolView]:
    """The pools that could take the job when empty and online (what `never_fits` looks for)."""
    return [pool for pool, status in _empty_verdicts(job, pools) if status.ok]


def _empty_verdicts(job: PendingJob, pools: Sequence[PoolView]) -> Iterator[tuple[PoolView, Status]]:
    """Each pool with what the job's filters say of it, empty and online."""
    plugins = build(PROFILES.get(job.objective) or PROFILES["balanced"])
    for pool in pools:
        empty = replace(pool, online=True, free=tuple(pool.per_node for _ in pool.free))
        yield pool, run_filters(plugins, job, empty, empty.free)
