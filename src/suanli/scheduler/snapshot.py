"""The frozen picture of the network a scheduling cycle reads: pools, their free nodes, pending jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from suanli.domain.money import Money
from suanli.domain.resources import Resources, Vector


@dataclass(frozen=True)
class Release:
    """Capacity an active attempt gives back when it ends: at `at` (None: its end is not known)."""

    at: datetime | None
    nodes: tuple[int, ...]
    per_node: Vector


@dataclass(frozen=True)
class PoolView:
    """One pool of one site as the scheduler sees it; `free` holds each node's free vector."""

    id: str
    site_id: str
    site: str
    name: str
    accelerator: str | None
    per_node: Vector
    free: tuple[Vector, ...]
    online: bool = True
    region: str = ""
    # Per accelerator-hour (per CPU-hour for a CPU-only pool); None while the pool is not priced.
    price: Money | None = None
    pue: Decimal | None = None  # the site's power usage effectiveness; None: not known
    carbon_g_per_kwh: int | None = None  # the site's grid intensity; None: not known
    # Filled only where expected start times are asked for (quotes); the scheduling cycle leaves it empty.
    releases: tuple[Release, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.site}/{self.name}"


@dataclass(frozen=True)
class PendingJob:
    """A job waiting for a placement."""

    id: str
    resources: Resources
    created_at: datetime
    org_id: str = ""
    project_id: str = ""
    priority: int = 0
    regions: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    # Sites where an earlier attempt was lost: placed elsewhere when another pool fits.
    avoid_sites: frozenset[str] = frozenset()
    objective: str = "balanced"
    max_price_per_hour: Decimal | None = None  # in the pool's currency


@dataclass(frozen=True)
class Snapshot:
    now: datetime
    pools: tuple[PoolView, ...] = ()
    jobs: tuple[PendingJob, ...] = field(default_factory=tuple)
