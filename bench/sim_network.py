"""Simulator speed on a network: replay the Philly trace on the 15-site example network under every
policy (the four baselines; `suanli-las`, the production scheduler with the control plane's default
queue order, and `suanli`, the same with the `fair` order) and print the wall time of each.

The goal from the product issue: the 82k-job Philly trace on a 15-site network in at most 60 s on one
core. Prints, per policy: scheduling passes, the passes that called the scheduler (`cycles`:
`suanli` skips passes that cannot place anything), time inside the policy (`decide`), the whole replay's
wall and CPU time (CPU time is the fairer figure on a shared machine), and the headline figures;
`--profile` adds each run's top cProfile entries.

Not part of `make bench`: `suanli-las` and `suanli` on the full trace take about 40–55 CPU s each on
the shared 2-vCPU VM (docs/benchmarks.md), most of it the scheduling cycle's fixed cost per call
(`src/suanli/sim/README.md`). The baselines alone: `--policy fifo --policy easy --policy sjf --policy
las`; the default order on a slice: `--policy suanli-las --limit 10000`.

Run: `.venv/bin/python bench/sim_network.py [--trace PATH] [--network YAML] [--limit N] [--policy P ...]`.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import sys
import time
from pathlib import Path

from suanli.sim import SimError, load_network, load_trace, make_policy, policy_names, simulate, summarize
from suanli.sim.report import markdown

DEFAULT_TRACE = Path("/work/shared/traces/sia-philly/philly.csv")
DEFAULT_NETWORK = Path(__file__).parent.parent / "examples" / "networks" / "shanghai-15.yaml"
POLICIES = ("fifo", "easy", "sjf", "las", "suanli-las", "suanli")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", type=Path, default=DEFAULT_TRACE)
    parser.add_argument("--network", type=Path, default=DEFAULT_NETWORK)
    parser.add_argument("--limit", type=int, default=None, help="only the first N jobs of the trace")
    parser.add_argument("--policy", action="append", choices=policy_names(), help="default: all six")
    parser.add_argument("--profile", action="store_true", help="cProfile each run; print the top entries")
    args = parser.parse_args()
    try:
        trace = load_trace(args.trace, limit=args.limit)
        network = load_network(args.network)
    except SimError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(
        f"{len(trace):,} jobs of {args.trace.name} on {network.source}: {len(network.sites)} sites, "
        f"{len(network.pools)} pools, {network.gpus} GPUs. Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, one core used."
    )
    rows = []
    for name in args.policy or POLICIES:
        profiler = cProfile.Profile() if args.profile else None
        began, cpu = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        policy = make_policy(name, trace, network)
        run = simulate(trace, network, policy, name=name)
        if profiler is not None:
            profiler.disable()
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
        s = summarize(trace, run)
        rows.append(
            (
                name,
                f"{run.passes:,}",
                f"{getattr(policy, 'cycles', run.passes):,}",
                f"{run.decide_s:.1f}",
                f"{wall:.1f}",
                f"{cpu:.1f}",
                f"{s.avg_jct_s / 3600:.2f}",
                f"{s.avg_wait_s / 3600:.2f}",
                f"{s.utilisation:.3f}",
            )
        )
        print(f"{name}: {wall:.1f} s wall, {cpu:.1f} s CPU", file=sys.stderr, flush=True)
        if profiler is not None:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
            if os.environ.get("SUANLI_PROFILE_CUM"):
                pstats.Stats(profiler, stream=out).sort_stats("cumtime").print_stats(45)
            print(f"\n### {name}: cProfile, top 15 by own time\n```\n{out.getvalue().strip()}\n```\n")
    header = ("policy", "passes", "cycles", "decide s", "wall s", "CPU s", "avg JCT h", "avg wait h", "util")
    print(markdown(header, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
