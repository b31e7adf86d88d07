"""The simulator's exception tree: a trace or network file that cannot be read, a run that cannot go on."""

from __future__ import annotations

__all__ = ["NetworkError", "SimError", "SimulationError", "TraceError"]


class SimError(Exception):
    """Anything the simulator refuses; the CLI maps each kind to an exit code."""


class TraceError(SimError):
    """A trace file is missing or malformed; the message names the file, line and column."""


class SimulationError(SimError):
    """A run cannot go on: a job larger than the pool, or a policy that broke the engine's rules."""


class NetworkError(SimError):
    """A network file is missing or malformed; the message names the file and the field path."""
