"""The cycle's accounts of who holds what: allocation per org and project, fair shares, quotas, funds.

Built once per cycle from the snapshot (running attempts, decayed usage, quotas, funds) and updated
by every placement the cycle makes, so a job later in the cycle sees the ones before it.

**Fair share.** An org's (or project's) share is its *dominant* share over three resources:
compute units (accelerators weighted by the catalog's CU), CPUs and memory. For each resource,

    share_r = usage_r / (capacity_r × half_life / ln 2) + allocated_r / capacity_r

The first term is decayed resource-hours, divided by what holding the whole network forever would
have accrued under the same decay: the org's average fraction of the network over the recent past.
The second is the fraction it holds right now (running attempts and this cycle's placements). The
dominant share is the largest of the three. Lower shares go first; see `order.py`.

**Quotas** are in compute units of allocation (what is held now, not usage).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from functools import cache

from suanli.domain.catalog import default_catalog
from suanli.domain.money import Money
from suanli.domain.resources import Vector
from suanli.scheduler.snapshot import PendingJob, PoolView, Quota, Snapshot, Usage

__all__ = ["Books", "cu_of", "per_accelerator_cu"]

_MIB_PER_GIB = 1024.0


@cache
def per_accelerator_cu(model: str | None) -> Decimal:
    """Compute units of one accelerator of `model` (0 for none or an unknown model)."""
    if not model:
        return Decimal(0)
    found = default_catalog().find(model)
    return found.compute_units if found else Decimal(0)


def cu_of(model: str | None, per_node: Vector, nodes: int) -> Decimal:
    return per_accelerator_cu(model) * per_node.accelerators * nodes


class _Held:
    __slots__ = ("cpus", "cu", "gib")

    def __init__(self) -> None:
        self.cu = 0.0
        self.cpus = 0.0
        self.gib = 0.0


def capacity(pools: Sequence[PoolView]) -> tuple[float, float, float]:
    """The network's compute units, CPUs and GiB of memory: the denominators of every share."""
    cap_cu = cap_cpus = cap_gib = 0.0
    for pool in pools:
        n = len(pool.free)
        cap_cu += float(per_accelerator_cu(pool.accelerator)) * pool.per_node.accelerators * n
        cap_cpus += pool.per_node.cpus * n
        cap_gib += pool.per_node.memory_mib * n / _MIB_PER_GIB
    return cap_cu, cap_cpus, cap_gib


class Books:
    """Allocation, shares, quota headroom and funds for one cycle."""

    def __init__(self, snapshot: Snapshot, cap: tuple[float, float, float] | None = None) -> None:
        self._cap = cap or capacity(snapshot.pools)
        cap_cu, cap_cpus, cap_gib = self._cap
        decay = snapshot.half_life_h / math.log(2)
        self._norm = (cap_cu * decay, cap_cpus * decay, cap_gib * decay)
        self._usage = snapshot.usage
        self._held: defaultdict[str, _Held] = defaultdict(_Held)  # by org id and by project id
        self._cu_held: defaultdict[str, Decimal] = defaultdict(Decimal)  # by org id, exact, for quotas
        self.quotas = snapshot.quotas
        self._funds = dict(snapshot.funds) if snapshot.funds is not None else None
        self.hold_default_s = snapshot.hold_default_s
        for r in snapshot.running:
            self._add(r.org_id, r.project_id, r.accelerator, r.per_node, len(r.nodes))

    def _add(self, org: str, project: str, model: str | None, per_node: Vector, nodes: int) -> None:
        cu = cu_of(model, per_node, nodes)
        cpus, gib = per_node.cpus * nodes, per_node.memory_mib * nodes / _MIB_PER_GIB
        for key in (org, project):
            held = self._held[key]
            held.cu += float(cu)
            held.cpus += cpus
            held.gib += gib
        self._cu_held[org] += cu

    def take(self, job: PendingJob, model: str | None, per_node: Vector, hold: Money | None) -> None:
        """A placement of this cycle: the job's org and project now hold its resources (and its hold)."""
        self._add(job.org_id, job.project_id, model, per_node, job.resources.nodes)
        if hold is not None and self._funds is not None and job.project_id in self._funds:
            left = self._funds[job.project_id]
            if left.currency == hold.currency:
                self._funds[job.project_id] = Money(left.minor - hold.minor, left.currency)

    def share(self, key: str) -> float:
        """The dominant share of an org or project id (module docstring); 0 on an empty network."""
        usage = self._usage.get(key) or _NO_USAGE
        held = self._held.get(key)
        best = 0.0
        for used, now, norm, cap in (
            (usage.cu_h, held.cu if held else 0.0, self._norm[0], self._cap[0]),
            (usage.cpu_h, held.cpus if held else 0.0, self._norm[1], self._cap[1]),
            (usage.gib_h, held.gib if held else 0.0, self._norm[2], self._cap[2]),
        ):
            if cap > 0:
                best = max(best, (used / norm if norm > 0 else 0.0) + now / cap)
        return best

    def cu_held(self, org: str) -> Decimal:
        return self._cu_held.get(org, Decimal(0))

    def quota(self, org: str) -> Quota | None:
        return self.quotas.get(org)

    def funds(self, project: str) -> Money | None:
        """What the project may still commit to holds; None when funds are not checked."""
        if self._funds is None:
            return None
        return self._funds.get(project)

    @property
    def checks_funds(self) -> bool:
        return self._funds is not None

    def within_guarantee(self, org: str, extra: Decimal) -> bool:
        """Whether the org holds no more than its guaranteed quota with `extra` CU more."""
        quota = self.quotas.get(org)
        return quota is not None and self.cu_held(org) + extra <= quota.guaranteed_cu

    def borrowing(self, org: str) -> bool:
        """Whether the org holds more than its guaranteed quota (an org without a quota borrows all)."""
        quota = self.quotas.get(org)
        return self.cu_held(org) > (quota.guaranteed_cu if quota else Decimal(0))


_NO_USAGE = Usage()
