"""What a run measured: per-job times summarised as JCT, wait, bounded slowdown, utilisation, fairness.

Definitions (the same as `reference/sim-baselines.md`): JCT = finish − submit; wait = first start −
submit; bounded slowdown = max(1, JCT / max(duration, 10 s)); Jain's index over the tenants' mean bounded
slowdowns; percentiles by linear interpolation between closest ranks; makespan = last finish − first
submit; utilisation = Σ GPUs × duration / (N × makespan).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from suanli.sim.engine import Run
from suanli.sim.trace import Trace

__all__ = ["BSLD_FLOOR_S", "Summary", "bounded_slowdown", "jain_index", "percentile", "summarize"]

BSLD_FLOOR_S = 10.0  # jobs shorter than this count as this long, so tiny jobs do not dominate slowdown


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0–100), interpolating linearly between closest ranks (NumPy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not between 0 and 100")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def bounded_slowdown(jct: float, duration: float, floor: float = BSLD_FLOOR_S) -> float:
    return max(1.0, jct / max(duration, floor))


def jain_index(values: Sequence[float]) -> float:
    """(Σx)² / (n Σx²): 1 when all are equal, 1/n when one takes everything."""
    if not values:
        raise ValueError("Jain's index of no values")
    squares = math.fsum(x * x for x in values)
    if squares == 0:
        return 1.0
    return math.fsum(values) ** 2 / (len(values) * squares)


@dataclass(frozen=True)
class Summary:
    """One run's figures; times in seconds (the comparison table shows hours)."""

    policy: str
    gpus: int
    jobs: int
    avg_jct_s: float
    p50_jct_s: float
    p99_jct_s: float
    avg_wait_s: float
    p50_wait_s: float
    p99_wait_s: float
    avg_bsld: float
    p99_bsld: float
    makespan_s: float
    utilisation: float
    jain: float
    preemptions: int
    passes: int
    decide_s: float
    wall_s: float

    def to_json(self) -> dict[str, str | int | float]:
        return asdict(self)


def summarize(trace: Trace, run: Run) -> Summary:
    """The figures of `run`, a replay of `trace`."""
    jobs, outcomes = trace.jobs, run.outcomes
    if not jobs:
        raise ValueError("a run of an empty trace has no figures")
    jct = [o.finish - j.submit for j, o in zip(jobs, outcomes, strict=True)]
    wait = [o.first_start - j.submit for j, o in zip(jobs, outcomes, strict=True)]
    bsld = [bounded_slowdown(t, j.duration) for t, j in zip(jct, jobs, strict=True)]
    by_tenant: dict[str, list[float]] = defaultdict(list)
    for j, b in zip(jobs, bsld, strict=True):
        by_tenant[j.tenant].append(b)
    makespan = max(o.finish for o in outcomes) - min(j.submit for j in jobs)
    work = math.fsum(j.gpu_seconds for j in jobs)
    return Summary(
        policy=run.policy,
        gpus=run.gpus,
        jobs=len(jobs),
        avg_jct_s=_mean(jct),
        p50_jct_s=percentile(jct, 50),
        p99_jct_s=percentile(jct, 99),
        avg_wait_s=_mean(wait),
        p50_wait_s=percentile(wait, 50),
        p99_wait_s=percentile(wait, 99),
        avg_bsld=_mean(bsld),
        p99_bsld=percentile(bsld, 99),
        makespan_s=makespan,
        utilisation=work / (run.gpus * makespan) if makespan > 0 else 0.0,
        jain=jain_index([_mean(v) for v in by_tenant.values()]),
        preemptions=sum(o.preemptions for o in outcomes),
        passes=run.passes,
        decide_s=run.decide_s,
        wall_s=run.wall_s,
    )


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)
