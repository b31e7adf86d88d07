"""What a trace is to the simulator: jobs with a submit time, a duration, a GPU count and a tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["Trace", "TraceJob"]


@dataclass(frozen=True, slots=True)
class TraceJob:
    """One rigid job: `gpus` GPUs for `duration` seconds, submitted `submit` seconds after the trace start."""

    id: str
    submit: float
    duration: float
    gpus: int
    tenant: str

    @property
    def gpu_seconds(self) -> float:
        return self.gpus * self.duration


@dataclass(frozen=True)
class Trace:
    """Jobs in input order (the order ties are broken in) and the wall-clock instant of second 0."""

    source: str
    start: datetime
    jobs: tuple[TraceJob, ...]

    def __len__(self) -> int:
        return len(self.jobs)
