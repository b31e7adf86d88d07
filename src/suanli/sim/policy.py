"""The one seam between the engine and a scheduling policy: `Policy`, `PoolState`, `Decision`, the registry.

A job is named by its index in `Trace.jobs`. The engine tells a policy about every arrival and every
finish, then asks it once per event time what to do; the policy answers with the jobs to start, the jobs
to preempt (preemptive policies only), and when it wants to be asked again even if nothing arrives or
ends (for example when a running job's attained service crosses a threshold). The engine checks every
answer against the pool and raises `SimulationError` when a policy breaks its rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from suanli.sim.trace import Trace

__all__ = [
    "NOTHING",
    "Decision",
    "Policy",
    "PolicyFactory",
    "PoolState",
    "make_policy",
    "policy_names",
    "register_policy",
]


class PoolState(Protocol):
    """What a policy may read about the pool during `decide` (read-only)."""

    @property
    def gpus(self) -> int:
        """The pool's size."""
        ...

    @property
    def free(self) -> int:
        """GPUs not held by any job right now."""
        ...

    def executed_s(self, job: int, now: float) -> float:
        """Seconds of progress the job has made by `now` (restart overhead not counted)."""
        ...

    def progress_from(self, job: int, now: float) -> float:
        """When the job makes progress again: if running, when its current run's restart ends; if
        waiting, when it would if started at `now`."""
        ...


@dataclass(frozen=True, slots=True)
class Decision:
    """One scheduling pass's answer: preemptions are applied before starts."""

    start: tuple[int, ...] = ()
    preempt: tuple[int, ...] = ()
    wake_at: float | None = None


NOTHING = Decision()


class Policy(Protocol):
    """A scheduling policy: told about arrivals and finishes, asked once per event time."""

    def arrive(self, job: int, now: float) -> None: ...

    def depart(self, job: int, now: float) -> None:
        """The job finished (its GPUs are already free)."""
        ...

    def decide(self, now: float, pool: PoolState) -> Decision: ...


PolicyFactory = Callable[[Trace, int], Policy]
"""Builds a fresh policy for one run: the trace and the pool's size in GPUs."""

_POLICIES: dict[str, PolicyFactory] = {}


def register_policy(name: str, factory: PolicyFactory) -> None:
    _POLICIES[name] = factory


def make_policy(name: str, trace: Trace, gpus: int) -> Policy:
    """A fresh instance of the policy registered as `name` (KeyError names the known ones)."""
    try:
        factory = _POLICIES[name]
    except KeyError:
        raise KeyError(f"unknown policy {name!r}; known: {', '.join(policy_names())}") from None
    return factory(trace, gpus)


def policy_names() -> tuple[str, ...]:
    return tuple(sorted(_POLICIES))
