"""The simulator's exception tree: a trace or network file that cannot be read, a run that cannot go on."""

from __future__ import annotations

__all__ = ["JobTooWide", "NetworkError", "SimError", "SimulationError", "TraceError"]


class SimError(Exception):
    """Anything the simulator refuses; the CLI maps each kind to an exit code."""


class TraceError(SimError):
    """A trace file is missing or malformed; the message names the file, line and column."""


class SimulationError(SimError):
    """A run cannot go on: a job larger than the pool, or a policy that broke the engine's rules."""


class JobTooWide(SimulationError):
    """A job needs more GPUs than the largest pool has: the trace and the network do not fit (the
    input's fault, not the run's). `needs` is the job's GPU count."""

    def __init__(self, message: str, needs: int) -> None:
        super().__init__(message)
        self.needs = needs


class NetworkError(SimError):
    """A network file is missing or malformed. `problems` holds each problem found, one line each
    (`file:line: pool site/name: field: what is wrong, what is allowed`); the message says them all,
    or the first `network.MAX_PROBLEMS` and how many more."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems or (message,)
