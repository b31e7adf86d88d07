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
from suanli.sim import TraceError
from suanli.sim.loaders import write_philly
from suanli.sim.synthetic import generate, offered_load

__all__ = ["register"]


def sim_generate(
    out: Annotated[
        Path,
        typer.Argument(metavar="OUT", help="The CSV file to write, e.g. synthetic.csv.", show_default=False),
    ],
    gpus: Annotated[
        int, typer.Option("--gpus", min=1, help="GPUs of the pool the load is meant for.", show_default=False)
    ],
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="How many jobs.")] = 1000,
    load: Annotated[
        float,
        typer.Option("--load", min=0.01, help="Offered load: GPU-seconds asked ÷ GPU-seconds the pool has."),
    ] = 0.8,
    tenants: Annotated[int, typer.Option("--tenants", min=1, help="Tenants t1…tN, t1 busiest (Zipf).")] = 8,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed writes the same file.")] = 0,
    median: Annotated[
        float, typer.Option("--median-duration", min=1, help="Median job duration, seconds (log-normal).")
    ] = 1800.0,
    sigma: Annotated[
        float, typer.Option("--sigma", min=0, help="Log-normal shape of durations; larger is heavier-tailed.")
    ] = 1.8,
    max_duration: Annotated[float, typer.Option("--max-duration", min=1, help="Longest job, seconds.")] = 7
    * 86400.0,
    limit_share: Annotated[
        float, typer.Option("--limit-share", min=0, max=1, help="Share of jobs that carry a run-time limit.")
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
    try:
        write_philly(trace, out)
    except TraceError as exc:
        fail(str(exc), ExitCode.USAGE)
    span_h = trace.jobs[-1].submit / 3600
    achieved = f", offered load {offered_load(trace, gpus):.3f} on {gpus} GPUs" if span_h > 0 else ""
    stderr.print(
        f"[dim]wrote {len(trace):,} jobs of {len({j.tenant for j in trace.jobs})} tenants over "
        f"{span_h:,.1f} h{achieved} to {escape(str(out))}[/dim]"
    )


def register(app: typer.Typer) -> None:
    """Add `sim-generate` to the `suanli` app."""
    app.command("sim-generate")(sim_generate)
