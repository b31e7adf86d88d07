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
    score: float | None = None  # when it fits, or could once it has room (`explain`)
    scores: tuple[tuple[str, float], ...] = ()  # (plugin, weighted score) with it

    @property
    def fits(self) -> bool:
        return self.code is Code.OK


def explain(
    job: PendingJob, pools: Sequence[PoolView], profiles: dict[str, Profile]
) -> tuple[Candidate, ...]:
    """Pools that fit first, best score first (the one `schedule()` would pick leads), then the rest.

    A pool that could run the job but has no room for it now (it is in the job's domain, ADR 0027)
    carries the score it would have too: cost scores are normalised over the domain, so that score
    is the one the cycle will rank it by once it frees, and a tenant can weigh a better pool later
    against a worse one now. Pools that could never run the job have no score."""
    plugins = build(profiles.get(job.objective) or profiles["balanced"])
    domain = static_domain(plugins, job, pools)
    in_domain = {p.id for p in domain}
    statuses = [(pool, run_filters(plugins, job, pool, pool.free)) for pool in pools]
    scored = [pool for pool, status in statuses if status.ok or pool.id in in_domain]
    parts = {p.id: mine for p, mine in rank(plugins, job, scored, {p.id: p.free for p in pools}, domain)}
    fitting: list[Candidate] = []
    other: list[Candidate] = []
    for pool, status in statuses:
        mine = parts.get(pool.id)
        score = sum(v for _, v in mine) if mine is not None else None
        if status.ok:
            fitting.append(Candidate(pool.label, Code.OK, "fits now", score, mine or ()))
        else:
            other.append(Candidate(pool.label, status.code, status.reason, score, mine or ()))
    fitting.sort(key=lambda c: (-(c.score or 0.0), c.pool))
    other.sort(key=lambda c: (c.code is Code.UNRESOLVABLE, c.pool))
    return (*fitting, *other)
