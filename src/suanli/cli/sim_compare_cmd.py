"""`suanli sim-compare`: the baselines and the production scheduler on one trace, with the goals.

Runs in-process as `suanli sim` does, with its options, checks and replay loop (`sim_cmd`): every
policy of `suanli.sim.compare.COMPARED` (or those `--policy` names, with the baselines their goals
are measured against), each job checkpointing every `--checkpoint-min`, on one pool sized for the
trace unless a network is given; then the table and each candidate's goal marks, or `--json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from suanli.cli.context import fail, stderr, stdout
from suanli.cli.exit_codes import ExitCode
from suanli.cli.sim_cmd import (
    NETWORK_HELP,
    PlotDir,
    Sites,
    check_plotting,
    check_trace,
    given_network,
    in_range,
    interruptible,
    one_network,
    plural,
    print_table,
    read_trace,
    run_all,
    too_wide,
    trace_format,
    write_plots,
)
from suanli.sim import JobTooWide, Network, SimulationError, summarize
from suanli.sim.compare import (
    CANDIDATES,
    COMPARED,
    DEFAULT,
    DEFAULT_CHECKPOINT_S,
    GOAL_BASELINES,
    chosen,
    goals_by_policy,
    pool_size,
    sized_sites,
    with_checkpoints,
)
from suanli.sim.report import as_json

__all__ = ["register"]

MAX_CHECKPOINT_MIN = 30 * 24 * 60  # 30 days, the job spec's longest checkpoint_interval


def sim_compare(
    trace_path: Annotated[
        Path, typer.Argument(metavar="TRACE", help="The trace file, e.g. philly.csv.", show_default=False)
    ],
    fmt: Annotated[
        str, typer.Option("--format", help="The trace's format: philly, swf, alibaba, sia (any case).")
    ] = "philly",
    gpus: Annotated[
        int | None,
        typer.Option(
            "--gpus",
            min=1,
            help="One pool of this many GPUs. Default: the smallest multiple of 8 at offered load ≤ 0.8.",
            show_default=False,
        ),
    ] = None,
    network_path: Annotated[
        Path | None,
        typer.Option(
            "--network", metavar="YAML", help=f"Instead of one pool. {NETWORK_HELP}", show_default=False
        ),
    ] = None,
    sites: Sites = False,
    policies: Annotated[
        list[str] | None,
        typer.Option(
            "--policy",
            help=f"Run only this policy (repeatable): {', '.join(COMPARED)}. Default: all of them. "
            f"A candidate's goals are measured against {', '.join(GOAL_BASELINES)}: when one of "
            f"{', '.join(CANDIDATES)} is chosen, those three run too (stderr says so).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the first N jobs of the file.", show_default=False)
    ] = None,
    checkpoint_min: Annotated[
        float,
        typer.Option(
            "--checkpoint-min",
            callback=in_range("--checkpoint-min", 0, MAX_CHECKPOINT_MIN),
            help="Minutes of progress between a job's checkpoints: a preempted job loses what it made "
            f"since its last one. 0: it loses nothing. At most {MAX_CHECKPOINT_MIN:,} (30 days).",
        ),
    ] = DEFAULT_CHECKPOINT_S / 60,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON (seconds) instead of a table.")
    ] = False,
    plot_dir: PlotDir = None,
) -> None:
    """Compare FIFO, EASY, LAS (3 and 2 queues) and the production scheduler on one trace, with the goals.

    The runs: fifo, easy, las, las2, las-ckpt (LAS evicting only just after a checkpoint) and the
    production scheduler under its three queue orders (suanli, suanli-service, suanli-las); `--policy`
    runs some of them. The default policy (`suanli-las`: the `las` order, the control plane's default)
    is held to three goals (the other candidates' goal lines are printed too): average JCT no worse
    than the better LAS, p99 JCT no worse than EASY's, and Jain's index over tenants' mean bounded
    slowdown no worse than EASY's. `--json` carries them as `goals` (suanli-las) and
    `goals_by_policy` (every candidate run). Preemptions cost the work since the job's last
    checkpoint plus a 30 s restart.

    Examples:

    ```
    suanli sim-compare philly.csv --limit 3000
    suanli sim-compare openb_pod_list_default.csv --format alibaba --plot plots/
    suanli sim-compare workload-1.csv --format sia --network examples/networks/small.yaml
    suanli sim-compare workload-1.csv --format sia --sites
    suanli sim-compare philly.csv --limit 1000 --policy suanli-las --json | jq .goals_by_policy
    ```
    """
    with interruptible():
        _sim_compare(
            trace_path, fmt, gpus, network_path, sites, policies, limit, checkpoint_min, json_out, plot_dir
        )


def _sim_compare(
    trace_path: Path,
    fmt: str,
    gpus: int | None,
    network_path: Path | None,
    sites: bool,
    policies: list[str] | None,
    limit: int | None,
    checkpoint_min: float,
    json_out: bool,
    plot_dir: Path | None,
) -> None:
    check_trace(trace_path)
    fmt = trace_format(fmt)
    one_network(gpus, network_path, sites, required=False)
    names = _compared(policies)
    if plot_dir is not None:
        check_plotting(plot_dir)
    checkpoint_s = checkpoint_min * 60 or None
    trace = with_checkpoints(read_trace(trace_path, fmt, limit), checkpoint_s)
    if network_path is not None:
        network = given_network(None, network_path)
        where = f"{network.source} ({plural(network.gpus, 'GPU')})"
    elif sites:
        network = sized_sites(trace)
        where = network.source
    elif gpus is not None:
        network = Network.single(gpus)
        where = f"one pool of {plural(gpus, 'GPU')}"
    else:
        network = Network.single(pool_size(trace))
        where = f"one pool of {plural(network.gpus, 'GPU')} (sized for an offered load of at most 0.8)"
    stderr.print(f"[dim]{plural(len(trace), 'job')} on {escape(where)}[/dim]")
    try:
        runs = run_all(trace, network, names, checkpoint_s)
    except JobTooWide as exc:
        too_wide(exc, gpus is not None)
    except SimulationError as exc:
        fail(str(exc), ExitCode.FAILED)
    summaries = [summarize(trace, run) for run in runs]
    if plot_dir is not None:
        write_plots(trace, runs, plot_dir)
    goals = goals_by_policy(summaries)
    if json_out:
        body = as_json(trace.source, summaries)
        body["goals"] = goals[DEFAULT].to_json() if DEFAULT in goals else None  # the one held to them
        body["goals_by_policy"] = {policy: found.to_json() for policy, found in goals.items()}
        stdout.file.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
        stdout.file.flush()
        return
    print_table(summaries)
    for policy, found in goals.items():
        stdout.print(f"goals for {policy}: {found.marks()}")


def _compared(policies: list[str] | None) -> list[str]:
    """What `sim-compare --policy` runs, in `COMPARED` order, saying which baselines the goals added."""
    if not policies:
        return list(COMPARED)
    unknown = [name for name in dict.fromkeys(policies) if name not in COMPARED]
    if unknown:
        fail(
            f"unknown policy {', '.join(unknown)} for sim-compare; known: {', '.join(COMPARED)} "
            "(suanli sim runs every policy)",
            ExitCode.USAGE,
        )
    names, added = chosen(policies)
    if added:
        stderr.print(
            f"[dim]also running {', '.join(added)}: the goals are measured against "
            f"{', '.join(GOAL_BASELINES)}[/dim]"
        )
    return names


def register(app: typer.Typer) -> None:
    """Add `sim-compare` to the `suanli` app."""
    app.command("sim-compare")(sim_compare)
