"""`suanli sim-generate`: write a synthetic job trace with a chosen offered load, for `suanli sim`.

Runs in-process (no server): `suanli.sim.synthetic.generate` draws the jobs and `write_philly` writes
them as a processed-Philly CSV with seconds timestamps, which `suanli sim` reads back as `--format
philly`. A summary goes to stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from suanli.cli.context import fail, stderr
from suanli.cli.exit_codes import ExitCode
from suanli.cli.sim_cmd import in_range, interruptible
from suanli.sim import Trace, TraceError
from suanli.sim.loaders import write_philly
from suanli.sim.synthetic import MAX_JOBS, MAX_LOAD, generate, offered_load
from suanli.sim.trace import MAX_DURATION_S

__all__ = ["register"]

MAX_GPUS = 1_000_000
MAX_TENANTS = 10_000
MAX_SIGMA = 5.0  # e^(5·3) ≈ 3·10⁶ times the median at 3 σ: far past --max-duration already


def sim_generate(
    out: Annotated[
        Path,
        typer.Argument(metavar="OUT", help="The CSV file to write, e.g. synthetic.csv.", show_default=False),
    ],
    gpus: Annotated[
        int,
        typer.Option(
            "--gpus", min=1, max=MAX_GPUS, help="GPUs of the pool the load is meant for.", show_default=False
        ),
    ],
    jobs: Annotated[int, typer.Option("--jobs", min=1, max=MAX_JOBS, help="How many jobs.")] = 1000,
    load: Annotated[
        float,
        typer.Option(
            "--load",
            callback=in_range("--load", 0.01, MAX_LOAD),
            help=f"Offered load: GPU-seconds asked ÷ GPU-seconds the pool has; 0.01 to {MAX_LOAD:g}.",
        ),
    ] = 0.8,
    tenants: Annotated[
        int, typer.Option("--tenants", min=1, max=MAX_TENANTS, help="Tenants t1…tN, t1 busiest (Zipf).")
    ] = 8,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed writes the same file.")] = 0,
    median: Annotated[
        float,
        typer.Option(
            "--median-duration",
            callback=in_range("--median-duration", 1, MAX_DURATION_S),
            help=f"Median job duration, seconds (log-normal); 1 to {MAX_DURATION_S:,.0f} (5 years).",
        ),
    ] = 1800.0,
    sigma: Annotated[
        float,
        typer.Option(
            "--sigma",
            callback=in_range("--sigma", 0, MAX_SIGMA),
            help=f"Log-normal shape of durations; larger is heavier-tailed; 0 to {MAX_SIGMA:g}.",
        ),
    ] = 1.8,
    max_duration: Annotated[
        float,
        typer.Option(
            "--max-duration",
            callback=in_range("--max-duration", 1, MAX_DURATION_S),
            help=f"Longest job, seconds; 1 to {MAX_DURATION_S:,.0f} (5 years).",
        ),
    ] = 7 * 86400.0,
    limit_share: Annotated[
        float,
        typer.Option(
            "--limit-share",
            callback=in_range("--limit-share", 0, 1),
            help="Share of jobs that carry a run-time limit; 0 to 1.",
        ),
    ] = 0.7,
) -> None:
    """Write a synthetic trace of rigid jobs whose offered load on `--gpus` GPUs is `--load`.

    Poisson arrivals with the rate calibrated to the load; log-normal durations (median 30 min,
    capped at 7 days); GPU counts 1, 2, 4, 8, 16, 32 (70/10/10/7/2/1%, sizes above the pool left
    out); Zipf-skewed tenants; 70% of jobs carry a run-time limit (the duration over-estimated
    1–4×, rounded up to a quarter hour). The file is a processed-Philly CSV with seconds timestamps
    plus name and limit_s columns.

    Examples:

    ```
    suanli sim-generate synthetic.csv --gpus 64 --jobs 2000 --load 0.9 --seed 1
    suanli sim synthetic.csv --gpus 64 --policy easy --policy las
    suanli sim-generate heavy.csv --gpus 472 --jobs 50000 --load 1.2 --tenants 15 --sigma 2.2
    ```
    """
    with interruptible():
        if max_duration < median:
            fail(f"--max-duration {max_duration:g} is below --median-duration {median:g}", ExitCode.USAGE)
        if not out.parent.is_dir() or out.is_dir():  # said before drawing the jobs, not after
            fail(f"{out}: cannot write there (no such folder, or it is a folder)", ExitCode.USAGE)
        try:
            trace = generate(
                jobs=jobs,
                gpus=gpus,
                load=load,
                tenants=tenants,
                seed=seed,
                median_s=median,
                sigma=sigma,
                max_s=max_duration,
                limit_share=limit_share,
            )
        except ValueError as exc:
            fail(str(exc), ExitCode.USAGE)
        _check_spread(trace, gpus)
        existed = out.exists()
        try:
            write_philly(trace, out)
        except TraceError as exc:
            fail(str(exc), ExitCode.USAGE)
    span_h = trace.jobs[-1].submit / 3600
    achieved = f", offered load {offered_load(trace, gpus):.3f} on {gpus:,} GPUs" if span_h > 0 else ""
    tenants_used = len({j.tenant for j in trace.jobs})
    stderr.print(
        f"[dim]wrote {len(trace):,} job{'' if len(trace) == 1 else 's'} of {tenants_used} "
        f"tenant{'' if tenants_used == 1 else 's'} over {span_h:,.1f} h{achieved} to {escape(str(out))}"
        f"{' (overwrote the file there)' if existed else ''}[/dim]"
    )


def _check_spread(trace: Trace, gpus: int) -> None:
    """Arrivals are whole seconds: on a pool so large that all the jobs' work takes it under a second
    at the asked load, every job would arrive at second 0 and the file would not have that load."""
    if len(trace) > 1 and trace.jobs[-1].submit == 0:
        fail(
            f"on {gpus:,} GPUs these {len(trace):,} jobs' work lasts under a second at that --load, so "
            "every job would arrive at second 0: give fewer --gpus or more --jobs",
            ExitCode.USAGE,
        )


def register(app: typer.Typer) -> None:
    """Add `sim-generate` to the `suanli` app."""
    app.command("sim-generate")(sim_generate)
