"""What a trace is to the simulator: jobs with a submit time, a duration, a GPU count and a tenant."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["EARLIEST", "EPOCH", "LATEST", "MAX_DURATION_S", "MAX_SPAN_S", "Trace", "TraceJob"]

EPOCH = datetime(1970, 1, 1)  # second 0 of a trace that publishes no wall-clock start (naive, UTC)

# What the loaders accept. The production scheduler's policies turn the virtual clock into datetimes
# (start + seconds, plus its own horizons of a few centuries), which end at year 9999: these bounds
# keep every such sum far inside that, and are far beyond any real trace (Philly's longest job ran
# 54 days over a span of 3 months).
_YEAR_S = 365 * 86400.0
MAX_DURATION_S = 5 * _YEAR_S
"""The longest duration (and run-time limit) a job may have: 5 years."""
MAX_SPAN_S = 100 * _YEAR_S
"""The latest a job may be submitted after the trace's start: 100 years."""
EARLIEST, LATEST = datetime(1900, 1, 1), datetime(2200, 1, 1)
"""The wall-clock times a trace may start at (a date-time, or a Unix time in seconds)."""


@dataclass(frozen=True, slots=True)
class TraceJob:
    """One rigid job: `gpus` GPUs for `duration` seconds, submitted `submit` seconds after the trace start.

    `limit_s` is the run-time limit the user asked for, when the trace records one: what a policy may
    use as an estimate, since `duration` is only known once the job has run. `model` is an accelerator
    constraint spelled as the trace spells it (`"T4"`, `"V100M16|V100M32"`); None means any GPU.

    `preemptible`: the job declares it can be stopped and resumed (as a job spec's `preemptible`);
    traces record no such thing, so loaders leave the default, True: the jobs of these traces are
    deep-learning training jobs, which checkpoint. `checkpoint_s`: how often it checkpoints, in
    seconds of progress; None: the run's default (`simulate(checkpoint_s=)`). `line`: the file line it
    was read from (0: not read from a file), for messages; not part of a job's value.
    """

    id: str
    submit: float
    duration: float
    gpus: int
    tenant: str
    limit_s: float | None = None
    model: str | None = None
    name: str = ""
    preemptible: bool = True
    checkpoint_s: float | None = None
    line: int = field(default=0, compare=False)

    @property
    def gpu_seconds(self) -> float:
        return self.gpus * self.duration


@dataclass(frozen=True)
class Trace:
    """Jobs in input order (the order ties are broken in) and the wall-clock instant of second 0.

    `skipped` counts the records a loader read but could not turn into a rigid job, by reason, in the
    order the reasons were first met; `skipped_line()` says it in one line for the CLI.
    """

    source: str
    start: datetime
    jobs: tuple[TraceJob, ...]
    skipped: tuple[tuple[str, int], ...] = ()

    def __len__(self) -> int:
        return len(self.jobs)

    @property
    def skipped_total(self) -> int:
        return sum(n for _, n in self.skipped)

    def skipped_line(self) -> str:
        """`skipped 3 jobs: 2 no run time, 1 CPU only`, or "" when nothing was skipped."""
        if not self.skipped:
            return ""
        total = self.skipped_total
        reasons = ", ".join(f"{n:,} {reason}" for reason, n in self.skipped)
        return f"skipped {total:,} job{'s' if total != 1 else ''}: {reasons}"
