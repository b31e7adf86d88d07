"""`suanli sim`: replay a job trace on a simulated network under several policies and compare the figures.

Runs in-process (no server): it loads the trace (and the network file) with `suanli.sim`, replays it
once per policy, and prints the comparison table (times in hours) or, with `--json`, the figures in
seconds; `--plot DIR` also writes PNG plots. Progress goes to stderr.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from suanli.cli.context import fail, stderr, stdout
from suanli.cli.exit_codes import ExitCode
from suanli.cli.render import PIPE_WIDTH
from suanli.sim import (
    BASELINES,
    FORMATS,
    JobTooWide,
    Network,
    NetworkError,
    Run,
    SimulationError,
    Summary,
    Trace,
    TraceError,
    load_network,
    load_trace,
    make_policy,
    policy_names,
    simulate,
    summarize,
)
from suanli.sim.compare import (
    CANDIDATES,
    COMPARED,
    DEFAULT_CHECKPOINT_S,
    check,
    pool_size,
    sized_sites,
    with_checkpoints,
)
from suanli.sim.plots import PlotError, plot_runs
from suanli.sim.report import as_json, table

__all__ = ["register"]


PlotDir = Annotated[
    Path | None,
    typer.Option(
        "--plot",
        metavar="DIR",
        help="Also write PNG plots there (JCT CDF with its slowest 5% and each policy's p99, "
        "per-tenant slowdown); needs suanli[sim].",
        show_default=False,
    ),
]
"""`--plot DIR`, as `sim` and `sim-compare` take it."""


def sim(
    trace_path: Annotated[
        Path, typer.Argument(metavar="TRACE", help="The trace file, e.g. philly.csv.", show_default=False)
    ],
    gpus: Annotated[
        int | None,
        typer.Option(
            "--gpus", min=1, help="Shorthand network: one pool of this many GPUs.", show_default=False
        ),
    ] = None,
    network_path: Annotated[
        Path | None,
        typer.Option(
            "--network",
            metavar="YAML",
            help="The network file: sites, pools, prices, energy (see examples/networks/); or a .csv node list (Alibaba 2023 / 2026 inventories).",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="The trace's format: philly (processed Philly CSV), swf (Parallel Workloads Archive), "
            "alibaba (Alibaba GPU 2023 pod list), sia (Sia workload; durations from its A100 profiles).",
        ),
    ] = "philly",
    policies: Annotated[
        list[str] | None,
        typer.Option(
            "--policy",
            help=f"A policy to run (repeatable): {', '.join(policy_names())}. Default: {', '.join(BASELINES)}.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the first N jobs of the file.", show_default=False)
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON (seconds) instead of a table.")
    ] = False,
    plot_dir: PlotDir = None,
) -> None:
    """Replay a trace on a network of GPU pools (or one pool) and compare scheduling policies.

    The baselines: `fifo`, `easy` (FIFO + EASY backfill, true durations), `sjf` (oracle
    shortest-first), `las` (Tiresias-like: least attained service, 3 queues, preemptive) and `las2`
    (2 queues at 16 GPU-hours). `las-ckpt` is LAS evicting only just after a job's checkpoint. The
    production scheduler, called unchanged: `suanli-las` (the control plane's default queue order),
    `suanli-service` (the `service` order) and `suanli` (the `fair` order); slower than the baselines
    on large traces (a scheduling cycle per change). `suanli sim-compare` (or `suanli sim compare`)
    checks the quality goals.

    Examples:

    ```
    suanli sim philly.csv --gpus 472
    suanli sim philly.csv --gpus 64 --limit 2000 --policy easy --policy suanli
    suanli sim philly.csv --network examples/networks/shanghai-15.yaml --plot plots/
    suanli sim philly.csv --gpus 472 --json | jq '.runs[] | {policy, avg_jct_s}'
    ```
    """
    _check_trace(trace_path)
    names = list(dict.fromkeys(policies or BASELINES))
    known = policy_names()
    unknown = [n for n in names if n not in known]
    if unknown:
        fail(f"unknown policy {', '.join(unknown)}; known: {', '.join(known)}", ExitCode.USAGE)
    if fmt not in FORMATS:
        fail(f"unknown trace format {fmt!r}; known: {', '.join(sorted(FORMATS))}", ExitCode.USAGE)
    network = _network(gpus, network_path)
    if plot_dir is not None:
        _check_plotting(plot_dir)
    try:
        trace = load_trace(trace_path, fmt, limit)
    except TraceError as exc:
        fail(str(exc), ExitCode.USAGE)
    if trace.skipped:
        stderr.print(f"[dim]{escape(trace.skipped_line())}[/dim]")
    tenants = len({j.tenant for j in trace.jobs})
    where = f"{network.gpus} GPUs" if gpus is not None else f"{network.source} ({network.gpus} GPUs)"
    stderr.print(f"[dim]{len(trace):,} jobs of {tenants} tenants on {escape(where)}[/dim]")
    try:
        runs = _run_all(trace, network, names)
    except JobTooWide as exc:
        _too_wide(exc, gpus is not None)
    except SimulationError as exc:
        fail(str(exc), ExitCode.FAILED)
    summaries = [summarize(trace, run) for run in runs]
    if plot_dir is not None:
        try:
            for path in plot_runs(trace, runs, plot_dir):
                stderr.print(f"[dim]wrote {escape(str(path))}[/dim]")
        except PlotError as exc:
            fail(str(exc), ExitCode.USAGE)
    if json_out:
        body = as_json(trace.source, summaries)
        stdout.file.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
        stdout.file.flush()
        return
    _print_table(summaries)


def _network(gpus: int | None, path: Path | None) -> Network:
    """`--gpus N` or `--network YAML`, exactly one."""
    if (gpus is None) == (path is None):
        fail("give either --gpus N (one pool) or --network YAML", ExitCode.USAGE)
    if gpus is not None:
        return Network.single(gpus)
    assert path is not None
    try:
        return load_network(path)
    except NetworkError as exc:
        fail(str(exc), ExitCode.USAGE)


def _too_wide(exc: JobTooWide, one_pool: bool) -> NoReturn:
    """The trace does not fit the network: bad input (exit 2), with what would fit."""
    hint = (
        f" (give --gpus {exc.needs} or more)"
        if one_pool
        else f" (give the network a pool of {exc.needs} GPUs)"
    )
    fail(f"{exc}{hint}", ExitCode.USAGE)


def _check_trace(path: Path) -> None:
    """A missing trace file is the first thing to say, before any complaint about the options."""
    if not path.is_file():
        fail(f"{path}: no such trace file", ExitCode.USAGE)


def _check_plotting(plot_dir: Path) -> None:
    """Refuse `--plot` before a long replay if matplotlib is not installed or the folder cannot be made."""
    if importlib.util.find_spec("matplotlib") is None:
        fail("--plot needs matplotlib: pip install 'suanli[sim]' (or make install)", ExitCode.USAGE)
    try:
        plot_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot create the plot folder {plot_dir}: {exc.strerror or exc}", ExitCode.USAGE)


def _run_all(
    trace: Trace, network: Network, names: list[str], checkpoint_s: float | None = None
) -> list[Run]:
    runs = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
        disable=not stderr.is_terminal,
    ) as bar:
        for name in names:
            task = bar.add_task(f"{name:8} jobs done", total=len(trace))
            policy = make_policy(name, trace, network)
            run = simulate(
                trace, network, policy, name=name, checkpoint_s=checkpoint_s, progress=_advance(bar, task)
            )
            bar.remove_task(task)
            runs.append(run)
            stderr.print(f"[dim]{escape(name)}: {run.passes:,} passes in {run.wall_s:.1f} s[/dim]")
    return runs


def _advance(bar: Progress, task: TaskID) -> Callable[[int, int], None]:
    def advance(done: int, total: int) -> None:
        bar.update(task, completed=done)

    return advance


def _print_table(summaries: list[Summary]) -> None:
    header, rows = table(summaries)
    grid = Table(box=None, pad_edge=False, title="times in hours", title_justify="left")
    for i, name in enumerate(header):
        grid.add_column(name, justify="left" if i == 0 else "right", no_wrap=True)
    for row in rows:
        grid.add_row(*(escape(cell) for cell in row))
    if stdout.is_terminal:
        stdout.print(grid)
    else:
        Console(file=stdout.file, width=PIPE_WIDTH, highlight=False).print(grid)


def sim_compare(
    trace_path: Annotated[
        Path, typer.Argument(metavar="TRACE", help="The trace file, e.g. philly.csv.", show_default=False)
    ],
    fmt: Annotated[
        str, typer.Option("--format", help="The trace's format: philly, swf, alibaba, sia.")
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
            "--network", metavar="YAML", help="A network file instead of one pool.", show_default=False
        ),
    ] = None,
    sites: Annotated[
        bool,
        typer.Option(
            "--sites",
            help="The default pool's GPUs split over two sites and up to three priced pools, each "
            "able to hold the widest job: a multi-site network at the same load.",
        ),
    ] = False,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the first N jobs of the file.", show_default=False)
    ] = None,
    checkpoint_min: Annotated[
        float,
        typer.Option(
            "--checkpoint-min",
            min=0,
            help="Minutes of progress between a job's checkpoints: a preempted job loses what it made "
            "since its last one. 0: it loses nothing.",
        ),
    ] = DEFAULT_CHECKPOINT_S / 60,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON (seconds) instead of a table.")
    ] = False,
    plot_dir: PlotDir = None,
) -> None:
    """Compare FIFO, EASY, LAS (3 and 2 queues) and the production scheduler on one trace, with the goals.

    The runs: fifo, easy, las, las2, las-ckpt (LAS evicting only just after a checkpoint) and the
    production scheduler under its three queue orders (suanli, suanli-service, suanli-las). The
    default policy (`suanli-las`: the `las` order, the control plane's default) is held to three
    goals (the other candidates' goal lines are printed too): average JCT no worse than the better LAS, p99 JCT no worse than EASY's, and
    Jain's index over tenants' mean bounded slowdown no worse than EASY's. Preemptions cost the
    work since the job's last checkpoint plus a 30 s restart.

    Examples:

    ```
    suanli sim-compare philly.csv --limit 3000
    suanli sim-compare openb_pod_list_default.csv --format alibaba --plot plots/
    suanli sim-compare workload-1.csv --format sia --network examples/networks/small.yaml
    suanli sim-compare workload-1.csv --format sia --sites
    ```
    """
    _check_trace(trace_path)
    if fmt not in FORMATS:
        fail(f"unknown trace format {fmt!r}; known: {', '.join(sorted(FORMATS))}", ExitCode.USAGE)
    if sum((gpus is not None, network_path is not None, sites)) > 1:
        fail("give one of --gpus N, --network YAML and --sites", ExitCode.USAGE)
    if plot_dir is not None:
        _check_plotting(plot_dir)
    try:
        trace = with_checkpoints(load_trace(trace_path, fmt, limit), checkpoint_min * 60 or None)
    except TraceError as exc:
        fail(str(exc), ExitCode.USAGE)
    if network_path is not None:
        network = _network(None, network_path)
    elif sites:
        network = sized_sites(trace)
    else:
        network = Network.single(gpus if gpus is not None else pool_size(trace))
    stderr.print(
        f"[dim]{len(trace):,} jobs on {escape(network.source or str(network.gpus))} ({network.gpus} GPUs)[/dim]"
    )
    try:
        runs = _run_all(trace, network, list(COMPARED), checkpoint_min * 60 or None)
    except JobTooWide as exc:
        _too_wide(exc, gpus is not None)
    except SimulationError as exc:
        fail(str(exc), ExitCode.FAILED)
    summaries = [summarize(trace, run) for run in runs]
    if plot_dir is not None:
        for path in plot_runs(trace, runs, plot_dir):
            stderr.print(f"[dim]wrote {escape(str(path))}[/dim]")
    goals = check(summaries)
    if json_out:
        body = as_json(trace.source, summaries)
        body["goals"] = (
            None if goals is None else {**asdict(goals), "met": [goals.avg_ok, goals.p99_ok, goals.jain_ok]}
        )
        stdout.file.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
        stdout.file.flush()
        return
    _print_table(summaries)
    for policy in CANDIDATES:
        found = check(summaries, policy)
        if found is not None:
            stdout.print(f"goals for {policy}: {found.marks()}")


def register(app: typer.Typer) -> None:
    """Add `sim` and `sim-compare` to the `suanli` app."""
    app.command()(sim)
    app.command("sim-compare")(sim_compare)
