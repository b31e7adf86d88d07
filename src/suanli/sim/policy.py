"""The one seam between the engine and a scheduling policy: `Policy`, `PoolState`, `Decision`, the registry.

A job is named by its index in `Trace.jobs`. The engine tells a policy about every arrival and every
finish, then asks it once per event time what to do; the policy answers with the jobs to start and the
pool each starts on, the jobs to preempt (preemptive policies only), and when it wants to be asked again
even if nothing arrives or ends (for example when a running job's attained service crosses a threshold).
The engine checks every answer against the pools and raises `SimulationError` when a policy breaks its
rules.

Pools are numbered in the network's file order (`Network.pools`). A job runs gang-style on one pool:
all its GPUs from that pool, any GPUs of it. On a one-pool network a policy may leave `Decision.on`
empty (everything starts on pool 0) and read only `gpus` and `free`, as before networks existed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from suanli.sim.network import Network
from suanli.sim.trace import Trace

__all__ = [
    "NOTHING",
    "Decision",
    "Policy",
    "PolicyFactory",
    "PoolState",
    "first_fit",
    "make_policy",
    "policy_names",
    "register_policy",
]


class PoolState(Protocol):
    """What a policy may read about the pools during `decide` (read-only: never mutate the sequences)."""

    @property
    def gpus(self) -> int:
        """GPUs in the whole network (a one-pool network: the pool's size)."""
        ...

    @property
    def free(self) -> int:
        """GPUs not held by any job right now, over the whole network."""
        ...

    @property
    def pool_gpus(self) -> Sequence[int]:
        """Each pool's size, by pool number."""
        ...

    @property
    def pool_free(self) -> Sequence[int]:
        """Each pool's GPUs not held by any job right now, by pool number."""
        ...

    def pool_of(self, job: int) -> int:
        """The pool a running job holds GPUs on."""
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
    """One scheduling pass's answer: preemptions are applied before starts, starts in order.

    `on[k]` is the pool `start[k]` starts on; an empty `on` starts every job on pool 0."""

    start: tuple[int, ...] = ()
    preempt: tuple[int, ...] = ()
    wake_at: float | None = None
    on: tuple[int, ...] = ()


NOTHING = Decision()


class Policy(Protocol):
    """A scheduling policy: told about arrivals and finishes, asked once per event time."""

    def arrive(self, job: int, now: float) -> None: ...

    def depart(self, job: int, now: float) -> None:
        """The job finished (its GPUs are already free)."""
        ...

    def decide(self, now: float, pool: PoolState) -> Decision: ...


PolicyFactory = Callable[[Trace, Network], Policy]
"""Builds a fresh policy for one run: the trace and the network it runs on."""

_POLICIES: dict[str, PolicyFactory] = {}


def register_policy(name: str, factory: PolicyFactory) -> None:
    _POLICIES[name] = factory


def make_policy(name: str, trace: Trace, network: Network | int) -> Policy:
    """A fresh instance of the policy registered as `name` (KeyError names the known ones); an int
    `network` is one pool of that many GPUs."""
    try:
        factory = _POLICIES[name]
    except KeyError:
        raise KeyError(f"unknown policy {name!r}; known: {', '.join(policy_names())}") from None
    return factory(trace, Network.single(network) if isinstance(network, int) else network)


def policy_names() -> tuple[str, ...]:
    return tuple(sorted(_POLICIES))


def first_fit(free: Sequence[int], need: int) -> int:
    """The first pool, in network order, with at least `need` GPUs free; −1 if none has."""
    for pool, gpus in enumerate(free):
        if gpus >= need:
            return pool
    return -1
