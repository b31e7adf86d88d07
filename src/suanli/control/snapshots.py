"""Building the scheduler's frozen snapshot from the store: pools with per-node free capacity, pending jobs."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from suanli.control import caps, history, holds
from suanli.control.ledger import book_of, prices_in_force
from suanli.domain.ledger import PriceBook
from suanli.domain.money import DEFAULT_CURRENCY, Money
from suanli.domain.resources import Vector
from suanli.domain.spec import JobSpec, parse_spec
from suanli.domain.states import AttemptState
from suanli.scheduler import PROFILES, Candidate, PendingJob, PoolView, Snapshot, explain
from suanli.scheduler.books import cu_of
from suanli.scheduler.predict import JobFacts, Predictor
from suanli.scheduler.snapshot import BudgetCap, Quota, Release, Running, Usage
from suanli.store import Tx
from suanli.store.jobs import JobHead
from suanli.store.tables import Attempt, Job, Pool, Site

USAGE_HORIZON_HALF_LIVES = 6  # usage older than this many half-lives counts under 2 %: not read


@dataclass(frozen=True)
class Tuning:
    """The fair-share and preemption settings a snapshot carries to the scheduler."""

    half_life_h: float = 168.0
    preempt_after_s: float = 120.0
    hold_default_s: int = 3600  # what a job without max_runtime holds: `hold_without_max_runtime`
    order: str = "las"  # the queue order (`scheduler.order.QUEUE_ORDERS`): `queue_order` (ADR 0023)


def pool_views(tx: Tx, now: datetime, lease_ttl: float, *, releases: bool = False) -> list[PoolView]:
    """Every offered pool of every enabled site, with each node's free vector (and, if asked, when
    its active attempts are expected to give their capacity back)."""
    sites = {s.id: s for s in tx.sites.sites() if not s.disabled}
    pools = [p for p in tx.sites.pools(sites) if p.site_id in sites]
    active = tx.sites.active_attempts([p.id for p in pools])
    used = held_by_node(active)
    priced = [p.id for p in pools if p.price_minor is not None]
    books = {k: book_of(v) for k, v in prices_in_force(tx, priced, now).items() if v is not None}
    views = [_view(p, sites[p.site_id], used.get(p.id, {}), now, lease_ttl, books.get(p.id)) for p in pools]
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
        and site.agent_stopped_at is None
        and site.last_seen_at is not None
        and now - site.last_seen_at <= timedelta(seconds=lease_ttl)
    )


def _view(
    pool: Pool, site: Site, used: dict[int, Vector], now: datetime, lease_ttl: float, book: PriceBook | None
) -> PoolView:
    return PoolView(
        id=pool.id,
        site_id=site.id,
        site=site.name,
        name=pool.name,
        accelerator=pool.accelerator,
        per_node=Vector(pool.accelerators_per_node, pool.cpus_per_node, pool.memory_mib_per_node),
        free=free_nodes(pool, used),
        online=site_online(site, now, lease_ttl),
        stopped=site.agent_stopped_at is not None,
        region=site.region,
        price=Money(pool.price_minor, pool.currency or DEFAULT_CURRENCY)
        if pool.price_minor is not None
        else None,
        book=book,
        pue=Decimal(site.pue_milli) / 1000 if site.pue_milli is not None else None,
        carbon_g_per_kwh=site.carbon_g_per_kwh,
        bandwidth_mbps=tuple(sorted((str(k), int(v)) for k, v in (site.bandwidth_mbps or {}).items())),
        max_runtime_s=pool.max_runtime_s,
    )


def pending_job(job: Job | JobHead, avoid_sites: frozenset[str] = frozenset()) -> PendingJob:
    return spec_job(
        parse_spec(_spec(job)), job.id, job.created_at, job.priority, job.org_id, job.project_id, avoid_sites
    )


def spec_job(
    spec: JobSpec,
    job_id: str,
    created_at: datetime,
    priority: int,
    org_id: str = "",
    project_id: str = "",
    avoid_sites: frozenset[str] = frozenset(),
) -> PendingJob:
    """A job as the scheduler sees it, from its spec: what a stored job is (`pending_job`) and what
    a quote asks about, so a quote's verdicts are the ones its job would get."""
    return PendingJob(
        id=job_id,
        resources=spec.resources,
        created_at=created_at,
        org_id=org_id,
        project_id=project_id,
        priority=priority,
        regions=spec.constraints.regions,
        sites=spec.constraints.sites,
        avoid_sites=avoid_sites,
        objective=spec.objective,
        max_price_per_hour=Decimal(cap) if (cap := spec.constraints.max_price_per_hour) else None,
        preemptible=spec.evictable,
        data_residency=spec.constraints.data_residency,
        inputs=spec.inputs,
    )


def take(
    tx: Tx,
    now: datetime,
    lease_ttl: float,
    parsed: dict[str, PendingJob] | None = None,
    tuning: Tuning | None = None,
    run_times: Predictor | None = None,
    claims: Mapping[str, tuple[str, tuple[int, ...]]] | None = None,
    served: dict[str, PendingJob] | None = None,
) -> Snapshot:
    """The cycle's snapshot. `parsed` caches pending jobs' parsed specs between cycles (specs never
    change); it is pruned to the jobs still pending. With `run_times` (what the `service` order
    reads), pending and running jobs carry the service they have had and their expected run time.
    `claims`: the room the last plan claimed for blocked jobs (`Snapshot.claims`, ADR 0028).
    `served` keeps each pending job as the last snapshot gave it with its service: a job whose
    service, expected run time and avoided sites are unchanged is the same object again, so what
    the scheduler's carry keeps by job (`scheduler.carry.Carry`) holds from one cycle to the next."""
    cache = parsed if parsed is not None else {}
    tuning = tuning or Tuning()
    if len(_SPEC_FACTS) >= _SPEC_FACTS_MAX:  # between snapshots, never within one: a job whose
        _SPEC_FACTS.clear()  # facts were kept when its spec was left unread must find them
    pools = pool_views(tx, now, lease_ttl)
    names = {p.site_id: p.site for p in pools}
    disabled_orgs = {o.id for o in tx.tenancy.orgs() if o.disabled}
    jobs = [j for j in tx.jobs.pending_heads() if j.org_id not in disabled_orgs]  # a disabled org's jobs wait
    # a spec is read once per job, when it is first met (it never changes)
    _read_specs(
        tx, [j for j in jobs if j.id not in cache or (run_times is not None and j.id not in _SPEC_FACTS)]
    )
    lost = tx.jobs.avoided_sites([j.id for j in jobs])
    pending = []
    for job in jobs:
        base = cache.get(job.id) or pending_job(job)
        cache[job.id] = base
        avoid = frozenset(names.get(s, s) for s in lost.get(job.id, set()))
        pending.append(replace(base, avoid_sites=avoid) if avoid else base)
    for stale in cache.keys() - {j.id for j in jobs}:
        del cache[stale]
    active = running(tx, now)
    if run_times is not None:
        pending, active = _with_service(tx, jobs, pending, active, run_times, served)
    return Snapshot(
        now=now,
        pools=tuple(pools),
        jobs=tuple(pending),
        running=active,
        usage=usage(tx, now, tuning.half_life_h),
        quotas=quotas(tx),
        funds=funds(tx, jobs, pools, now),
        caps=budget_caps(tx, jobs, now),
        half_life_h=tuning.half_life_h,
        preempt_after_s=tuning.preempt_after_s,
        hold_default_s=tuning.hold_default_s,
        order=tuning.order,
        claims=claims or {},
    )


def _read_specs(tx: Tx, heads: list[JobHead]) -> None:
    """Fill in these jobs' specs, in one query per batch."""
    specs = tx.jobs.specs(h.id for h in heads)
    for h in heads:
        h.spec = specs.get(h.id)


def _spec(job: Job | JobHead) -> dict[str, Any]:
    assert job.spec is not None, f"job {job.id}: its spec was not read (`_read_specs`)"
    return job.spec


def _with_service(
    tx: Tx,
    jobs: list[JobHead],
    pending: list[PendingJob],
    active: tuple[Running, ...],
    run_times: Predictor,
    served: dict[str, PendingJob] | None = None,
) -> tuple[list[PendingJob], tuple[Running, ...]]:
    """Pending and running jobs with their attained service (seconds run by attempts that were
    preempted: the work a job resumes from) and their expected run time from finished jobs; a
    pending job as `served` keeps it when none of these changed (`take`)."""
    running_jobs = tx.jobs.heads(r.job_id for r in active)
    _read_specs(tx, [j for j in running_jobs.values() if j.id not in _SPEC_FACTS])
    ran = tx.jobs.run_seconds([*(j.id for j in jobs), *running_jobs], (AttemptState.PREEMPTED,))
    by_facts: dict[JobFacts, float | None] = {}  # jobs alike in what is known expect alike
    expected = {}
    for j in (*jobs, *running_jobs.values()):
        known = _facts(j).known
        if known not in by_facts:
            by_facts[known] = run_times.expected_s(known)
        expected[j.id] = by_facts[known]
    kept = served if served is not None else {}
    out_pending = []
    for p in pending:
        ran_s, expected_s = ran.get(p.id, 0.0), expected.get(p.id)
        last = kept.get(p.id)
        now_is = (ran_s, expected_s, p.avoid_sites)
        if last is None or (last.ran_s, last.expected_s, last.avoid_sites) != now_is:
            last = kept[p.id] = replace(p, ran_s=ran_s, expected_s=expected_s)
        out_pending.append(last)
    if served is not None:
        for stale in served.keys() - {p.id for p in pending}:
            del served[stale]
    pending = out_pending
    out = []
    for r in active:
        job = running_jobs.get(r.job_id)
        if job is None:
            out.append(r)
            continue
        out.append(
            replace(
                r,
                created_at=job.created_at,
                ran_s=ran.get(job.id, 0.0),
                expected_s=expected.get(job.id),
                checkpoint_s=_facts(job).checkpoint_s,
            )
        )
    return pending, tuple(out)


def running(tx: Tx, now: datetime) -> tuple[Running, ...]:
    """Every active attempt with its job's owner, priority, evictability and expected end."""
    active = tx.sites.active_attempts()
    jobs = tx.jobs.heads(a.job_id for a in active)
    _read_specs(tx, [j for j in jobs.values() if j.id not in _SPEC_FACTS])
    out = []
    for a in active:
        job = jobs.get(a.job_id)
        if job is None:
            continue
        facts = _facts(job)
        limit, evictable = facts.max_runtime_s, facts.evictable
        begun = a.started_at or a.created_at
        out.append(
            Running(
                attempt_id=a.id,
                job_id=job.id,
                pool_id=a.pool_id,
                nodes=tuple(int(n) for n in a.nodes),
                per_node=Vector(a.accelerators_per_node, a.cpus_per_node, a.memory_mib_per_node),
                accelerator=a.accelerator,
                org_id=job.org_id,
                project_id=job.project_id,
                priority=job.priority,
                preemptible=evictable,
                started_at=a.started_at,
                ends_at=begun + timedelta(seconds=limit) if limit else None,
                leaving=a.cancel_requested or a.state == AttemptState.PREEMPTING.value,
                moves=facts.moves,
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _Facts:
    """What a cycle reads of a job's spec besides its resources."""

    max_runtime_s: int | None
    evictable: bool
    checkpoint_s: float | None
    known: JobFacts  # what run-time predictions may read
    moves: tuple[str, ...]  # `Running.moves`: its models, when nothing else ties it to a place


_SPEC_FACTS: dict[str, _Facts] = {}  # by job id: a spec never changes
_SPEC_FACTS_MAX = 65_536  # beyond it, emptied when the next snapshot begins


def _facts(job: Job | JobHead) -> _Facts:
    found = _SPEC_FACTS.get(job.id)
    if found is None:
        spec = parse_spec(_spec(job))
        found = _Facts(
            spec.resources.max_runtime_s,
            spec.evictable,
            float(spec.checkpoint_interval_s) if spec.checkpoint_interval_s else None,
            history.facts_of(job, spec),
            _moves(spec),
        )
        _SPEC_FACTS[job.id] = found
    return found


def _moves(spec: JobSpec) -> tuple[str, ...]:
    """The accelerator models a running job may be moved to (`Running.moves`): those its spec
    takes, when the spec names no region, site, residency, price cap or input data (anything else
    that would make one pool's room unlike another's for it); else none."""
    c = spec.constraints
    if c.regions or c.sites or c.data_residency or c.max_price_per_hour or spec.inputs:
        return ()
    return tuple(dict.fromkeys(o.model for o in spec.resources.accelerators))


def usage(tx: Tx, now: datetime, half_life_h: float) -> dict[str, Usage]:
    """Decayed resource-hours per org id and per project id: each attempt's resources integrated over
    the time it ran, weighted by 2^(−age / half-life). A running attempt counts up to now."""
    horizon = now - timedelta(hours=half_life_h * USAGE_HORIZON_HALF_LIVES)
    rate = math.log(2) / half_life_h  # per hour
    sums: defaultdict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for a, org, project in tx.jobs.attempts_since(horizon):
        assert a.started_at is not None
        start = max(a.started_at, horizon)
        end = min(a.ended_at or now, now)
        if end <= start:
            continue
        age_end = (now - end).total_seconds() / 3600
        age_start = (now - start).total_seconds() / 3600
        weight = (math.exp(-rate * age_end) - math.exp(-rate * age_start)) / rate  # ∫ decay dt, hours
        nodes = len(a.nodes)
        per_node = Vector(a.accelerators_per_node, a.cpus_per_node, a.memory_mib_per_node)
        amounts = (
            float(cu_of(a.accelerator, per_node, nodes)),
            float(a.cpus_per_node * nodes),
            a.memory_mib_per_node * nodes / 1024,
        )
        for key in (org, project):
            total = sums[key]
            for k in range(3):
                total[k] += amounts[k] * weight
    return {k: Usage(*v) for k, v in sums.items()}


def funds(
    tx: Tx, jobs: list[Job] | list[JobHead], pools: list[PoolView], now: datetime
) -> dict[str, Money] | None:
    """What each project with pending jobs may still commit to holds (`holds.spendable`: cash
    available, stretched by the org's vouchers), in the currency the pools are priced in. None when
    no offered pool has a price book in force: nothing is charged, so nothing is checked."""
    if not jobs:
        return None
    currencies = {p.book.currency for p in pools if p.book is not None}
    if not currencies:
        return None
    currency = next(iter(currencies)) if len(currencies) == 1 else DEFAULT_CURRENCY
    owners = {j.project_id: j.org_id for j in jobs}
    return {
        project: Money(holds.spendable(tx, project, org, currency, now), currency)
        for project, org in owners.items()
    }


def budget_caps(tx: Tx, jobs: list[Job] | list[JobHead], now: datetime) -> dict[str, BudgetCap]:
    """The hard-capped budgets in force this month of the projects with pending jobs (`budget` gate)."""
    return {
        project: BudgetCap(Money(r.left, r.currency), Money(r.budget, r.currency), r.month)
        for project, r in caps.cap_rooms(tx, {j.project_id for j in jobs}, now).items()
    }


def quotas(tx: Tx) -> dict[str, Quota]:
    return {
        q.org_id: Quota(
            Decimal(q.guaranteed_cu_milli) / 1000,
            Decimal(q.limit_cu_milli) / 1000 if q.limit_cu_milli is not None else None,
        )
        for q in tx.tenancy.quotas()
    }


def candidates_for(tx: Tx, job: Job, now: datetime, lease_ttl: float) -> tuple[Candidate, ...]:
    """Every pool's verdict for one job against the network as it is now (what `suanli why` shows)."""
    pools = pool_views(tx, now, lease_ttl)
    names = {p.site_id: p.site for p in pools}
    avoided = tx.jobs.avoided_sites([job.id]).get(job.id, set())
    pending = pending_job(job, frozenset(names.get(s, s) for s in avoided))
    return explain(pending, pools, PROFILES)
