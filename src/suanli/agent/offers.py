"""The pools the agent offers: how a provider would say them, and which the server will take.

A pool the server would refuse (`wire.unofferable`) is left out of the offer, so that it does not
take the whole site offline with it. One no job can use (`wire.unknown_model`: an accelerator no
catalog model names) is offered all the same, with a warning that says how to name its model for
the agent's backend. Each is said once per agent run.
"""

from __future__ import annotations

import logging

from suanli.agent.backends.base import PoolOffer
from suanli.agent.wire import unknown_model, unofferable
from suanli.domain.catalog import default_catalog

__all__ = ["describe", "offerable"]

log = logging.getLogger("suanli.agent")  # the runtime's logger: these lines are the agent's


def describe(pool: PoolOffer) -> str:
    """`gpu (2 nodes x 4 A100)`, `cpu (1 node x 8 CPUs)`: a pool as a provider would say it."""
    each = (
        f"{pool.accelerators_per_node} {pool.accelerator}"
        if pool.accelerator
        else f"{pool.cpus_per_node} CPU{_s(pool.cpus_per_node)}"
    )
    return f"{pool.name} ({pool.nodes} node{_s(pool.nodes)} x {each})"


def _s(count: int) -> str:
    return "" if count == 1 else "s"


# How to name a pool's accelerator model, per backend (an engine that does not know it says `GPU`).
_NAME_THE_MODEL = {
    "local": "declare the pool with --pool {pool}=MODEL:COUNT, e.g. --pool {pool}=A100:{count}",
    "slurm": "start the agent with --backend-opt gpu_model=A100 (the GPUs' real model; "
    "gpu_model=PARTITION:MODEL,... names one per partition)",
    "ray": "start the agent with --backend-opt gpu_model=A100 (the GPUs' real model)",
}


def _no_model(pool: PoolOffer, backend: str) -> str:
    """The warning for a pool whose accelerator no job can ask for, with how to fix it."""
    fix = _NAME_THE_MODEL.get(backend, "name its model when starting the agent")
    return (
        f"pool {pool.name!r} offers accelerator {pool.accelerator!r}, which is not a model the network "
        f"knows: no job can be placed on it (job specs name these: {', '.join(default_catalog().names())}); "
        f"to make it usable, {fix.format(pool=pool.name, count=pool.accelerators_per_node)}"
    )


def offerable(offers: list[PoolOffer], backend: str, said: set[str]) -> list[PoolOffer]:
    """The pools the server will take: one it would refuse is left out (said once), so that
    it does not take the whole site offline with it. One no job can use is offered, and said
    once too (from the first sync on: at start, or when the engine first shows it). `said` holds
    the names of the pools already spoken of, and gains those spoken of now."""
    kept = []
    for offer in offers:
        why = unofferable(offer)
        if why is None:
            kept.append(offer)
        if offer.name in said:
            continue
        if why is not None:
            said.add(offer.name)
            log.error("pool %r is not offered: %s", offer.name, why)
        elif unknown_model(offer):
            said.add(offer.name)
            log.warning("%s", _no_model(offer, backend))
    return kept
