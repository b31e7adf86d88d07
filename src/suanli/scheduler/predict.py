"""Run-time predictions from the history of finished jobs: what a waiting job is expected to run.

A job's true length is known only once it has finished, so a prediction reads only what is known
before: the tenant, the accelerator count, the job's name and its requested limit (max_runtime), plus
the run times of jobs that have already finished (`observe`). The estimate is the geometric mean of
the run times seen for the most specific group with enough history, from (tenant, name), (tenant,
size), tenant, to everyone; a requested limit caps it (a job cannot run past its limit). With no
history at all, the limit, else None.

Why the geometric mean: run times are heavy-tailed over orders of magnitude; the arithmetic mean is
dominated by the few longest jobs and the median needs the whole history. The log-mean is O(1) to
keep and update, and it is what the `service` order needs: an order of magnitude.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["MIN_HISTORY", "JobFacts", "Predictor"]

MIN_HISTORY = 3  # finished jobs a group needs before its mean is trusted over a wider group's


@dataclass(frozen=True, slots=True)
class JobFacts:
    """What is known about a job before it has run: never its run time."""

    tenant: str
    accelerators: int
    name: str = ""
    limit_s: float | None = None


class _Mean:
    __slots__ = ("n", "total")

    def __init__(self) -> None:
        self.n = 0
        self.total = 0.0


class Predictor:
    """Geometric means of finished run times by group (module docstring)."""

    def __init__(self) -> None:
        self._groups: dict[tuple[str, ...], _Mean] = {}

    def observe(self, job: JobFacts, ran_s: float) -> None:
        """A job finished after `ran_s` seconds of progress."""
        log = math.log(max(ran_s, 1.0))
        for key in _keys(job):
            group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = _Mean()
            group.n += 1
            group.total += log

    def expected_s(self, job: JobFacts) -> float | None:
        """The expected run time in seconds, or None when nothing is known."""
        for key in _keys(job):
            group = self._groups.get(key)
            if group is not None and group.n >= MIN_HISTORY:
                guess = math.exp(group.total / group.n)
                return min(guess, job.limit_s) if job.limit_s else guess
        return job.limit_s


def _keys(job: JobFacts) -> tuple[tuple[str, ...], ...]:
    """Groups from the most specific to everyone; a job without a name skips the name group."""
    size = str(job.accelerators)
    by_name = (("n", job.tenant, job.name),) if job.name else ()
    return (*by_name, ("s", job.tenant, size), ("t", job.tenant), ("*",))
