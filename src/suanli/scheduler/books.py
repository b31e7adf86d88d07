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
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from functools import cache

from suanli.domain.catalog import default_catalog
from suanli.domain.money import Money
from suanli.domain.resources import Vector
from suanli.scheduler.snapshot import (
    BudgetCap,
    PendingJob,
    PoolView,
    Quota,
    Running,
    RunningChanges,
    Snapshot,
    Usage,
)

__all__ = ["Books", "Holdings", "cu_of", "per_accelerator_cu"]

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
    """What one org or project holds: compute units exact (`cu_exact`, for quotas) and as a float
    (for shares), CPUs, and memory in MiB and GiB."""

    __slots__ = ("cpus", "cu", "cu_exact", "gib", "mib")

    def __init__(self, cu_exact: Decimal = Decimal(0), cpus: int = 0, mib: int = 0) -> None:
        self.cu_exact = cu_exact
        self.cpus = cpus
        self.mib = mib
        self.cu = float(cu_exact)
        self.gib = mib / _MIB_PER_GIB

    def add(self, cu: Decimal, cpus: int, mib: int) -> None:
        self.cu_exact += cu
        self.cpus += cpus
        self.mib += mib
        self.cu = float(self.cu_exact)
        self.gib = self.mib / _MIB_PER_GIB

    def copy(self) -> _Held:
        return _Held(self.cu_exact, self.cpus, self.mib)


class Holdings:
    """What the running attempts hold, per org id and per project id: the allocation term of every
    share and what quotas count. Sums are exact (compute units in `Decimal`, CPUs and MiB in
    integers), so a holder's share does not depend on the order its attempts are listed in.

    Kept from one cycle to the next (`carry.Carry.holdings`) and brought up to date by the attempts
    that started or ended since: the simulator and the control loop hand every cycle hundreds of
    running attempts, nearly all the ones of the cycle before. An attempt counts as the same while
    what it holds and for whom is unchanged."""

    def __init__(self) -> None:
        self._attempts: dict[str, Running] = {}
        self.held: dict[str, _Held] = {}  # by org id and by project id
        self.cu_by_org: dict[str, Decimal] = {}
        self._recount = False
        self._last: Sequence[Running] | None = None  # the list it was last brought up to date with

    def update(self, running: Sequence[Running], changes: RunningChanges | None = None) -> Holdings:
        """Bring the sums up to date with `running`: by `changes` where they say how it differs from
        the list of the last update, else by comparing the lists."""
        last, self._last = self._last, running
        if (
            changes is not None
            and changes.before is last
            and not self._recount
            and self._apply(changes, len(running))
        ):
            return self
        if self._recount:
            self._attempts, self.held, self.cu_by_org, self._recount = {}, {}, {}, False
        kept = self._attempts
        now: dict[str, Running] = {}
        found = 0  # attempts of the cycle before listed again
        for r in running:
            old = kept.get(r.attempt_id)
            if old is not None:
                found += 1
                if old is r or _holds(old) == _holds(r):
                    now[r.attempt_id] = old
                    continue
                self._count(old, -1)
            now[r.attempt_id] = r
            self._count(r, 1)
        if len(now) != len(running):  # an attempt listed twice: count the list as it is, and
            self._attempts, self.held, self.cu_by_org = {}, {}, {}  # the next one afresh
            for r in running:
                self._count(r, 1)
            self._recount = True
            return self
        if found != len(kept):  # some ended
            for attempt, old in kept.items():
                if attempt not in now:
                    self._count(old, -1)
        self._attempts = now
        return self

    def _apply(self, changes: RunningChanges, listed: int) -> bool:
        """Catch up by `changes` alone, if they fit what is kept (each attempt gone is kept, none
        added is, and the count comes out at `listed`); False, changing nothing, if not."""
        kept = self._attempts
        if len(kept) - len(changes.gone) + len(changes.added) != listed:
            return False
        if any(kept.get(r.attempt_id) is not r for r in changes.gone):
            return False
        gone = {r.attempt_id for r in changes.gone}
        if len(gone) != len(changes.gone):  # one gone twice
            return False
        if len({r.attempt_id for r in changes.added}) != len(changes.added):
            return False
        if any(r.attempt_id in kept and r.attempt_id not in gone for r in changes.added):
            return False
        for r in changes.gone:
            del kept[r.attempt_id]
            self._count(r, -1)
        for r in changes.added:
            kept[r.attempt_id] = r
            self._count(r, 1)
        return True

    def _count(self, r: Running, sign: int) -> None:
        n = len(r.nodes)
        cu = cu_of(r.accelerator, r.per_node, n) * sign
        cpus, mib = r.per_node.cpus * n * sign, r.per_node.memory_mib * n * sign
        for key in (r.org_id, r.project_id):
            held = self.held.get(key)
            if held is None:
                held = self.held[key] = _Held()
            held.add(cu, cpus, mib)
        self.cu_by_org[r.org_id] = self.cu_by_org.get(r.org_id, Decimal(0)) + cu


def _holds(r: Running) -> tuple[object, ...]:
    return (r.org_id, r.project_id, r.accelerator, r.per_node, len(r.nodes))


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

    def __init__(
        self,
        snapshot: Snapshot,
        cap: tuple[float, float, float] | None = None,
        holdings: Holdings | None = None,
    ) -> None:
        self._cap = cap or capacity(snapshot.pools)
        cap_cu, cap_cpus, cap_gib = self._cap
        decay = snapshot.half_life_h / math.log(2)
        self._norm = (cap_cu * decay, cap_cpus * decay, cap_gib * decay)
        self._usage = snapshot.usage
        # By org id and by project id: what the running attempts hold (`holdings`, carried from the
        # cycle before, brought up to date); a holder's entry is copied when this cycle's placements
        # first add to it (`_owned`), so the carried sums never see them
        kept = (holdings or Holdings()).update(snapshot.running, snapshot.running_changes)
        self._held = dict(kept.held)
        self._owned: set[str] = set()
        self._shares: dict[str, float] = {}  # `share`, until a placement changes the holder's
        self._cu_held = dict(kept.cu_by_org)  # by org id, exact, for quotas
        self.quotas = snapshot.quotas
        self._funds = dict(snapshot.funds) if snapshot.funds is not None else None
        self._caps = dict(snapshot.caps)  # by project id, `left` less this cycle's holds
        self.hold_default_s = snapshot.hold_default_s

    def _add(self, org: str, project: str, model: str | None, per_node: Vector, nodes: int) -> None:
        cu = cu_of(model, per_node, nodes)
        cpus, mib = per_node.cpus * nodes, per_node.memory_mib * nodes
        for key in (org, project):
            if key not in self._owned:
                kept = self._held.get(key)
                self._held[key] = kept.copy() if kept is not None else _Held()
                self._owned.add(key)
            self._held[key].add(cu, cpus, mib)
            self._shares.pop(key, None)
        self._cu_held[org] = self._cu_held.get(org, Decimal(0)) + cu

    def take(self, job: PendingJob, model: str | None, per_node: Vector, hold: Money | None) -> None:
        """A placement of this cycle: the job's org and project now hold its resources (and its hold)."""
        self._add(job.org_id, job.project_id, model, per_node, job.resources.nodes)
        if hold is not None and self._funds is not None and job.project_id in self._funds:
            left = self._funds[job.project_id]
            if left.currency == hold.currency:
                self._funds[job.project_id] = Money(left.minor - hold.minor, left.currency)
        cap = self._caps.get(job.project_id) if hold is not None else None
        if hold is not None and cap is not None and cap.left.currency == hold.currency:
            self._caps[job.project_id] = replace(cap, left=Money(cap.left.minor - hold.minor, hold.currency))

    def share(self, key: str) -> float:
        """The dominant share of an org or project id (module docstring); 0 on an empty network."""
        found = self._shares.get(key)
        if found is None:
            found = self._shares[key] = self._share(key)
        return found

    def _share(self, key: str) -> float:
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

    def cap(self, project: str) -> BudgetCap | None:
        """The project's hard-capped budget, with what this cycle's placements left of it; None: no cap."""
        return self._caps.get(project)

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
