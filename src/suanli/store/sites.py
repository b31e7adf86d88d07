"""Sites, their pools, and the capacity held on each pool by active attempts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from suanli.domain.states import ATTEMPT_ACTIVE
from suanli.store.ids import new_id
from suanli.store.tables import Attempt, Pool, Site


@dataclass(frozen=True)
class PoolOffer:
    """What an agent says one of its pools is."""

    name: str
    accelerator: str | None
    accelerators_per_node: int
    nodes: int
    cpus_per_node: int
    memory_mib_per_node: int
    max_runtime_s: int | None = None  # the engine's limit on one run here; None: none


class SiteRepo:
    def __init__(self, session: Session, *, sqlite: bool) -> None:
        self._s = session
        self._sqlite = sqlite

    def site(self, site_id: str) -> Site | None:
        return self._s.get(Site, site_id)

    def site_by_name(self, name: str) -> Site | None:
        return self._s.scalar(select(Site).where(Site.name == name))

    def sites(self) -> list[Site]:
        return list(self._s.scalars(select(Site).order_by(Site.name)))

    def add_site(self, name: str, org_id: str, region: str, now: datetime) -> Site:
        site = Site(
            id=new_id("site"),
            name=name,
            org_id=org_id,
            region=region,
            disabled=False,
            bandwidth_mbps={},
            enrolled_at=None,
            last_seen_at=None,
            created_at=now,
        )
        self._s.add(site)
        self._s.flush()
        return site

    def pools(self, site_ids: Iterable[str] | None = None, *, include_withdrawn: bool = False) -> list[Pool]:
        q = select(Pool).order_by(Pool.site_id, Pool.name)
        if site_ids is not None:
            q = q.where(Pool.site_id.in_(list(site_ids)))
        if not include_withdrawn:
            q = q.where(Pool.withdrawn.is_(False))
        return list(self._s.scalars(q))

    def pool(self, pool_id: str) -> Pool | None:
        return self._s.get(Pool, pool_id)

    def offer(self, site_id: str, offers: list[PoolOffer], now: datetime) -> bool:
        """Replace the site's pools with its offer; True if anything about its capacity changed."""
        current = {p.name: p for p in self.pools([site_id], include_withdrawn=True)}
        changed = False
        for o in offers:
            pool = current.pop(o.name, None)
            if pool is None:
                self._s.add(
                    Pool(
                        id=new_id("pool"),
                        site_id=site_id,
                        name=o.name,
                        accelerator=o.accelerator,
                        accelerators_per_node=o.accelerators_per_node,
                        nodes=o.nodes,
                        cpus_per_node=o.cpus_per_node,
                        memory_mib_per_node=o.memory_mib_per_node,
                        max_runtime_s=o.max_runtime_s,
                        version=0,
                        withdrawn=False,
                        updated_at=now,
                    )
                )
                changed = True
                continue
            shape = (
                o.accelerator,
                o.accelerators_per_node,
                o.nodes,
                o.cpus_per_node,
                o.memory_mib_per_node,
                o.max_runtime_s,
                False,
            )
            if shape != (
                pool.accelerator,
                pool.accelerators_per_node,
                pool.nodes,
                pool.cpus_per_node,
                pool.memory_mib_per_node,
                pool.max_runtime_s,
                pool.withdrawn,
            ):
                (
                    pool.accelerator,
                    pool.accelerators_per_node,
                    pool.nodes,
                    pool.cpus_per_node,
                    pool.memory_mib_per_node,
                    pool.max_runtime_s,
                    pool.withdrawn,
                ) = shape
                pool.updated_at = now
                changed = True
        for pool in current.values():
            if not pool.withdrawn:
                pool.withdrawn = True
                pool.updated_at = now
                changed = True
        self._s.flush()
        return changed

    def lock_pools(self, pool_ids: list[str]) -> dict[str, Pool]:
        """Lock the pools' rows (FOR UPDATE on PostgreSQL; SQLite's writer lock already serialises)."""
        q = select(Pool).where(Pool.id.in_(pool_ids)).order_by(Pool.id)
        if not self._sqlite:
            q = q.with_for_update()
        return {p.id: p for p in self._s.scalars(q)}

    def bump(self, pool_ids: list[str]) -> None:
        if pool_ids:
            self._s.execute(update(Pool).where(Pool.id.in_(pool_ids)).values(version=Pool.version + 1))

    def active_attempts(self, pool_ids: Iterable[str] | None = None) -> list[Attempt]:
        """Attempts that hold capacity: everything not yet terminal."""
        q = select(Attempt).where(Attempt.state.in_([s.value for s in ATTEMPT_ACTIVE]))
        if pool_ids is not None:
            q = q.where(Attempt.pool_id.in_(list(pool_ids)))
        return list(self._s.scalars(q))
