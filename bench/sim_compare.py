"""Scheduling-quality benchmark: FIFO, EASY, LAS (3 and 2 queues), `las-ckpt` and the production scheduler
(`suanli`, `suanli-service`, and `suanli-las`, the candidate: ADR 0019) on the public traces that fit the rigid-job model,
each on one pool sized to offered load ≤ 0.8 and, with `--network`, on a multi-site network.

Per trace it prints the comparison table (hours) with preemptions and GPU-hours lost to them, and a goals
line for the default policy: average JCT no worse than the better LAS, p99 JCT no worse than EASY's,
Jain's index over tenants' mean bounded slowdown no worse than EASY's. Preemptions cost the progress since
the job's last checkpoint (every 30 minutes of progress) and a 30 s restart, for every policy.

The default set is quick (a few minutes): two Sia workloads, the Alibaba 2023 default pod list and the
first 2,000 jobs of Philly. `--full` runs every Sia workload and the whole Philly trace (slow: the
production scheduler runs one cycle per event). `--plot DIR` writes JCT CDFs per trace.

`--synthetic` adds six synthetic traces (traces the issue does not name; `docs/benchmarks.md`),
generated in memory. `--policy NAME` runs only that candidate (the last one named gets the goals table) beside the
baselines the goals need: `--policy las-ckpt` replays all of Philly in about two minutes.

Run: `.venv/bin/python bench/sim_compare.py [--full] [--network examples/networks/shanghai-15.yaml]
[--trace FORMAT:PATH[:LIMIT] ...] [--synthetic] [--policy NAME ...] [--plot DIR]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

from suanli.sim import Network, SimError, load_network, make_policy, simulate, summarize
from suanli.sim.compare import (
    CANDIDATES,
    COMPARED,
    DEFAULT,
    DEFAULT_CHECKPOINT_S,
    Goals,
    check,
    load_named,
    pool_size,
    sized_sites,
    synthetic_set,
    with_checkpoints,
)
from suanli.sim.metrics import Summary
from suanli.sim.report import markdown, table
from suanli.sim.trace import Trace

TRACES = Path("/work/shared/traces")
QUICK = (
    f"sia:{TRACES}/sia-workloads/philly/workload-1.csv",
    f"sia:{TRACES}/sia-workloads/saturn/workload-1.csv",
    f"alibaba:{TRACES}/alibaba-gpu-v2023/openb_pod_list_default.csv",
    f"philly:{TRACES}/sia-philly/philly.csv:2000",
)
FULL = (
    *(f"sia:{p}" for p in sorted((TRACES / "sia-workloads").glob("*/workload-*.csv"))),
    f"alibaba:{TRACES}/alibaba-gpu-v2023/openb_pod_list_default.csv",
    f"philly:{TRACES}/sia-philly/philly.csv",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trace", action="append", help="FORMAT:PATH[:LIMIT] (repeatable)")
    parser.add_argument("--full", action="store_true", help="every Sia workload and all of Philly")
    parser.add_argument("--network", type=Path, help="a network file instead of one sized pool")
    parser.add_argument(
        "--sites",
        action="store_true",
        help="the sized pool's GPUs split over two sites and three pools instead (`sized_sites`)",
    )
    parser.add_argument(
        "--plot",
        type=Path,
        help="write JCT CDF plots here, one folder per trace (e.g. sia-philly-philly-1000)",
    )
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="also the six synthetic traces of docs/benchmarks.md (3,000 jobs at load 0.8 on 64 GPUs, "
        "seeds 1-3, and with --sigma 2.2 --tenants 15), generated in memory",
    )
    parser.add_argument(
        "--policy",
        action="append",
        help="run only this candidate (repeatable) beside the baselines the goals need (easy, las, las2)",
    )
    args = parser.parse_args()
    specs = args.trace or ([] if args.synthetic else FULL if args.full else QUICK)
    network = load_network(args.network) if args.network else None
    print(f"machine: {platform.node()} ({os.cpu_count()} CPUs), Python {platform.python_version()}")
    failed = 0
    results: list[tuple[str, Goals, Summary]] = []
    names = ("easy", "las", "las2", *args.policy) if args.policy else COMPARED

    def run(trace: Trace, shown: str, folder: str) -> None:
        net = sized_sites(trace) if args.sites else network
        plot = args.plot / folder.lstrip("-") if args.plot else None
        found = compare(with_checkpoints(trace, DEFAULT_CHECKPOINT_S), net, plot, names, shown)
        if found is not None:
            results.append((shown, *found))

    for spec in specs:
        try:
            label, folder, trace = load_named(spec)  # folder: one per trace, so plots never collide
        except SimError as exc:
            print(f"{spec}: {exc}", file=sys.stderr)
            failed += 1
            continue
        run(trace, label.partition(":")[0], folder)
    for shown, trace in synthetic_set() if args.synthetic else ():
        run(trace, shown, f"{Path(shown).parent.name}-{Path(shown).stem}")  # syn-s1, as from /tmp/syn/s1.csv
    if len(results) > 1:
        print("\n### Goals per trace (hours)\n")
        header = (
            "trace",
            "LAS best avg",
            "avg",
            "EASY p99",
            "p99",
            "EASY Jain",
            "Jain",
            "preempt",
            "lost GPU-h",
        )
        rows = [
            (
                name,
                f"{g.avg_jct_bar_s / 3600:.2f}",
                f"{g.avg_jct_s / 3600:.2f} {'✓' if g.avg_ok else '✗'}",
                f"{g.p99_jct_bar_s / 3600:.2f}",
                f"{g.p99_jct_s / 3600:.2f} {'✓' if g.p99_ok else '✗'}",
                f"{g.jain_bar:.3f}",
                f"{g.jain:.3f} {'✓' if g.jain_ok else '✗'}",
                f"{s.preemptions:,}",
                f"{s.lost_gpu_s / 3600:,.0f}",
            )
            for name, g, s in results
        ]
        print(markdown(header, rows))
        met = [sum(ok for ok in (g.avg_ok, g.p99_ok, g.jain_ok)) for _, g, _ in results]
        print(f"\nall three goals met on {met.count(3)} of {len(results)} traces")
    return 1 if failed else 0


def compare(
    trace: Trace,
    network: Network | None,
    plot: Path | None,
    names: Sequence[str] = COMPARED,
    title: str | None = None,
) -> tuple[Goals, Summary] | None:
    net = network or Network.single(pool_size(trace))
    where = net.source or f"one pool of {net.gpus} GPUs"
    print(f"\n### {title or Path(trace.source).name}: {len(trace):,} jobs on {where}\n")
    runs = []
    for name in names:
        runs.append(
            simulate(trace, net, make_policy(name, trace, net), name=name, checkpoint_s=DEFAULT_CHECKPOINT_S)
        )
    summaries = [summarize(trace, r) for r in runs]
    header, rows = table(summaries, wall=True, extra=True)
    print(markdown(header, rows))
    default = names[-1] if DEFAULT not in names else DEFAULT
    goals = check(summaries, default)
    for policy in CANDIDATES:
        found = check(summaries, policy)
        if found is not None:
            print(f"\ngoals for {policy}: {found.marks()}")
    if plot is not None:
        from suanli.sim.plots import plot_runs

        plot_runs(trace, runs, plot)
    ours = next(s for s in summaries if s.policy == default)
    return None if goals is None else (goals, ours)


if __name__ == "__main__":
    raise SystemExit(main())
