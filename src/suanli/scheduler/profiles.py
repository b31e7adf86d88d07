"""The placement profiles a job's `objective` picks from (the placement-engine work grows them)."""

from __future__ import annotations

from suanli.scheduler import plugins  # noqa: F401  (registers the built-in plugins)
from suanli.scheduler.framework import Profile

# Cheap, static checks first so the reason a user sees is the most fundamental one.
FILTERS = ("accelerator", "shape", "constraints", "online", "capacity")
SCORES = (("lost_sites", 10.0), ("waste", 1.0))

PROFILES: dict[str, Profile] = {
    name: Profile(name, FILTERS, SCORES) for name in ("balanced", "cheapest", "fastest", "greenest")
}
