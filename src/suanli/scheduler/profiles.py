"""The placement profiles a job's `objective` picks from: the same filters, differently weighted scores."""

from __future__ import annotations

from suanli.scheduler import plugins  # noqa: F401  (registers the built-in plugins)
from suanli.scheduler.framework import Profile

# Cheap, static checks first so the reason a user sees is the most fundamental one.
FILTERS = ("accelerator", "shape", "constraints", "paid", "price_cap", "runtime_limit", "online", "capacity")

# `lost_sites` dominates: a job goes back to a site that lost it only when nothing else fits. Every
# pool a cycle places on starts the job now, so "fastest" means the quickest accelerators and the
# nearest data; quotes add the expected start for pools that are busy.
PROFILES: dict[str, Profile] = {
    "balanced": Profile(
        "balanced",
        FILTERS,
        (
            ("lost_sites", 10.0),
            ("waste", 1.0),
            ("cost", 1.0),
            ("carbon", 1.0),
            ("locality", 1.0),
            ("fragmentation", 0.5),
        ),
    ),
    "cheapest": Profile(
        "cheapest",
        FILTERS,
        (("lost_sites", 10.0), ("waste", 1.0), ("cost", 4.0), ("carbon", 0.25), ("locality", 0.25)),
    ),
    "greenest": Profile(
        "greenest",
        FILTERS,
        (("lost_sites", 10.0), ("waste", 1.0), ("carbon", 4.0), ("cost", 0.25), ("locality", 0.25)),
    ),
    "fastest": Profile(
        "fastest", FILTERS, (("lost_sites", 10.0), ("waste", 1.0), ("speed", 2.0), ("locality", 2.0))
    ),
}
