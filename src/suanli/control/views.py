"""How stored objects look over the API: plain JSON-ready dicts."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from suanli.control.charges import job_charges
from suanli.control.principal import Principal
from suanli.control.snapshots import free_nodes, held_by_node, site_online
from suanli.domain.ledger import hold_id
from suanli.domain.money import DEFAULT_CURRENCY, Money
from suanli.domain.resources import Vector
from suanli.domain.spec import parse_spec
from suanli.store import Tx
from suanli.store.tables import Attempt, Job, Org, OrgQuota, Pool, Project, Site, Token


def ts(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def attempt_view(a: Attempt, sites: dict[str, str], pools: dict[str, str]) -> dict[str, Any]:
    return {
        "id": a.id,
        "number": a.number,
        "site": sites.get(a.site_id, a.site_id),
        "pool": pools.get(a.pool_id, a.pool_id),
        "state": a.state,
        "accelerator": a.accelerator,
        "created_at": ts(a.created_at),
        "started_at": ts(a.started_at),
        "ended_at": ts(a.ended_at),
        "exit_code": a.exit_code,
        "reason": a.reason,
    }


def job_view(
    tx: Tx, job: Job, *, attempts: bool = True, waiting: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    org = tx.tenancy.org(job.org_id)
    project = tx.tenancy.project(job.project_id)
    rows = tx.jobs.attempts(job.id) if attempts else []
    sites = {s.id: s.name for s in tx.sites.sites()} if rows else {}
    pools = {p.id: p.name for p in tx.sites.pools(include_withdrawn=True)} if rows else {}
    last = rows[-1] if rows else None
    view: dict[str, Any] = {
        "id": job.id,
        "name": job.name,
        "org": org.name if org else job.org_id,
        "project": project.name if project else job.project_id,
        "state": job.state,
        "spec": job.spec,
        "created_at": ts(job.created_at),
        "updated_at": ts(job.updated_at),
        "started_at": ts(job.started_at),
        "ended_at": ts(job.ended_at),
        "exit_code": job.exit_code,
        "reason": job.reason,
        "retries_left": job.retries_left,
        "site": sites.get(last.site_id) if last else None,
        "pool": pools.get(last.pool_id) if last else None,
        "attempts": [attempt_view(a, sites, pools) for a in rows],
        "charges": job_charges(tx, [hold_id(a.id) for a in rows]) if rows else [],
    }
    if waiting is not None:
        view["waiting"] = waiting
    return view


def job_summary(tx: Tx, job: Job, orgs: dict[str, str], projects: dict[str, str]) -> dict[str, Any]:
    return {
        "id": job.id,
        "name": job.name,
        "org": orgs.get(job.org_id, job.org_id),
        "project": projects.get(job.project_id, job.project_id),
        "state": job.state,
        "created_at": ts(job.created_at),
        "started_at": ts(job.started_at),
        "ended_at": ts(job.ended_at),
        "exit_code": job.exit_code,
        "reason": job.reason,
    }


def pool_view(pool: Pool, used: dict[int, Vector]) -> dict[str, Any]:
    free = free_nodes(pool, used)
    whole = Vector(pool.accelerators_per_node, pool.cpus_per_node, pool.memory_mib_per_node)
    return {
        "name": pool.name,
        "accelerator": pool.accelerator,
        "accelerators_per_node": pool.accelerators_per_node,
        "nodes": pool.nodes,
        "cpus_per_node": pool.cpus_per_node,
        "memory_mib_per_node": pool.memory_mib_per_node,
        "max_runtime_s": pool.max_runtime_s,
        "price_per_hour": str(Money(pool.price_minor, pool.currency or DEFAULT_CURRENCY))
        if pool.price_minor is not None
        else None,
        "free": {
            "accelerators": sum(f.accelerators for f in free),
            "cpus": sum(f.cpus for f in free),
            "memory_mib": sum(f.memory_mib for f in free),
            "nodes_free": sum(1 for f in free if f == whole),
        },
    }


def site_views(tx: Tx, sites: list[Site], now: datetime, lease_ttl: float) -> list[dict[str, Any]]:
    pools = tx.sites.pools([s.id for s in sites])
    used = held_by_node(tx.sites.active_attempts([p.id for p in pools]))
    orgs = {o.id: o.name for o in tx.tenancy.orgs()}
    out = []
    for s in sites:
        if s.disabled:
            state = "disabled"
        elif s.last_seen_at is None:
            state = "new"
        elif s.agent_stopped_at is not None:
            state = "stopped"  # its agent said it was stopping: not silent, so not "offline"
        else:
            state = "online" if site_online(s, now, lease_ttl) else "offline"
        out.append(
            {
                "name": s.name,
                "org": orgs.get(s.org_id, s.org_id),
                "region": s.region,
                "pue": str(Decimal(s.pue_milli) / 1000) if s.pue_milli is not None else None,
                "carbon_g_per_kwh": s.carbon_g_per_kwh,
                "bandwidth_mbps": dict(s.bandwidth_mbps or {}),
                "state": state,
                "last_seen_at": ts(s.last_seen_at),
                "agent_stopped_at": ts(s.agent_stopped_at),
                "pools": [pool_view(p, used.get(p.id, {})) for p in pools if p.site_id == s.id],
            }
        )
    return out


def org_view(org: Org) -> dict[str, Any]:
    return {"name": org.name, "kind": org.kind, "disabled": org.disabled, "created_at": ts(org.created_at)}


def quota_view(quota: OrgQuota | None) -> dict[str, Any] | None:
    if quota is None:
        return None
    return {
        "guaranteed_cu": _cu(quota.guaranteed_cu_milli),
        "limit_cu": _cu(quota.limit_cu_milli) if quota.limit_cu_milli is not None else None,
        "max_priority": quota.max_priority,
        "updated_at": ts(quota.updated_at),
    }


def _cu(milli: int) -> str:
    return f"{Decimal(milli) / 1000:f}".rstrip("0").rstrip(".") if milli % 1000 else str(milli // 1000)


def project_view(project: Project, org_name: str) -> dict[str, Any]:
    return {
        "org": org_name,
        "name": project.name,
        "disabled": project.disabled,
        "on_funds_exhausted": project.on_funds_exhausted,
        "created_at": ts(project.created_at),
    }


def token_view(t: Token, user_name: str | None = None) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "kind": t.kind,
        "user": user_name,
        "created_at": ts(t.created_at),
        "expires_at": ts(t.expires_at),
        "revoked_at": ts(t.revoked_at),
    }


_ORG_ID = re.compile(r"\borg_[0-9a-z]+\b")


def pool_holders(tx: Tx, who: Principal, labels: list[str], now: datetime) -> list[dict[str, Any]]:
    """What holds each pool (`site/pool`) a waiting job does not fit now: the attempts running there,
    longest-running first, so a tenant sees what it waits for (`suanli why`). Jobs of orgs the
    caller cannot see are named by their org only."""
    sites = {s.id: s.name for s in tx.sites.sites()}
    by_label = {f"{sites.get(p.site_id, p.site_id)}/{p.name}": p for p in tx.sites.pools()}
    visible = who.visible_orgs()
    orgs: dict[str, str] = {}
    out = []
    for label in labels:
        pool = by_label.get(label)
        if pool is None:
            continue
        attempts = sorted(tx.sites.active_attempts([pool.id]), key=lambda a: a.started_at or now)
        held = []
        for a in attempts:
            job = tx.jobs.get(a.job_id)
            if job is None:
                continue
            if job.org_id not in orgs:
                org = tx.tenancy.org(job.org_id)
                orgs[job.org_id] = org.name if org else job.org_id
            spec = parse_spec(job.spec)
            limit = spec.resources.max_runtime_s
            mine = visible is None or job.org_id in visible
            held.append(
                {
                    "job": job.id if mine else None,
                    "name": job.name if mine else None,
                    "org": orgs[job.org_id],
                    "accelerators": a.accelerators_per_node * len(a.nodes),
                    "cpus": a.cpus_per_node * len(a.nodes),
                    "started_at": ts(a.started_at),
                    "ends_by": ts(a.started_at + timedelta(seconds=limit))
                    if a.started_at and limit
                    else None,
                    "preemptible": spec.evictable,
                    "stopping": a.cancel_requested,
                }
            )
        out.append({"pool": label, "attempts": held})
    return out


def with_org_names(tx: Tx, note: str | None) -> str | None:
    """A scheduler's note for people: it speaks of orgs by id, people read their names."""
    if not note or not _ORG_ID.search(note):
        return note
    names = {o.id: o.name for o in tx.tenancy.orgs()}
    return _ORG_ID.sub(lambda m: names.get(m.group(0), m.group(0)), note)
