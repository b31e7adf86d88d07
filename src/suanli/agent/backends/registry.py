"""Backends by name: how `suanli agent --backend NAME` finds the engine its jobs run on.

Each engine registers a factory that builds its `Backend` from `BackendSettings`. Engine modules are
imported only when chosen, so an agent for one engine never needs another engine's libraries.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from suanli.agent.backends.base import Backend
from suanli.agent.pools import LocalPool

# name → module that defines `make_backend(settings: BackendSettings) -> Backend`
MODULES: dict[str, str] = {
    "local": "suanli.agent.backends.local",
    "slurm": "suanli.agent.backends.slurm",
    "ray": "suanli.agent.backends.ray",
}


@dataclass(frozen=True)
class BackendSettings:
    """What every engine's factory gets: the agent's pools (if declared), state, and engine options
    (`--backend-opt KEY=VALUE`, e.g. `partition=gpu` for Slurm or `address=http://…:8265` for Ray)."""

    pools: tuple[LocalPool, ...]
    state_dir: Path
    kill_grace: float
    notify: Callable[[], None]
    base_env: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, str] = field(default_factory=dict)


def names() -> tuple[str, ...]:
    return tuple(MODULES)


def make_backend(name: str, settings: BackendSettings) -> Backend:
    """Import the engine's module and build its backend; ValueError for an unknown name."""
    if name not in MODULES:
        raise ValueError(f"unknown backend {name!r}; known: {', '.join(MODULES)}")
    module = importlib.import_module(MODULES[name])
    factory: Callable[[BackendSettings], Backend] = module.make_backend
    return factory(settings)
