"""Builders for billing tests on a real database: a tenant, a priced provider site, jobs that ran
there, the usage records the site reported, and their charges through the ledger's capture."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from suanli.control import holds, ledger
from suanli.control.principal import Principal
from suanli.control.settlement import is_duplicate
from suanli.domain.ledger import Usage
from suanli.store import PoolOffer, Tx
from suanli.store.tables import Attempt, Job, UsageRecord

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
OPERATOR = Principal(kind="user", token_id="tok_op", user_id="usr_op", user_name="op", operator=True)
_serial = itertools.count()


@dataclass(frozen=True)
class World:
    org: str
    org_id: str
    project_id: str
    user_id: str
    provider: str
    provider_id: str
    site_id: str
    pool_id: str


def world(tx: Tx, *, topup: int = 1_000_000, priced: bool = True) -> World:
    """A tenant org with project `default` and `topup` fen, and a provider site with an A100 pool at
    36.00 CNY per accelerator-hour (wholesale 28.80); free (no price book) unless `priced`."""
    n = next(_serial)
    org = tx.tenancy.add_org(f"tenant{n}", "tenant", NOW - timedelta(days=60))
    project = tx.tenancy.add_project(org.id, "default", NOW - timedelta(days=60))
    user = tx.tenancy.add_user(f"user{n}", NOW)
    provider = tx.tenancy.add_org(f"provider{n}", "provider", NOW)
    site = tx.sites.add_site(f"site{n}", provider.id, "cn", NOW)
    tx.sites.offer(site.id, [PoolOffer("gpu", "A100", 8, 2, 64, 1024)], NOW)
    pool = tx.sites.pools([site.id])[0]
    if priced:
        tx.ledger.add_price_version(
            pool_id=pool.id, version=1, currency="CNY",
            tenant_accelerator_hour="3600", tenant_cpu_hour="0", tenant_gb_hour="0",
            wholesale_accelerator_hour="2880", wholesale_cpu_hour="0", wholesale_gb_hour="0",
            minimum_minor=0, effective_at=NOW - timedelta(days=60), created_by="test", created_at=NOW,
        )  # fmt: skip
    if topup:
        ledger.topup(tx, f"top:{n}", project.id, topup, "CNY", NOW - timedelta(days=40), "op")
    return World(org.name, org.id, project.id, user.id, provider.name, provider.id, site.id, pool.id)


def job(tx: Tx, w: World, name: str, at: datetime = NOW) -> tuple[Job, Attempt]:
    row = tx.jobs.add(
        org_id=w.org_id, project_id=w.project_id, user_id=w.user_id, name=name,
        spec={"name": name}, retries=0, now=at,
    )  # fmt: skip
    attempt = tx.jobs.add_attempt(
        row, site_id=w.site_id, pool_id=w.pool_id, accelerator="A100", accelerators_per_node=1,
        cpus_per_node=1, memory_mib_per_node=0, nodes=[0], lease_expires_at=at, created_at=at,
    )  # fmt: skip
    return row, attempt


def report(
    tx: Tx, attempt: Attempt, seq: int, start: datetime, seconds: int, recorded: datetime = NOW
) -> UsageRecord:
    """The site reports `seconds` of one accelerator from `start`, under sequence number `seq`."""
    tx.jobs.add_usage(
        site_id=attempt.site_id, seq=seq, attempt=attempt, now=recorded, wall_seconds=seconds,
        cpu_seconds=0, accelerator_seconds=seconds, started_at=start,
        ended_at=start + timedelta(seconds=seconds),
    )  # fmt: skip
    tx.flush()
    return tx.billing.usage_at(attempt.site_id, [seq])[0]


def hold(tx: Tx, attempt: Attempt, at: datetime = NOW) -> str:
    """The hold placement takes for an attempt on a priced pool (once); returns its id."""
    job_row = tx.jobs.get(attempt.job_id)
    assert job_row is not None
    hold_id = f"hold:{attempt.id}"
    holds.hold(
        tx, hold_id, project_id=job_row.project_id, pool_id=attempt.pool_id, amount=50_000, now=at,
        job_id=job_row.id, attempt_id=attempt.id,
    )  # fmt: skip
    return hold_id


def charge(tx: Tx, record: UsageRecord, at: datetime = NOW) -> str | None:
    """What the loop does with a usage record: skip a duplicate, else capture it against the
    attempt's hold (opened on first use). Returns the charge's transfer id."""
    if is_duplicate(tx, record) is not None:
        return None
    attempt = tx.jobs.attempt(record.attempt_id)
    assert attempt is not None
    hold_id = hold(tx, attempt, at)
    usage = ledger.usage_of(record, attempt)
    return holds.capture(tx, hold_id, ledger.usage_key(record), Usage(usage.accelerator_seconds), at).id
