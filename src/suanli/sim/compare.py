"""The scheduling-quality comparison: a pool sized to a target load, the baselines, the default policy,
and the three goals it is held to.

`pool_size` is the smallest multiple of 8 GPUs at which the trace's offered load is at most
`TARGET_LOAD` (the reference's N = 472 for Philly). `COMPARED` are run in this order: `fifo`, `easy`
(FIFO + EASY backfill, true durations), `las` (Tiresias, 3 queues), `las2` (2 queues at 16 GPU-hours)
`las-ckpt` (3 queues, evicting only just after a checkpoint: ADR 0019's fast prototype), `suanli`, the
production scheduler as the control plane runs it today (`fair` order), `suanli-service`, the
production scheduler with the `service` queue order (ADR 0017), and `suanli-las`, the production
scheduler with the `las` order (ADR 0019, 0022), the control plane's default: the candidate the goals
are checked for (`DEFAULT`). Every run charges preemptions
what they cost: a preempted job loses the progress since its last checkpoint (every
`DEFAULT_CHECKPOINT_S` of progress unless the job says otherwise) and pays the restart overhead.

The goals (`check`), for the default policy against the baselines of the same run:
1. average JCT no worse than the better of `las` and `las2`;
2. p99 JCT no worse than `easy`'s;
3. Jain's index over the tenants' mean bounded slowdowns no worse than `easy`'s.
`goals_by_policy` checks them for every one of `CANDIDATES` run (what `sim-compare` prints, and its
JSON's `goals_by_policy`); `chosen` is the run for a choice of policies, the baselines the goals need
(`GOAL_BASELINES`) added when it holds a candidate.

`synthetic_set` gives six traces the issue does not name, the same every time (`docs/benchmarks.md`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from suanli.domain.money import Money
from suanli.sim.loaders import load_trace
from suanli.sim.metrics import Summary
from suanli.sim.network import Network, Pool
from suanli.sim.synthetic import generate, offered_load
from suanli.sim.trace import Trace

__all__ = [
    "CANDIDATES",
    "COMPARED",
    "DEFAULT",
    "DEFAULT_CHECKPOINT_S",
    "GOAL_BASELINES",
    "TARGET_LOAD",
    "Goals",
    "check",
    "chosen",
    "goals_by_policy",
    "load_named",
    "pool_size",
    "sized_sites",
    "synthetic_set",
    "with_checkpoints",
]

TARGET_LOAD = 0.8
COMPARED = ("fifo", "easy", "las", "las2", "las-ckpt", "suanli", "suanli-service", "suanli-las")
DEFAULT = "suanli-las"  # the policy held to the goals: the control plane's default order (ADR 0023)
CANDIDATES = ("las-ckpt", "suanli", "suanli-service", "suanli-las")  # the goal lines sim-compare prints
GOAL_BASELINES = ("easy", "las", "las2")  # what the goals measure a candidate against
DEFAULT_CHECKPOINT_S = 1800.0  # DL training jobs checkpoint every 30 minutes of progress


def with_checkpoints(trace: Trace, every_s: float | None = DEFAULT_CHECKPOINT_S) -> Trace:
    """The trace with every job that declares no checkpoint interval declaring `every_s`: what the
    jobs tell the scheduler, and what the engine charges a preemption by."""
    if every_s is None:
        return trace
    jobs = tuple(j if j.checkpoint_s is not None else replace(j, checkpoint_s=every_s) for j in trace.jobs)
    return replace(trace, jobs=jobs)


def chosen(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """The policies to run for `names` (some of `COMPARED`), in `COMPARED` order, and those of
    `GOAL_BASELINES` added to them: when a candidate is chosen its goals are checked, and they need
    all three (a bar from `las` alone could be higher than the better of `las` and `las2`)."""
    wanted = set(names)
    added = [b for b in GOAL_BASELINES if b not in wanted] if wanted & set(CANDIDATES) else []
    return [n for n in COMPARED if n in wanted or n in added], added


def pool_size(trace: Trace, load: float = TARGET_LOAD, step: int = 8) -> int:
    """The smallest multiple of `step` GPUs with offered load ≤ `load`, and no smaller than the
    widest job."""
    at_one = offered_load(trace, 1)
    n = max(step, step * math.ceil(at_one / load / step))
    while offered_load(trace, n) > load:
        n += step
    widest = max(j.gpus for j in trace.jobs)
    return max(n, step * math.ceil(widest / step))


# What `sized_sites` splits a sized pool into: `examples/networks/small.yaml`'s sites, models and prices.
_SITES = (
    ("sh-lingang", "shanghai", Decimal("1.3"), 580, (("a100", "A100", 1250), ("v100", "V100", 400))),
    ("wh-wuhu", "anhui", Decimal("1.1"), 300, (("h100", "H100", 2100),)),
)


def sized_sites(trace: Trace, load: float = TARGET_LOAD) -> Network:
    """`pool_size(trace)` GPUs (offered load ≤ `load`) split over two sites and up to three pools
    of 8-GPU nodes, priced and sited as `examples/networks/small.yaml`: the multi-site network at the
    load the one-pool comparison runs at. As many pools as each can still hold the widest job, the
    nodes dealt out as evenly as they go (earlier pools get the odd ones)."""
    total = pool_size(trace, load) // 8
    widest = math.ceil(max(j.gpus for j in trace.jobs) / 8)
    count = max(1, min(3, total // max(1, widest)))
    nodes = [total // count + (1 if k < total % count else 0) for k in range(count)]
    kinds = [(site, region, pue, grid, pool) for site, region, pue, grid, pools in _SITES for pool in pools]
    pools = tuple(
        Pool(site, name, model, n * 8, n, 8, region, Money(price), pue, grid)
        for (site, region, pue, grid, (name, model, price)), n in zip(kinds, nodes, strict=False)
    )
    return Network(f"{total * 8} GPUs on {len(pools)} pools of 2 sites (--sites)", pools)


@dataclass(frozen=True)
class Goals:
    """The three goals for one trace: each bar, the default policy's figure, and whether it is met."""

    avg_jct_bar_s: float
    avg_jct_s: float
    p99_jct_bar_s: float
    p99_jct_s: float
    jain_bar: float
    jain: float

    @property
    def avg_ok(self) -> bool:
        return self.avg_jct_s <= self.avg_jct_bar_s

    @property
    def p99_ok(self) -> bool:
        return self.p99_jct_s <= self.p99_jct_bar_s

    @property
    def jain_ok(self) -> bool:
        return self.jain >= self.jain_bar

    def to_json(self) -> dict[str, Any]:
        """The bars and figures (seconds), and `met`: [avg, p99, Jain]."""
        return {**asdict(self), "met": [self.avg_ok, self.p99_ok, self.jain_ok]}

    def marks(self) -> str:
        return " ".join(
            f"{name} {'✓' if ok else '✗'}"
            for name, ok in (("avg≤LAS", self.avg_ok), ("p99≤EASY", self.p99_ok), ("Jain≥EASY", self.jain_ok))
        )


def check(summaries: Sequence[Summary], policy: str = DEFAULT) -> Goals | None:
    """The goals for `policy`, or None when a baseline they need (easy, and las or las2) is missing."""
    by = {s.policy: s for s in summaries}
    las = [by[n].avg_jct_s for n in ("las", "las2") if n in by]
    if policy not in by or "easy" not in by or not las:
        return None
    ours, easy = by[policy], by["easy"]
    return Goals(min(las), ours.avg_jct_s, easy.p99_jct_s, ours.p99_jct_s, easy.jain, ours.jain)


def goals_by_policy(summaries: Sequence[Summary]) -> dict[str, Goals]:
    """The goals of each of `CANDIDATES` among `summaries`, in that order; none when a baseline they
    need is missing."""
    found = {policy: check(summaries, policy) for policy in CANDIDATES}
    return {policy: goals for policy, goals in found.items() if goals is not None}


def synthetic_set() -> list[tuple[str, Trace]]:
    """Six synthetic traces, each named by the file `suanli sim-generate` writes the same trace to in
    `docs/benchmarks.md`: 3,000 jobs at offered load 0.8 on 64 GPUs (a sized pool of 72) for seeds 1,
    2 and 3 (`syn/sN.csv`), and with `--sigma 2.2 --tenants 15` (`syn/hN.csv`)."""
    found = []
    for seed in (1, 2, 3):
        found.append((f"syn/s{seed}.csv", generate(jobs=3000, gpus=64, load=0.8, seed=seed)))
        found.append(
            (f"syn/h{seed}.csv", generate(jobs=3000, gpus=64, load=0.8, seed=seed, sigma=2.2, tenants=15))
        )
    return found


def load_named(spec: str) -> tuple[str, str, Trace]:
    """A trace named as the bench scripts take it, `FORMAT:PATH[:LIMIT]`: its label for tables
    (`philly/workload-2.csv:1000`), a folder name for its plots that two traces do not share
    (`philly-workload-2-1000`), and the trace. Raises `SimError` (`TraceError`) as `load_trace`."""
    fmt, _, rest = spec.partition(":")
    path, _, limit = rest.partition(":")
    trace = load_trace(Path(path), fmt, int(limit) if limit else None)
    where = Path(path)
    label = f"{where.parent.name}/{where.name}" + (f":{limit}" if limit else "")
    folder = f"{where.parent.name}-{where.stem}" + (f"-{limit}" if limit else "")
    return label, folder, trace
