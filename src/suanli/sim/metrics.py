"""What a run measured: JCT, queueing delay, slowdown, utilisation, fairness, cost, energy, carbon, speed.

Definitions (the first six as `reference/sim-baselines.md`): JCT = finish − submit; wait (queueing
delay) = first start − submit; bounded slowdown = max(1, JCT / max(duration, 10 s)); Jain's index over
the tenants' mean bounded slowdowns; percentiles by linear interpolation between closest ranks;
makespan = last finish − first submit; utilisation = Σ GPUs × duration / (N × makespan) (work done, so
restart overhead does not count); a pool's utilisation = GPU-seconds held there (restarts included) /
(its GPUs × makespan).

Finish-time fairness is Themis' (Mahajan et al., NSDI 2020): ρ = JCT_shared / JCT_isolated, where
JCT_isolated = duration × the number of tenants with work in the system (submitted, not finished) at
the job's submit, its own included: the job's time on a 1/N share of the cluster. It is floored at
10 s like bounded slowdown. Per tenant the mean ρ of its jobs; reported: the largest tenant mean (ρ ≤ 1
means every tenant did at least as well as on its fair share) and Jain's index over the tenant means.

Cost: each stretch a job held GPUs on a pool (restart overhead included) is charged GPUs × hours × the
pool's price per GPU-hour, rounded half-even to a minor unit, then summed exactly per tenant (integer
minor units). Energy: GPU TDP (accelerator catalog) × GPUs × hours held × the site's PUE, in kWh;
carbon: kWh × the site's grid intensity, in kg. All three are None on a network without prices or
energy figures (`--gpus N`). Scheduler time per pass: the time inside the policy's `decide` in each
pass (mean, p99, max), passes the policy skipped cheaply included.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal

from suanli.domain.catalog import default_catalog
from suanli.sim.engine import Run
from suanli.sim.network import Network
from suanli.sim.trace import Trace

__all__ = [
    "BSLD_FLOOR_S",
    "Summary",
    "bounded_slowdown",
    "finish_time_fairness",
    "jain_index",
    "percentile",
    "summarize",
]

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
    network: str = ""
    ftf_max: float = 1.0  # the largest tenant mean of Themis' ρ
    ftf_jain: float = 1.0
    currency: str | None = None
    cost_minor: int | None = None  # the whole run, in minor units of `currency`
    cost_minor_by_tenant: dict[str, int] | None = None
    energy_kwh: float | None = None
    carbon_kg: float | None = None
    pass_mean_s: float = 0.0
    pass_p99_s: float = 0.0
    pass_max_s: float = 0.0
    pool_utilisation: dict[str, float] | None = None  # by pool label, `site/pool`
    # GPU-seconds held beyond the work the jobs needed: progress redone after preemptions (lost since
    # the last checkpoint) plus restart overhead.
    lost_gpu_s: float = 0.0

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def summarize(trace: Trace, run: Run) -> Summary:
    """The figures of `run`, a replay of `trace`."""
    jobs, outcomes = trace.jobs, run.outcomes
    if not jobs:
        raise ValueError("a run of an empty trace has no figures")
    jct = [o.finish - j.submit for j, o in zip(jobs, outcomes, strict=True)]
    wait = [o.first_start - j.submit for j, o in zip(jobs, outcomes, strict=True)]
    bsld = [bounded_slowdown(t, j.duration) for t, j in zip(jct, jobs, strict=True)]
    makespan = max(o.finish for o in outcomes) - min(j.submit for j in jobs)
    work = math.fsum(j.gpu_seconds for j in jobs)
    ftf = finish_time_fairness(trace, jct)
    ftf_by_tenant = [_mean(v) for v in _by_tenant(trace, ftf).values()]
    passes = run.pass_s or (0.0,)
    network = run.network or Network.single(run.gpus)
    cost = _cost(trace, run, network)
    energy = _energy(run, network)
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
        jain=jain_index([_mean(v) for v in _by_tenant(trace, bsld).values()]),
        preemptions=sum(o.preemptions for o in outcomes),
        lost_gpu_s=max(
            0.0, math.fsum(g * t for g, t in zip(run.holds.gpus, run.holds.seconds, strict=True)) - work
        ),
        passes=run.passes,
        decide_s=run.decide_s,
        wall_s=run.wall_s,
        network=network.source,
        ftf_max=max(ftf_by_tenant),
        ftf_jain=jain_index(ftf_by_tenant),
        currency=network.currency,
        cost_minor=None if cost is None else sum(cost.values()),
        cost_minor_by_tenant=cost,
        energy_kwh=None if energy is None else energy[0],
        carbon_kg=None if energy is None else energy[1],
        pass_mean_s=_mean(passes),
        pass_p99_s=percentile(passes, 99),
        pass_max_s=max(passes),
        pool_utilisation=_pool_utilisation(run, network, makespan),
    )


def finish_time_fairness(trace: Trace, jct: Sequence[float]) -> list[float]:
    """Themis' ρ per job: JCT / (duration × tenants with work in the system at its submit), the
    denominator floored at `BSLD_FLOOR_S`. Finishes at an instant count before submits at it."""
    jobs = trace.jobs
    events = sorted(
        [(j.submit + t, 0, i) for i, (j, t) in enumerate(zip(jobs, jct, strict=True))]
        + [(j.submit, 1, i) for i, j in enumerate(jobs)]
    )
    active: dict[str, int] = defaultdict(int)
    sharers = [0] * len(jobs)
    k = 0
    while k < len(events):
        at, submitted = events[k][0], []
        while k < len(events) and events[k][0] == at:
            _, kind, i = events[k]
            tenant = jobs[i].tenant
            if kind == 0:
                active[tenant] -= 1
                if not active[tenant]:
                    del active[tenant]
            else:
                active[tenant] += 1
                submitted.append(i)
            k += 1
        for i in submitted:
            sharers[i] = len(active)
    return [t / max(j.duration * n, BSLD_FLOOR_S) for j, t, n in zip(jobs, jct, sharers, strict=True)]


def _by_tenant(trace: Trace, values: Sequence[float]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for j, v in zip(trace.jobs, values, strict=True):
        out[j.tenant].append(v)
    return out


def _cost(trace: Trace, run: Run, network: Network) -> dict[str, int] | None:
    """Minor units charged per tenant; None if any pool the run used has no price."""
    pools = network.pools
    if any(pools[p].price is None for p in set(run.holds.pool)):
        return None
    out: dict[str, int] = dict.fromkeys(sorted({j.tenant for j in trace.jobs}), 0)
    for job, pool, gpus, seconds in run.holds:
        price = pools[pool].price
        assert price is not None
        charge = price.times(Decimal(gpus) * Decimal(seconds) / 3600)
        out[trace.jobs[job].tenant] += charge.minor
    return out


def _energy(run: Run, network: Network) -> tuple[float, float] | None:
    """(kWh, kg CO2) over every hold; None if any pool the run used lacks a PUE or grid intensity."""
    pools, catalog = network.pools, default_catalog()
    gpu_seconds = [0.0] * len(pools)
    for _, where, gpus, seconds in run.holds:
        gpu_seconds[where] += gpus * seconds
    kwh = kg = 0.0
    for pool, used in zip(pools, gpu_seconds, strict=True):
        if not used:
            continue
        if pool.pue is None or pool.carbon_g_per_kwh is None:
            return None
        pool_kwh = catalog.get(pool.accelerator).tdp_w * used / 3600 * float(pool.pue) / 1000
        kwh += pool_kwh
        kg += pool_kwh * pool.carbon_g_per_kwh / 1000
    return kwh, kg


def _pool_utilisation(run: Run, network: Network, makespan: float) -> dict[str, float]:
    held = [0.0] * len(network.pools)
    for _, pool, gpus, seconds in run.holds:
        held[pool] += gpus * seconds
    return {
        p.label: (used / (p.gpus * makespan) if makespan > 0 else 0.0)
        for p, used in zip(network.pools, held, strict=True)
    }


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)
