"""The placement profiles a job's `objective` picks from: the same filters, differently weighted scores."""

from __future__ import annotations

from suanli.scheduler import plugins  # noqa: F401  (registers the built-in plugins)
from suanli.scheduler.framework import Profile

# Cheap, static checks first so the reason a user sees is the most fundamental one.
FILTERS = ("accelerator", "shape", "constraints", "price_cap", "online", "capacity")

# `lost_sites` dominates: a job goes back to a site that lost it only when nothing else fits.
PROFILES: dict[str, Profile] = {
    "balanced": Profile(
        "balanced", FILTERS, (("lost_sites", 10.0), ("waste", 1.0), ("cost", 1.0), ("carbon", 1.0))
    ),
    "cheapest": Profile(
        "cheapest", FILTERS, (("lost_sites", 10.0), ("waste", 1.0), ("cost", 4.0), ("carbon", 0.25))
    ),
    "greenest": Profile(
        "greenest", FILTERS, (("lost_sites", 10.0), ("waste", 1.0), ("carbon", 4.0), ("cost", 0.25))
    ),
    # Expected start time is not scored yet; until it is, `fastest` takes the first pool that fits now.
    "fastest": Profile("fastest", FILTERS, (("lost_sites", 10.0), ("waste", 1.0))),
}
