"""Synthetic traces: rigid jobs whose offered load on a pool of N GPUs is a chosen target.

`generate(jobs=, gpus=, load=, tenants=, seed=)` draws, for each job in turn and from one
`random.Random(seed)` (so a seed always gives the same trace):

- a duration: log-normal with median `median_s` (30 min) and shape `sigma` (1.8, so the mean is
  about 2.5 h and the tail reaches days, like the Philly trace), rounded to whole seconds, at least
  1 s and at most `max_s` (7 days);
- a GPU count from `gpu_mix`, powers of two by share of jobs (1: 70%, 2: 10%, 4: 10%, 8: 7%, 16: 2%,
  32: 1%; fatter than Philly's 93% single-GPU so gangs matter), sizes above N left out and the
  rest renormalised;
- a tenant from `t1…tK`, Zipf-like: tenant k has weight 1 / k^`zipf` (1.0), so `t1` submits most;
- with probability `limit_share` (0.7), a run-time limit as users set one: the duration times an
  over-estimate factor drawn log-uniformly from [1, `max_overestimate`] (4), rounded up to the next
  quarter hour. It is never below the duration; the other jobs have none.

Arrivals are a Poisson process starting at second 0 whose rate is calibrated on the drawn jobs:
with W = Σ gpus × duration, the arrival window is T = W / (N × load) and the rate (jobs − 1) / T,
so the offered load `offered_load(trace, N)` = W / (N × span of the submits) is the target up to
the window's Poisson noise (about 1/√jobs). Submit times are rounded to whole seconds.

Job ids are the line numbers the jobs get in `write_philly`'s CSV ("2", "3", …) and the trace starts
at 1970-01-01, so a written trace reads back equal with `load_philly`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping

from suanli.sim.trace import EPOCH, Trace, TraceJob

__all__ = ["GPU_MIX", "generate", "offered_load"]

GPU_MIX: Mapping[int, float] = {1: 0.70, 2: 0.10, 4: 0.10, 8: 0.07, 16: 0.02, 32: 0.01}
_QUARTER_HOUR = 900.0


def generate(
    *,
    jobs: int,
    gpus: int,
    load: float,
    tenants: int = 8,
    seed: int = 0,
    median_s: float = 1800.0,
    sigma: float = 1.8,
    max_s: float = 7 * 86400.0,
    gpu_mix: Mapping[int, float] = GPU_MIX,
    zipf: float = 1.0,
    limit_share: float = 0.7,
    max_overestimate: float = 4.0,
) -> Trace:
    """A trace of `jobs` rigid jobs whose offered load on `gpus` GPUs is `load` (see the module doc)."""
    _check(jobs, gpus, load, tenants, median_s, sigma, max_s, limit_share, max_overestimate)
    rng = random.Random(seed)
    sizes = [size for size in sorted(gpu_mix) if size <= gpus and gpu_mix[size] > 0]
    if not sizes:
        raise ValueError(f"no GPU count in the mix {dict(gpu_mix)} fits a pool of {gpus}")
    size_weights = [gpu_mix[s] for s in sizes]
    names = [f"t{k}" for k in range(1, tenants + 1)]
    tenant_weights = [1 / k**zipf for k in range(1, tenants + 1)]
    drawn = []
    for _ in range(jobs):
        duration = float(min(max_s, max(1, round(rng.lognormvariate(math.log(median_s), sigma)))))
        size = rng.choices(sizes, size_weights)[0]
        tenant = rng.choices(names, tenant_weights)[0]
        limit = _limit(rng, duration, max_overestimate) if rng.random() < limit_share else None
        drawn.append((duration, size, tenant, limit))
    work = math.fsum(d * g for d, g, _, _ in drawn)
    submits = _arrivals(rng, jobs, work / (gpus * load))
    built = tuple(
        TraceJob(str(i + 2), submit, d, g, tenant, limit, None, f"syn-{i + 1}")
        for i, (submit, (d, g, tenant, limit)) in enumerate(zip(submits, drawn, strict=True))
    )
    source = f"synthetic: {jobs} jobs, load {load:g} on {gpus} GPUs, {tenants} tenants, seed {seed}"
    return Trace(source, EPOCH, built)


def offered_load(trace: Trace, gpus: int) -> float:
    """GPU-seconds asked for over what `gpus` GPUs deliver while the jobs arrive (first to last submit)."""
    if len(trace) < 2:
        raise ValueError("the offered load needs at least two jobs")
    submits = [j.submit for j in trace.jobs]
    span = max(submits) - min(submits)
    if span <= 0:
        raise ValueError("every job arrives at the same instant; the offered load is unbounded")
    return math.fsum(j.gpu_seconds for j in trace.jobs) / (gpus * span)


def _arrivals(rng: random.Random, jobs: int, window: float) -> list[float]:
    """Poisson arrivals from 0 at rate (jobs − 1) / window, rounded to whole seconds."""
    submits = [0.0]
    if jobs > 1:
        rate = (jobs - 1) / window
        t = 0.0
        for _ in range(jobs - 1):
            t += rng.expovariate(rate)
            submits.append(float(round(t)))
    return submits


def _limit(rng: random.Random, duration: float, max_overestimate: float) -> float:
    factor = math.exp(rng.uniform(0.0, math.log(max_overestimate)))
    return math.ceil(duration * factor / _QUARTER_HOUR) * _QUARTER_HOUR


MAX_JOBS = 2_000_000  # about 20 times the whole Philly trace; more only fills memory
MAX_LOAD = 100.0  # a pool asked for a hundred times what it has is a queue that never drains


def _check(
    jobs: int,
    gpus: int,
    load: float,
    tenants: int,
    median_s: float,
    sigma: float,
    max_s: float,
    limit_share: float,
    max_overestimate: float,
) -> None:
    problems = [
        (1 <= jobs <= MAX_JOBS, f"jobs must be between 1 and {MAX_JOBS:,}, not {jobs:,}"),
        (gpus >= 1, f"gpus must be at least 1, not {gpus}"),
        (0 < load <= MAX_LOAD, f"load must be above 0 and at most {MAX_LOAD:g}, not {load:g}"),
        (tenants >= 1, f"tenants must be at least 1, not {tenants}"),
        (median_s >= 1 and max_s >= median_s, f"need 1 ≤ median_s ≤ max_s, not {median_s}, {max_s}"),
        (sigma >= 0, f"sigma must be 0 or more, not {sigma}"),
        (0 <= limit_share <= 1, f"limit_share must be between 0 and 1, not {limit_share}"),
        (max_overestimate >= 1, f"max_overestimate must be at least 1, not {max_overestimate}"),
    ]
    for ok, message in problems:
        if not ok:
            raise ValueError(message)
