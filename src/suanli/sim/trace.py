"""What a trace is to the simulator: jobs with a submit time, a duration, a GPU count and a tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["EPOCH", "Trace", "TraceJob"]

EPOCH = datetime(1970, 1, 1)  # second 0 of a trace that publishes no wall-clock start (naive, UTC)


@dataclass(frozen=True, slots=True)
class TraceJob:
    """One rigid job: `gpus` GPUs for `duration` seconds, submitted `submit` seconds after the trace start.

    `limit_s` is the run-time limit the user asked for, when the trace records one: what a policy may
    use as an estimate, since `duration` is only known once the job has run. `model` is an accelerator
    constraint spelled as the trace spells it (`"T4"`, `"V100M16|V100M32"`); None means any GPU.

    `preemptible`: the job declares it can be stopped and resumed (as a job spec's `preemptible`);
    traces record no such thing, so loaders leave the default, True: the jobs of these traces are
    deep-learning training jobs, which checkpoint. `checkpoint_s`: how often it checkpoints, in
    seconds of progress; None: the run's default (`simulate(checkpoint_s=)`).
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
