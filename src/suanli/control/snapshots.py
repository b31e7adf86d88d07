"""Building the scheduler's frozen snapshot from the store: pools with per-node free capacity, pending jobs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from suanli.domain.money import DEFAULT_CURRENCY, Money
from suanli.domain.resources import Vector
from suanli.domain.spec import parse_spec
from suanli.scheduler import PROFILES, Candidate, PendingJob, PoolView, Snapshot, explain
from suanli.scheduler.snapshot import Release
from suanli.store import Tx
from suanli.store.tables import Attempt, Job, Pool, Site


def pool_views(tx: Tx, now: datetime, lease_ttl: float, *, releases: bool = False) -> list[PoolView]:
    """Every offered pool of every enabled site, with each node's free vector (and, if asked, when
    its active attempts are expected to give their capacity back)."""
    sites = {s.id: s for s in tx.sites.sites() if not s.disabled}
    pools = [p for p in tx.sites.pools(sites) if p.site_id in sites]
    active = tx.sites.active_attempts([p.id for p in pools])
    used = held_by_node(active)
    views = [_view(p, sites[p.site_id], used.get(p.id, {}), now, lease_ttl) for p in pools]
    if not releases:
        return views
    by_pool = _releases(tx, active, now)
    return [replace(v, releases=by_pool.get(v.id, ())) for v in views]


def _releases(tx: Tx, active: list[Attempt], now: datetime) -> dict[str, tuple[Release, ...]]:
    """An attempt ends by its job's max_runtime after it started (or was placed); None without one."""
    out: defaultdict[str, list[Release]] = defaultdict(list)
    for a in active:
        job = tx.jobs.get(a.job_id)
        limit = job.spec.get("resources", {}).get("max_runtime_s") if job else None
        at = (a.started_at or a.created_at) + timedelta(seconds=limit) if limit else None
        need = Vector(a.accelerators_per_node, a.cpus_per_node, a.memory_mib_per_node)
        out[a.pool_id].append(Release(at, tuple(int(n) for n in a.nodes), need))
    return {k: tuple(v) for k, v in out.items()}


def held_by_node(attempts: list[Attempt]) -> dict[str, dict[int, Vector]]:
    """pool id → node index → capacity held there by active attempts."""
    held: defaultdict[str, defaultdict[int, Vector]] = defaultdict(lambda: defaultdict(Vector))
    for a in attempts:
        need = Vector(a.accelerators_per_node, a.cpus_per_node, a.memory_mib_per_node)
        for node in a.nodes:
            held[a.pool_id][int(node)] += need
    return {k: dict(v) for k, v in held.items()}


def free_nodes(pool: Pool, used: dict[int, Vector]) -> tuple[Vector, ...]:
    per_node = Vector(pool.accelerators_per_node, pool.cpus_per_node, pool.memory_mib_per_node)
    return tuple(per_node - used.get(i, Vector()) for i in range(pool.nodes))


def site_online(site: Site, now: datetime, lease_ttl: float) -> bool:
    return (
        not site.disabled
        and site.last_seen_at is not None
        and now - site.last_seen_at <= timedelta(seconds=lease_ttl)
    )


def _view(pool: Pool, site: Site, used: dict[int, Vector], now: datetime, lease_ttl: float) -> PoolView:
    return PoolView(
        id=pool.id,
        site_id=site.id,
        site=site.name,
        name=pool.name,
        accelerator=pool.accelerator,
        per_node=Vector(pool.accelerators_per_node, pool.cpus_per_node, pool.memory_mib_per_node),
        free=free_nodes(pool, used),
        online=site_online(site, now, lease_ttl),
        region=site.region,
        price=Money(pool.price_minor, pool.currency or DEFAULT_CURRENCY)
        if pool.price_minor is not None
        else None,
        pue=Decimal(site.pue_milli) / 1000 if site.pue_milli is not None else None,
        carbon_g_per_kwh=site.carbon_g_per_kwh,
    )


def pending_job(job: Job, avoid_sites: frozenset[str] = frozenset()) -> PendingJob:
    spec = parse_spec(job.spec)
    return PendingJob(
        id=job.id,
        resources=spec.resources,
        created_at=job.created_at,
        org_id=job.org_id,
        project_id=job.project_id,
        priority=job.priority,
        regions=spec.constraints.regions,
        sites=spec.constraints.sites,
        avoid_sites=avoid_sites,
        objective=spec.objective,
        max_price_per_hour=Decimal(cap) if (cap := spec.constraints.max_price_per_hour) else None,
    )


def take(tx: Tx, now: datetime, lease_ttl: float, parsed: dict[str, PendingJob] | None = None) -> Snapshot:
    """The cycle's snapshot. `parsed` caches pending jobs' parsed specs between cycles (specs never
    change); it is pruned to the jobs still pending."""
    cache = parsed if parsed is not None else {}
    pools = pool_views(tx, now, lease_ttl)
    names = {p.site_id: p.site for p in pools}
    disabled_orgs = {o.id for o in tx.tenancy.orgs() if o.disabled}
    jobs = [j for j in tx.jobs.pending() if j.org_id not in disabled_orgs]  # a disabled org's jobs wait
    lost = tx.jobs.avoided_sites([j.id for j in jobs])
    pending = []
    for job in jobs:
        base = cache.get(job.id) or pending_job(job)
        cache[job.id] = base
        avoid = frozenset(names.get(s, s) for s in lost.get(job.id, set()))
        pending.append(replace(base, avoid_sites=avoid) if avoid else base)
    for stale in cache.keys() - {j.id for j in jobs}:
        del cache[stale]
    return Snapshot(now=now, pools=tuple(pools), jobs=tuple(pending))


def candidates_for(tx: Tx, job: Job, now: datetime, lease_ttl: float) -> tuple[Candidate, ...]:
    """Every pool's verdict for one job against the network as it is now (what `suanli why` shows)."""
    pools = pool_views(tx, now, lease_ttl)
    names = {p.site_id: p.site for p in pools}
    avoided = tx.jobs.avoided_sites([job.id]).get(job.id, set())
    pending = pending_job(job, frozenset(names.get(s, s) for s in avoided))
    return explain(pending, pools, PROFILES)
