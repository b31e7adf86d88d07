"""`suanli sim`: replay a job trace on a simulated network under several policies and compare the figures.

Runs in-process (no server): it loads the trace (and the network file) with `suanli.sim`, replays it
once per policy, and prints the comparison table (times in hours) or, with `--json`, the figures in
seconds; `--plot DIR` also writes PNG plots. Progress goes to stderr. The options, checks and the
replay loop that `sim-compare` (`sim_compare_cmd.py`) shares are here too.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from suanli.cli.context import fail, stderr, stdout
from suanli.cli.exit_codes import ExitCode
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
from suanli.sim.compare import sized_sites
from suanli.sim.loaders import DESCRIPTIONS, NODE_LIST, guess_format
from suanli.sim.plots import MAX_TENANTS, PlotError, plot_runs
from suanli.sim.report import as_json, table

__all__ = [
    "NETWORK_HELP",
    "PlotDir",
    "Sites",
    "check_plotting",
    "check_trace",
    "given_network",
    "in_range",
    "interruptible",
    "one_network",
    "plural",
    "print_table",
    "read_trace",
    "register",
    "run_all",
    "too_wide",
    "trace_format",
    "write_plots",
]

PLAIN_PROGRESS_EVERY_S = 30.0
"""When stderr is not a terminal (a CI log, `2> log`), a plain progress line this often."""


PlotDir = Annotated[
    Path | None,
    typer.Option(
        "--plot",
        metavar="DIR",
        help="Also write PNG plots there (JCT CDF with its slowest 5% and each policy's p99, "
        f"per-tenant slowdown: past {MAX_TENANTS} tenants the {MAX_TENANTS} worst off and the rest as "
        "one); needs suanli[sim].",
        show_default=False,
    ),
]
"""`--plot DIR`, as `sim` and `sim-compare` take it."""

NETWORK_HELP = (
    "The network file: sites, pools, prices, energy; every field, which are required and their "
    "defaults: examples/networks/README.md. Or a .csv node list (Alibaba 2023 / 2026 inventories)."
)
Sites = Annotated[
    bool,
    typer.Option(
        "--sites",
        help="The pool sized for the trace (the smallest multiple of 8 GPUs at offered load ≤ 0.8, "
        "sim-compare's default) split over two sites and up to three priced pools (those of "
        "examples/networks/small.yaml), each able to hold the widest job: a multi-site network at the "
        "same load. Instead of --gpus or --network.",
    ),
]
"""`--sites`, as `sim` and `sim-compare` take it."""


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
        Path | None, typer.Option("--network", metavar="YAML", help=NETWORK_HELP, show_default=False)
    ] = None,
    sites: Sites = False,
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
    suanli sim workload-1.csv --format sia --sites --policy easy --policy suanli-las
    suanli sim philly.csv --gpus 472 --json | jq '.runs[] | {policy, avg_jct_s}'
    ```
    """
    with interruptible():
        _sim(trace_path, gpus, network_path, sites, fmt, policies, limit, json_out, plot_dir)


def _sim(
    trace_path: Path,
    gpus: int | None,
    network_path: Path | None,
    sites: bool,
    fmt: str,
    policies: list[str] | None,
    limit: int | None,
    json_out: bool,
    plot_dir: Path | None,
) -> None:
    check_trace(trace_path)
    names = list(dict.fromkeys(policies or BASELINES))
    known = policy_names()
    unknown = [n for n in names if n not in known]
    if unknown:
        fail(f"unknown policy {', '.join(unknown)}; known: {', '.join(known)}", ExitCode.USAGE)
    fmt = trace_format(fmt)
    one_network(gpus, network_path, sites, required=True)
    network = None if sites else given_network(gpus, network_path)
    if plot_dir is not None:
        check_plotting(plot_dir)
    trace = read_trace(trace_path, fmt, limit)
    if trace.skipped:
        stderr.print(f"[dim]{escape(trace.skipped_line())}[/dim]")
    tenants = len({j.tenant for j in trace.jobs})
    if network is None:
        network = sized_sites(trace)
        where = network.source
    elif gpus is not None:
        where = plural(network.gpus, "GPU")
    else:
        where = f"{network.source} ({plural(network.gpus, 'GPU')})"
    stderr.print(f"[dim]{plural(len(trace), 'job')} of {plural(tenants, 'tenant')} on {escape(where)}[/dim]")
    try:
        runs = run_all(trace, network, names)
    except JobTooWide as exc:
        too_wide(exc, gpus is not None)
    except SimulationError as exc:
        fail(str(exc), ExitCode.FAILED)
    summaries = [summarize(trace, run) for run in runs]
    if plot_dir is not None:
        write_plots(trace, runs, plot_dir)
    if json_out:
        body = as_json(trace.source, summaries)
        stdout.file.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
        stdout.file.flush()
        return
    print_table(summaries)


@contextmanager
def interruptible() -> Iterator[None]:
    """Ctrl-C ends the command with one line on stderr and exit 130, not a traceback or silence."""
    try:
        yield
    except KeyboardInterrupt:
        stderr.print("interrupted")
        raise typer.Exit(ExitCode.INTERRUPTED) from None


def plural(n: int, noun: str) -> str:
    """`1 job`, `3,000 jobs`."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def trace_format(fmt: str) -> str:
    """`--format`, any case, as a key of `FORMATS`."""
    if fmt.lower() not in FORMATS:
        fail(
            f"unknown trace format {fmt!r} for --format; known: {', '.join(sorted(FORMATS))}", ExitCode.USAGE
        )
    return fmt.lower()


def read_trace(path: Path, fmt: str, limit: int | None) -> Trace:
    """The trace, or exit 2 with the loader's message and, when the file looks like another format,
    the option that reads it."""
    try:
        return load_trace(path, fmt, limit)
    except TraceError as exc:
        guess = guess_format(path)
        hint = ""
        if guess == NODE_LIST:
            hint = "; it looks like a cluster's node list: give it as --network"
        elif guess is not None and guess != fmt:
            hint = f"; it looks like {DESCRIPTIONS[guess]}: add --format {guess}"
        fail(f"{exc}{hint}", ExitCode.USAGE)


def write_plots(trace: Trace, runs: list[Run], plot_dir: Path) -> None:
    try:
        for path in plot_runs(trace, runs, plot_dir):
            stderr.print(f"[dim]wrote {escape(str(path))}[/dim]")
    except PlotError as exc:
        fail(str(exc), ExitCode.USAGE)


def one_network(gpus: int | None, path: Path | None, sites: bool, required: bool) -> None:
    """At most one of `--gpus`, `--network` and `--sites` (exactly one when `required`); two are
    refused by name."""
    given = [
        option
        for option, on in (("--gpus", gpus is not None), ("--network", path is not None), ("--sites", sites))
        if on
    ]
    if len(given) > 1:
        fail(
            f"{' and '.join(given)} cannot be given together: give one of --gpus N (one pool), "
            "--network YAML and --sites (the sized pool split over two sites)",
            ExitCode.USAGE,
        )
    if required and not given:
        fail(
            "give one of --gpus N (one pool), --network YAML and --sites (the sized pool split over two sites)",
            ExitCode.USAGE,
        )


def given_network(gpus: int | None, path: Path | None) -> Network:
    """The network of `--gpus N` or else `--network YAML` (`one_network` has checked them)."""
    if gpus is not None:
        return Network.single(gpus)
    assert path is not None
    try:
        return load_network(path)
    except NetworkError as exc:
        fail(str(exc), ExitCode.USAGE)


def too_wide(exc: JobTooWide, one_pool: bool) -> NoReturn:
    """The trace does not fit the network: bad input (exit 2), with what would fit."""
    hint = (
        f" (give --gpus {exc.needs} or more)"
        if one_pool
        else f" (give the network a pool of {exc.needs} GPUs)"
    )
    fail(f"{exc}{hint}", ExitCode.USAGE)


def check_trace(path: Path) -> None:
    """A missing trace file is the first thing to say, before any complaint about the options."""
    if path.is_dir():
        fail(f"{path}: is a folder; give a trace file", ExitCode.USAGE)
    if not path.is_file():
        fail(f"{path}: no such trace file", ExitCode.USAGE)


def check_plotting(plot_dir: Path) -> None:
    """Refuse `--plot` before a long replay if matplotlib is not installed or the folder could not be
    made; the folder itself is made only when the plots are written."""
    if importlib.util.find_spec("matplotlib") is None:
        fail("--plot needs matplotlib: pip install 'suanli[sim]' (or make install)", ExitCode.USAGE)
    existing = plot_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        fail(f"cannot create the plot folder {plot_dir}: {existing} is not a folder", ExitCode.USAGE)
    if not os.access(existing, os.W_OK | os.X_OK):
        fail(f"cannot create the plot folder {plot_dir}: {existing} is not writable", ExitCode.USAGE)


def run_all(trace: Trace, network: Network, names: list[str], checkpoint_s: float | None = None) -> list[Run]:
    runs = []
    width = max(map(len, names))
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
            task = bar.add_task(f"{name:{width}} jobs done", total=len(trace))
            policy = make_policy(name, trace, network)
            run = simulate(
                trace,
                network,
                policy,
                name=name,
                checkpoint_s=checkpoint_s,
                progress=_advance(bar, task, name),
            )
            bar.update(task, completed=len(trace))  # a finished policy shows all its jobs done
            bar.stop_task(task)
            runs.append(run)
            stderr.print(f"[dim]{escape(name)}: {run.passes:,} passes in {run.wall_s:.1f} s[/dim]")
    return runs


def _advance(
    bar: Progress, task: TaskID, name: str, clock: Callable[[], float] = time.monotonic
) -> Callable[[int, int], None]:
    """The engine's progress callback: the bar on a terminal, else a plain line every
    `PLAIN_PROGRESS_EVERY_S` seconds (a log shows the run is alive)."""
    began = said = clock()
    plain = not stderr.is_terminal

    def advance(done: int, total: int) -> None:
        nonlocal said
        bar.update(task, completed=done)
        now = clock()
        if plain and now - said >= PLAIN_PROGRESS_EVERY_S and done < total:
            said = now
            stderr.print(f"{name}: {done:,}/{total:,} jobs done, {now - began:,.0f} s", highlight=False)

    return advance


def print_table(summaries: list[Summary], console: Console = stdout) -> None:
    """The figures at their natural width: a narrow terminal scrolls or wraps the lines rather than
    cutting figures to `…`."""
    header, rows = table(summaries)
    grid = Table(box=None, pad_edge=False)
    for i, name in enumerate(header):
        grid.add_column(name, justify="left" if i == 0 else "right", no_wrap=True)
    for row in rows:
        grid.add_row(*(escape(cell) for cell in row))
    grid.width = Measurement.get(console, console.options.update_width(100_000), grid).maximum
    console.print("times in hours", highlight=False)
    console.print(grid, crop=False, soft_wrap=True)


def in_range(option: str, low: float, high: float) -> Callable[[float], float]:
    """A Typer callback refusing a float option outside [low, high], `nan` and `inf` included
    (Typer's own min/max let `nan` through, and a range error should name the range)."""

    def check(value: float) -> float:
        if not (math.isfinite(value) and low <= value <= high):
            raise typer.BadParameter(f"{value:g} is not allowed: give a number from {low:,g} to {high:,g}")
        return value

    return check


def register(app: typer.Typer) -> None:
    """Add `sim` to the `suanli` app."""
    app.command()(sim)
