"""Score `speed`: faster accelerators finish the same work sooner (compute units per accelerator).

100 × the pool's CU per accelerator / the fastest model's in the catalog; a CPU-only pool, or a model
the catalog does not know, scores 0. The `fastest` objective weighs it most.
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import cache

from suanli.domain.catalog import default_catalog
from suanli.domain.resources import Vector
from suanli.scheduler.books import per_accelerator_cu
from suanli.scheduler.framework import register_score
from suanli.scheduler.snapshot import PendingJob, PoolView


@cache
def _fastest() -> float:
    return float(max((a.compute_units for a in default_catalog()), default=1)) or 1.0


class Speed:
    name = "speed"
    reads_free = False

    def job_key(self, job: PendingJob) -> Hashable:
        return None  # the same for every job: it depends on the pool alone

    def score(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> float:
        return 100.0 * float(per_accelerator_cu(pool.accelerator)) / _fastest()


register_score(Speed.name, Speed)
