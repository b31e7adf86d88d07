"""Scheduling-cycle benchmark: one `schedule(snapshot, PROFILES)` call on synthetic networks of growing size.

Each size is a seeded, synthetic network (pools per site, accelerator models, partly used nodes,
prices, PUE and grid intensity) and a queue of pending jobs (1–8 accelerators per node, some
gangs, some alternatives such as A100:8 or H800:8, some CPU-only, mixed objectives, a few with
constraints). The timed part is the `schedule()` call alone, in this process, on one core; building
the snapshot is not counted. Reading the `waiting` reasons is not counted either: the plan expands a
job's per-pool verdicts when they are asked for (`GET /jobs/{id}`, `suanli why`).

Columns: cycle time (wall and this process's CPU time), placements made, placements per wall second
and per CPU second (the fairer figure on a shared machine), jobs examined/s (every pending job is
examined once per cycle). Run: `make bench`, or `.venv/bin/python bench/schedule_cycle.py [--sizes 1000x10,…]`;
`--digest` adds a fingerprint of each plan, to check that a change made for speed decides the same.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import platform
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from suanli.domain.money import Money
from suanli.domain.resources import AcceleratorOption, Resources, Vector
from suanli.scheduler import PROFILES, PendingJob, Plan, PoolView, Snapshot, schedule

SIZES = ((1_000, 10), (3_000, 30), (10_000, 100), (30_000, 300), (100_000, 1_000))
REGIONS = ("cn-north", "cn-east", "cn-south", "cn-west")
# model → (weight among pools, price per accelerator-hour in fen, low and high)
MODELS: dict[str | None, tuple[int, int, int]] = {
    "A100": (30, 700, 1_400),
    "H100": (20, 1_800, 3_200),
    "H800": (15, 1_600, 3_000),
    "V100": (15, 250, 600),
    None: (20, 8, 30),  # CPU-only pools, priced per CPU-hour
}
GIB = 1024
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_pool(rng: random.Random, i: int, site: int) -> PoolView:
    models = list(MODELS)
    model = rng.choices(models, weights=[MODELS[m][0] for m in models])[0]
    nodes = rng.choice((1, 2, 4, 8, 8, 16, 16, 32, 64))
    if model:
        per_node = Vector(rng.choice((4, 8, 8)), rng.choice((64, 96, 128)), rng.choice((512, 1024)) * GIB)
    else:
        per_node = Vector(0, rng.choice((64, 128)), rng.choice((256, 512)) * GIB)
    free = [per_node] * nodes
    if rng.random() < 0.4:  # partly used: some nodes busy, some partly
        for n in range(nodes):
            roll = rng.random()
            if roll < 0.3:
                free[n] = Vector()
            elif roll < 0.6:
                used = rng.randint(0, per_node.accelerators)
                free[n] = per_node - Vector(used, per_node.cpus * used // 8, per_node.memory_mib * used // 8)
    _, lo, hi = MODELS[model]
    return PoolView(
        id=f"pool-{i}",
        site_id=f"site-{site}",
        site=f"s{site:04d}",
        name=f"{(model or 'cpu').lower()}-{i}",
        accelerator=model,
        per_node=per_node,
        free=tuple(free),
        online=rng.random() < 0.97,
        region=REGIONS[site % len(REGIONS)],
        price=Money(rng.randint(lo, hi)) if rng.random() < 0.9 else None,
        pue=Decimal(rng.randint(110, 160)) / 100 if rng.random() < 0.85 else None,
        carbon_g_per_kwh=rng.randint(300, 800) if rng.random() < 0.85 else None,
    )


def make_job(rng: random.Random, i: int, sites: int) -> PendingJob:
    gpu_models = ("A100", "H100", "H800", "V100")
    options: tuple[AcceleratorOption, ...] = ()
    if rng.random() < 0.8:
        count = rng.choice((1, 1, 2, 4, 8, 8))
        first = rng.choice(gpu_models)
        options = (AcceleratorOption(first, count),)
        if rng.random() < 0.25:  # alternatives, e.g. A100:8 or H800:8
            other = rng.choice([m for m in gpu_models if m != first])
            options += (AcceleratorOption(other, count),)
        nodes = 1 if rng.random() < 0.85 else rng.choice((2, 4, 8, 16))
        cpus = count * rng.choice((4, 8, 12))
        memory = count * rng.choice((32, 64, 96)) * GIB
    else:
        nodes = 1 if rng.random() < 0.9 else rng.choice((2, 4))
        cpus = rng.choice((1, 2, 4, 8, 16, 32))
        memory = cpus * rng.choice((2, 4, 8)) * GIB
    roll = rng.random()
    return PendingJob(
        id=f"job-{i:06d}",
        resources=Resources(options, nodes, cpus, memory, rng.choice((None, 3600, 4 * 3600, 24 * 3600))),
        created_at=T0 + timedelta(seconds=rng.randint(0, 86_400)),
        priority=rng.choices((0, 1, 2), weights=(85, 10, 5))[0],
        regions=(rng.choice(REGIONS),) if roll < 0.04 else (),
        sites=tuple(f"s{rng.randrange(sites):04d}" for _ in range(3)) if 0.04 <= roll < 0.06 else (),
        avoid_sites=frozenset({f"s{rng.randrange(sites):04d}"}) if rng.random() < 0.02 else frozenset(),
        objective=rng.choices(("balanced", "cheapest", "greenest", "fastest"), weights=(50, 20, 15, 15))[0],
        max_price_per_hour=Decimal(rng.choice((20, 50, 100, 200))) if rng.random() < 0.05 else None,
    )


def make_snapshot(jobs: int, pools: int, seed: int) -> Snapshot:
    rng = random.Random(f"{seed}:{jobs}:{pools}")
    sites = max(2, pools // 5)
    return Snapshot(
        now=T0 + timedelta(days=1),
        pools=tuple(make_pool(rng, i, rng.randrange(sites)) for i in range(pools)),
        jobs=tuple(make_job(rng, i, sites) for i in range(jobs)),
    )


def digest(plan: Plan) -> str:
    """A fingerprint of what the cycle decided: every placement, reservation and preemption, which
    jobs wait, and the verdicts of every 300th of those (expanding them all at 100,000 jobs would take
    minutes). Compare it before and after a change that must not change decisions."""
    h = hashlib.sha256()
    for decided in (*plan.placements, *plan.reservations, *plan.preemptions):
        h.update(repr(decided).encode())
    waiting = list(plan.waiting)
    h.update(repr(waiting).encode())
    for job_id in waiting[:: max(1, len(waiting) // 300)]:
        h.update(repr(plan.waiting[job_id]).encode())
    return h.hexdigest()[:16]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=",".join(f"{j}x{p}" for j, p in SIZES), help="JOBSxPOOLS,…")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="cycles per size; the fastest is reported")
    ap.add_argument("--digest", action="store_true", help="also print a fingerprint of each plan (not timed)")
    args = ap.parse_args()
    sizes = [tuple(int(n) for n in s.split("x")) for s in args.sizes.split(",")]
    print(
        f"machine: {cpu_model()}, {platform.machine()}, {os.cpu_count()} CPUs (one used), "
        f"Python {platform.python_version()}; cycle s is wall time, cpu s this process's CPU time"
    )
    print(
        f"{'jobs':>8} {'pools':>6} {'cycle s':>9} {'cpu s':>8} {'placed':>7} {'placements/s':>13}"
        f" {'placed/cpu s':>13} {'jobs examined/s':>16}"
    )
    for jobs, pools in sizes:
        snapshot = make_snapshot(jobs, pools, args.seed)
        best = best_cpu = float("inf")
        for _ in range(args.repeat):
            gc.collect()
            start, cpu = time.perf_counter(), time.process_time()
            plan = schedule(snapshot, PROFILES)
            best = min(best, time.perf_counter() - start)
            best_cpu = min(best_cpu, time.process_time() - cpu)
        placed = len(plan.placements)
        print(
            f"{jobs:>8} {pools:>6} {best:>9.3f} {best_cpu:>8.3f} {placed:>7} {placed / best:>13,.0f}"
            f" {placed / best_cpu:>13,.0f} {jobs / best:>16,.0f}"
            + (f"  plan {digest(plan)}" if args.digest else "")
        )


if __name__ == "__main__":
    main()
