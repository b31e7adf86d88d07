"""Simulator baselines benchmark: replay the full Philly trace under fifo, easy, sjf and las on one pool of
N = 472 GPUs and set our figures beside the reference simulator's.

The reference rows are copied from `/work/shared/reference/sim-baselines.md` ("Figures (hours)"), which
gives the setting (one pool of 472 identical GPUs, rigid jobs, release → enqueue → one pass per event
time) and the metric definitions. With the same semantics FIFO, EASY and SJF should match to a fraction
of a percent and LAS closely. Prints our table, the reference table, the relative difference per metric
(%), and the wall time per policy on this machine.

Run: `.venv/bin/python bench/sim_baselines.py [--trace PATH] [--gpus 472] [--policy las ...]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

from suanli.sim import BASELINES, SimError, load_trace, make_policy, simulate, summarize
from suanli.sim.report import HEADER, markdown, row

DEFAULT_TRACE = Path("/work/shared/traces/sia-philly/philly.csv")

# From /work/shared/reference/sim-baselines.md, "Figures (hours)", N = 472, the same trace.
REFERENCE = {
    "fifo": ("215.39", "205.47", "361.38", "211.74", "350.75", "4488.76", "2621.0", "0.791", "0.182", "–"),
    "easy": ("193.86", "198.79", "354.46", "190.21", "342.60", "2859.39", "2613.5", "0.793", "0.185", "–"),
    "sjf": ("8.18", "0.90", "126.29", "4.53", "52.13", "6.47", "2931.4", "0.707", "0.189", "–"),
    "las": ("15.97", "0.33", "361.43", "0.00", "0.07", "3.56", "2613.5", "0.793", "0.408", "84,297"),
}
REFERENCE_WALL_S = {"fifo": "0.1", "easy": "6.2", "las": "1.0"}  # "one core of this machine kind"


def number(cell: str) -> float:
    return 0.0 if cell == "–" else float(cell.replace(",", ""))


def difference(ours: str, theirs: str) -> str:
    """Relative difference in percent of the printed figures; `=` when they print the same."""
    if ours == theirs:
        return "="
    a, b = number(ours), number(theirs)
    if b == 0:
        return f"{a - b:+.2f} abs"
    return f"{(a - b) / b * 100:+.2f}%"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", type=Path, default=DEFAULT_TRACE, help="processed Philly CSV")
    parser.add_argument("--gpus", type=int, default=472)
    parser.add_argument("--policy", action="append", choices=BASELINES, help="repeatable; default: all four")
    args = parser.parse_args()
    policies = args.policy or list(BASELINES)
    if not args.trace.exists():
        print(f"{args.trace}: no such trace (pass --trace)", file=sys.stderr)
        return 2
    try:
        began = time.perf_counter()
        trace = load_trace(args.trace)
        load_s = time.perf_counter() - began
        summaries = []
        for name in policies:
            run = simulate(trace, args.gpus, make_policy(name, trace, args.gpus), name=name)
            summaries.append(summarize(trace, run))
            print(f"{name}: {run.wall_s:.2f} s, {run.passes:,} passes", file=sys.stderr)
    except SimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    print(
        f"trace {args.trace} ({len(trace):,} jobs, loaded in {load_s:.2f} s), N = {args.gpus} GPUs; "
        f"{cpu_model()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}\n"
    )
    ours = {s.policy: row(s) for s in summaries}
    print("## ours (hours)\n")
    print(
        markdown(
            (*HEADER, "wall s"),
            [(*ours[p], f"{s.wall_s:.2f}") for p, s in zip(policies, summaries, strict=True)],
        )
    )
    if args.gpus != 472:
        print("\n(the reference figures are for N = 472: no comparison)")
        return 0
    print("\n## reference (hours)\n")
    print(markdown((*HEADER, "wall s"), [(p, *REFERENCE[p], REFERENCE_WALL_S.get(p, "?")) for p in policies]))
    print("\n## ours vs reference, relative difference\n")
    print(markdown(HEADER, [(p, *map(difference, ours[p][1:], REFERENCE[p])) for p in policies]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
