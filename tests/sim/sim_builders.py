"""Small builders for simulator tests: a trace from tuples, a run, and the per-job figures to assert on."""

from __future__ import annotations

from datetime import datetime

from suanli.sim import Network, Pool, Run, Trace, TraceJob, make_policy, simulate

EPOCH = datetime(2017, 10, 1)


def trace_of(*jobs: tuple[float, float, int] | tuple[float, float, int, str]) -> Trace:
    """Jobs as (submit, duration, gpus[, tenant]); ids are the letters A, B, C ... in input order."""
    built = []
    for i, job in enumerate(jobs):
        submit, duration, gpus = job[0], job[1], job[2]
        tenant = job[3] if len(job) == 4 else "t"
        built.append(TraceJob(chr(ord("A") + i), float(submit), float(duration), int(gpus), str(tenant)))
    return Trace("test", EPOCH, tuple(built))


def replay(policy: str, trace: Trace, gpus: int, restart_overhead_s: float = 30.0) -> Run:
    policy_ = make_policy(policy, trace, gpus)
    return simulate(trace, gpus, policy_, name=policy, restart_overhead_s=restart_overhead_s)


def jcts(trace: Trace, run: Run) -> dict[str, float]:
    """Each job's completion time (finish − submit), by id."""
    return {j.id: o.finish - j.submit for j, o in zip(trace.jobs, run.outcomes, strict=True)}


def starts(trace: Trace, run: Run) -> dict[str, float]:
    return {j.id: o.first_start for j, o in zip(trace.jobs, run.outcomes, strict=True)}


def network_of(*pools: int | Pool) -> Network:
    """Pools in order; an int is an unpriced A100 pool of that many GPUs named p0, p1 ... at site s0, s1 ..."""
    built = [p if isinstance(p, Pool) else Pool(f"s{i}", f"p{i}", "A100", p) for i, p in enumerate(pools)]
    return Network("test", tuple(built))


def on_network(policy: str, trace: Trace, network: Network) -> Run:
    return simulate(trace, network, make_policy(policy, trace, network), name=policy)


def pools_used(trace: Trace, run: Run) -> dict[str, int]:
    """The pool each job (last) ran on, by id."""
    return {j.id: o.pool for j, o in zip(trace.jobs, run.outcomes, strict=True)}
