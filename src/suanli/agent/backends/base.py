"""The one `Backend` Protocol every engine implements, and the values that cross it.

An engine (the local machine today; Slurm, Ray, Kubernetes later) runs attempts the control plane
placed on this site. The runtime (`agent/runtime.py`) owns the conversation with the server; a backend
only starts, watches, stops and meters attempts. It never talks to the control plane.

Construction is engine-specific, but every engine accepts a `notify` callback and calls it (from any
thread) whenever an attempt may have changed state, so the runtime can report ends at once instead of
polling. Calling it too often is harmless; missing a change is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from suanli.agent.errors import AgentError, BackendError

__all__ = [
    "LOG_CHUNK_BYTES",
    "TERMINAL",
    "AgentError",
    "Allocation",
    "AttemptState",
    "AttemptStatus",
    "Backend",
    "BackendError",
    "Launch",
    "PoolOffer",
    "Usage",
    "launch_from_json",
    "launch_json",
]

# The most bytes of output `read_logs` returns per call.
LOG_CHUNK_BYTES = 256 * 1024


class AttemptState(StrEnum):
    """The states an agent reports for an attempt (a subset of the control plane's)."""

    STARTING = "STARTING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


TERMINAL = frozenset({AttemptState.SUCCEEDED, AttemptState.FAILED, AttemptState.CANCELLED})


@dataclass(frozen=True)
class PoolOffer:
    """One pool of the site's offer: `nodes` alike nodes of this shape (docs/api.md, sync `pools`)."""

    name: str
    accelerator: str | None
    accelerators_per_node: int
    nodes: int
    cpus_per_node: int
    memory_mib_per_node: int
    max_runtime_s: int | None = None  # the engine's limit on one run (a Slurm partition's MaxTime)


@dataclass(frozen=True)
class Allocation:
    """What the control plane reserved for an attempt in its pool; counts are per node."""

    accelerator: str | None
    accelerators_per_node: int
    cpus_per_node: int
    memory_mib_per_node: int
    nodes: tuple[int, ...]


@dataclass(frozen=True)
class Launch:
    """An attempt to start: which job, which try, its fencing token, the normalized spec, where."""

    attempt_id: str
    job_id: str
    attempt: int
    fencing_token: int
    spec: Mapping[str, Any]
    pool: str
    allocation: Allocation


def launch_json(launch: Launch) -> dict[str, Any]:
    """A launch as JSON values, for an engine to keep beside its job and find it again later."""
    data = asdict(launch)
    data["spec"] = dict(launch.spec)
    return data


def launch_from_json(data: Any) -> Launch | None:
    """The launch `launch_json` wrote; None when `data` is not one."""
    try:
        fields = dict(data)
        allocation = dict(fields.pop("allocation"))
        allocation["nodes"] = tuple(allocation["nodes"])
        return Launch(**fields, allocation=Allocation(**allocation))
    except (KeyError, ValueError, TypeError, AttributeError):
        return None


@dataclass(frozen=True)
class AttemptStatus:
    """The current state of one attempt a backend holds."""

    attempt_id: str
    state: AttemptState
    exit_code: int | None = None
    reason: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


@dataclass(frozen=True)
class Usage:
    """What an ended attempt consumed, for metering."""

    attempt_id: str
    started_at: datetime
    ended_at: datetime
    accelerator_seconds: float
    cpu_seconds: float
    wall_seconds: float


class Backend(Protocol):
    """An engine that runs attempts. Every method is safe to call from any thread."""

    def capacity(self) -> list[PoolOffer]:
        """The site's full offer: every pool, at full size (the server subtracts what it placed)."""
        ...

    def submit(self, launch: Launch) -> None:
        """Start an attempt; a second submit of the same attempt id does nothing.

        Raises BackendError when the attempt cannot be started (its pool is unknown or full, the
        engine refused it). When submit returns, `poll` already reports the attempt.
        """
        ...

    def poll(self) -> list[AttemptStatus]:
        """The current state of every attempt the backend holds (not forgotten)."""
        ...

    def cancel(self, attempt_id: str, reason: str) -> None:
        """Stop an attempt (its whole process tree); it ends CANCELLED with `reason`.

        Unknown or already ended attempts are ignored. Does not wait for the attempt to end.
        """
        ...

    def read_logs(self, attempt_id: str, offset: int) -> str:
        """New combined stdout+stderr of an attempt from byte `offset`, at most LOG_CHUNK_BYTES.

        The UTF-8 encoding of the result is exactly as long as the bytes it consumed, so the next
        offset is `offset + len(result.encode())`: undecodable bytes come back as "?", and a
        character cut in half by the end of the output so far waits for the next call.
        Returns "" when there is nothing new or the attempt is unknown.
        """
        ...

    def usage(self, attempt_id: str) -> Usage | None:
        """What an ended attempt consumed; None while it runs, or when it never started."""
        ...

    def forget(self, attempt_id: str) -> None:
        """Drop an attempt and its files; a live attempt is killed first. Unknown ids are ignored."""
        ...

    def adopted(self) -> list[Launch]:
        """Attempts the engine still holds from before this agent started (found again by attempt
        id), so the agent reports them again instead of letting their leases run out: those still
        running, and those that ended while no agent ran (with their usage). The local engine's
        jobs die with their agent; it returns them ended, as its shims recorded."""
        ...

    def close(self) -> None:
        """Cancel every live attempt, wait (bounded) for them to end, and release the engine."""
        ...
