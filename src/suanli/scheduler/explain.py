"""Why a job goes where it goes: every pool's verdict for one job, with the score of those that fit.

The same filters and scores as `schedule()`, run for one job against the pools as they are now; what
`suanli why JOB` shows. Pure: pools and job in, candidates out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from suanli.scheduler.framework import Profile, build, rank, run_filters, static_domain
from suanli.scheduler.plan import Code
from suanli.scheduler.snapshot import PendingJob, PoolView


@dataclass(frozen=True)
class Candidate:
    """One pool's answer for one job: a reason it does not fit, or its weighted score."""

    pool: str
    code: Code
    reason: str
    score: float | None = None
    scores: tuple[tuple[str, float], ...] = ()  # (plugin, weighted score) when it fits

    @property
    def fits(self) -> bool:
        return self.code is Code.OK


def explain(
    job: PendingJob, pools: Sequence[PoolView], profiles: dict[str, Profile]
) -> tuple[Candidate, ...]:
    """Pools that fit first, best score first (the one `schedule()` would pick leads), then the rest."""
    plugins = build(profiles.get(job.objective) or profiles["balanced"])
    feasible: list[PoolView] = []
    other: list[Candidate] = []
    for pool in pools:
        status = run_filters(plugins, job, pool, pool.free)
        if status.ok:
            feasible.append(pool)
        else:
            other.append(Candidate(pool.label, status.code, status.reason))
    fitting = [
        Candidate(pool.label, Code.OK, "fits now", sum(v for _, v in parts), parts)
        for pool, parts in rank(
            plugins, job, feasible, {p.id: p.free for p in pools}, static_domain(plugins, job, pools)
        )
    ]
    fitting.sort(key=lambda c: (-(c.score or 0.0), c.pool))
    other.sort(key=lambda c: (c.code is Code.UNRESOLVABLE, c.pool))
    return (*fitting, *other)
