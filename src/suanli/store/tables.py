"""The relational schema: one SQLAlchemy model per table. Only `store/` imports SQLAlchemy."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which forgets the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        from datetime import UTC

        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class Org(Base):
    __tablename__ = "orgs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # tenant | provider
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class OrgQuota(Base):
    """An org's share of the network in compute units (milli-CU: integers, no floats)."""

    __tablename__ = "org_quotas"
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), primary_key=True)
    guaranteed_cu_milli: Mapped[int] = mapped_column(BigInteger, default=0)
    limit_cu_milli: Mapped[int | None] = mapped_column(BigInteger)  # None: may borrow any idle capacity
    max_priority: Mapped[str] = mapped_column(String(16), default="normal")  # highest class it may use
    updated_at: Mapped[datetime]


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("org_id", "name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    name: Mapped[str] = mapped_column(String(64))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # "stop": a running job is stopped when its funds run out; "continue": it runs on into arrears.
    on_funds_exhausted: Mapped[str] = mapped_column(String(16), default="stop", server_default="stop")
    created_at: Mapped[datetime]


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("org_id", "user_id"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class Token(Base):
    __tablename__ = "tokens"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # tenant | operator | agent | enrollment
    name: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]


class Site(Base):
    __tablename__ = "sites"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    region: Mapped[str] = mapped_column(String(64), default="")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Energy profile: power usage effectiveness × 1000 (1350 = PUE 1.35) and the grid's carbon
    # intensity in gCO2e/kWh; None when the provider has not said.
    pue_milli: Mapped[int | None] = mapped_column(Integer)
    carbon_g_per_kwh: Mapped[int | None] = mapped_column(Integer)
    # Network bandwidth from other regions in Mbit/s, e.g. {"cn-east": 10000, "*": 1000}; "*" is the
    # default for regions not named. Empty: not known.
    bandwidth_mbps: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enrolled_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
    # When its agent last said it was stopping on purpose (its final sync); None once an agent
    # syncs again. The site is offline from then on, not for a lease after its last sync.
    agent_stopped_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Pool(Base):
    __tablename__ = "pools"
    __table_args__ = (UniqueConstraint("site_id", "name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    name: Mapped[str] = mapped_column(String(64))
    accelerator: Mapped[str | None] = mapped_column(String(64))
    accelerators_per_node: Mapped[int] = mapped_column(Integer)
    nodes: Mapped[int] = mapped_column(Integer)
    cpus_per_node: Mapped[int] = mapped_column(Integer)
    memory_mib_per_node: Mapped[int] = mapped_column(BigInteger)
    # The longest run the site's engine allows here (a Slurm partition's MaxTime); None: no limit.
    max_runtime_s: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # Price of one node-hour's worth of the pool's accelerators, per accelerator (or per CPU for a
    # CPU-only pool), in minor units of `currency`; None while the pool is not priced.
    price_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    # Bumped by every placement on the pool: the applier's row lock and change marker.
    version: Mapped[int] = mapped_column(Integer, default=0)
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)  # no longer in the site's offer
    updated_at: Mapped[datetime]


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_org_created", "org_id", "created_at"), Index("ix_jobs_state", "state"))
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    retries_left: Mapped[int] = mapped_column(Integer)
    attempts_made: Mapped[int] = mapped_column(Integer, default=0)
    preemptions: Mapped[int] = mapped_column(Integer, default=0)  # attempts stopped for other jobs
    # attempts their sites stopped on purpose (an agent shutting down), requeued free (ADR 0032)
    interruptions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    exit_code: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(Text)
    log_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class Attempt(Base):
    __tablename__ = "attempts"
    __table_args__ = (
        UniqueConstraint("job_id", "number"),
        Index("ix_attempts_site_state", "site_id", "state"),
        Index("ix_attempts_pool_state", "pool_id", "state"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"))
    number: Mapped[int] = mapped_column(Integer)
    fencing_token: Mapped[int] = mapped_column(BigInteger)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id"))
    state: Mapped[str] = mapped_column(String(16))
    accelerator: Mapped[str | None] = mapped_column(String(64))
    accelerators_per_node: Mapped[int] = mapped_column(Integer)
    cpus_per_node: Mapped[int] = mapped_column(Integer)
    memory_mib_per_node: Mapped[int] = mapped_column(BigInteger)
    nodes: Mapped[list[Any]]
    # The price version in force at placement (None: the pool was free); its hold is `hold:<id>`.
    price_version_id: Mapped[str | None] = mapped_column(ForeignKey("price_versions.id"), default=None)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_expires_at: Mapped[datetime]
    log_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # attempt-local bytes received
    exit_code: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class JobEvent(Base):
    __tablename__ = "job_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)


class LogChunk(Base):
    __tablename__ = "log_chunks"
    __table_args__ = (
        UniqueConstraint("job_id", "offset"),
        # one attempt's output in order, and where each attempt's begins (`JobRepo.attempt_logs`)
        Index("ix_log_chunks_job_attempt", "job_id", "attempt", "offset"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"))
    offset: Mapped[int] = mapped_column(BigInteger)  # job-level byte offset of the first byte
    end: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[str] = mapped_column(Text)
    # the number of the attempt that wrote it (0010); None for chunks written before it was kept
    attempt: Mapped[int | None] = mapped_column(Integer, default=None)


class UsageRecord(Base):
    __tablename__ = "usage_records"
    __table_args__ = (
        UniqueConstraint("site_id", "seq"),
        # what a new record may repeat (`settlement.is_duplicate`), a resend (`JobRepo.add_usage`)
        Index("ix_usage_records_attempt_ended", "attempt_id", "ended_at"),
        Index("ix_usage_records_site_reported", "site_id", "reported_seq"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    # the site's own number when it was taken by another record and `seq` is the next free one
    reported_seq: Mapped[int | None] = mapped_column(BigInteger, default=None)
    attempt_id: Mapped[str] = mapped_column(ForeignKey("attempts.id"))
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"))
    wall_seconds: Mapped[int] = mapped_column(BigInteger)
    cpu_seconds: Mapped[int] = mapped_column(BigInteger)
    accelerator_seconds: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    recorded_at: Mapped[datetime]


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("principal", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    principal: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


# --- money: price books and the ledger (migration 0004) -----------------------------------------
# Rates are Decimal text (minor units per hour), never floats; amounts are integer minor units.


class PriceVersion(Base):
    """One immutable version of a pool's price book; the newest with effective_at ≤ now is in force."""

    __tablename__ = "price_versions"
    __table_args__ = (UniqueConstraint("pool_id", "version"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id"))
    version: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    tenant_accelerator_hour: Mapped[str] = mapped_column(String(40))
    tenant_cpu_hour: Mapped[str] = mapped_column(String(40))
    tenant_gb_hour: Mapped[str] = mapped_column(String(40))
    wholesale_accelerator_hour: Mapped[str] = mapped_column(String(40))
    wholesale_cpu_hour: Mapped[str] = mapped_column(String(40))
    wholesale_gb_hour: Mapped[str] = mapped_column(String(40))
    minimum_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    effective_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]


class LedgerAccount(Base):
    """An account; `signed_sum` (debits positive) caches the sum of its entries, updated with them."""

    __tablename__ = "ledger_accounts"
    id: Mapped[str] = mapped_column(String(120), primary_key=True)  # e.g. cash:<project>:CNY
    kind: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    credit_limit_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    signed_sum: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime]


class LedgerTransfer(Base):
    """A balanced transfer: written once, never changed (corrections are new transfers)."""

    __tablename__ = "ledger_transfers"
    # a hold's transfers (`ref`, by kind and date), and a month's transfers of a kind (statements)
    __table_args__ = (
        Index("ix_ledger_transfers_ref_kind_at", "ref", "kind", "at"),
        Index("ix_ledger_transfers_kind_at", "kind", "at"),
    )
    id: Mapped[str] = mapped_column(String(120), primary_key=True)  # the caller's idempotency key
    kind: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(120), default="")
    once_key: Mapped[str | None] = mapped_column(
        String(120), unique=True
    )  # a usage record charged, a charge refunded: once
    at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(80))


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transfer_id: Mapped[str] = mapped_column(ForeignKey("ledger_transfers.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # debit positive, credit negative
    currency: Mapped[str] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(String(80), default="")


class MonthSpend(Base):
    """What a project's charges dated in a month (UTC, `YYYY-MM`) took from its funding sources
    (cash, vouchers, arrears), net of the refunds dated then: the budget's spend. `LedgerRepo.post`
    moves it with each charge's and refund's entries, in the same transaction, as it moves an
    account's `signed_sum`; so reading a month's spend costs one row, however many charges it has."""

    __tablename__ = "month_spend"
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    charged_minor: Mapped[int] = mapped_column(BigInteger)


class Hold(Base):
    """Funds reserved for one placement; resolves once (captured or released)."""

    __tablename__ = "holds"
    __table_args__ = (
        Index("ix_holds_project_state", "project_id", "state"),
        Index("ix_holds_attempt", "attempt_id"),
    )
    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    provider_org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id"))
    accelerator: Mapped[str | None] = mapped_column(String(64))
    price_version_id: Mapped[str] = mapped_column(ForeignKey("price_versions.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    accelerator_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    cpu_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    # MiB-seconds of memory: charged per GiB-hour on the running total, so no record rounds it down
    mib_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    charged_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    payable_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    cash_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # What the org's vouchers were expected to pay of `amount_minor` when the hold was taken: the
    # hold reserves the rest in cash (migration 0005).
    voucher_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    job_id: Mapped[str | None] = mapped_column(String(40))
    attempt_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class VoucherProgramme(Base):
    __tablename__ = "voucher_programmes"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    issuer: Mapped[str] = mapped_column(String(128))
    currency: Mapped[str] = mapped_column(String(3))
    budget_minor: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class VoucherGrant(Base):
    __tablename__ = "vouchers"
    __table_args__ = (Index("ix_vouchers_org", "org_id"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    programme_id: Mapped[str] = mapped_column(ForeignKey("voucher_programmes.id"))
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    currency: Mapped[str] = mapped_column(String(3))
    face_minor: Mapped[int] = mapped_column(BigInteger)
    share: Mapped[str] = mapped_column(String(16))  # Decimal text, 0 < share ≤ 1
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    providers: Mapped[list[Any]]  # provider org ids; empty = any
    sites: Mapped[list[Any]]  # site ids; empty = any
    accelerators: Mapped[list[Any]]  # accelerator models or "cpu"; empty = any
    expired_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class ProviderRelation(Base):
    """A declared relation between a voucher holder and a provider: its vouchers never pay there."""

    __tablename__ = "provider_relations"
    __table_args__ = (UniqueConstraint("org_id", "provider_org_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    provider_org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


# --- budgets and the audit trail (migration 0006) -----------------------------------------------


class Budget(Base):
    """What a project means to spend in a month (`month` YYYY-MM, or "*" for every month without
    its own row), the alert thresholds in percent, and whether reaching it stops new jobs."""

    __tablename__ = "budgets"
    __table_args__ = (UniqueConstraint("project_id", "month"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    month: Mapped[str] = mapped_column(String(7))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    thresholds: Mapped[list[Any]]  # percentages, ascending
    hard_cap: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime]


class BudgetEvent(Base):
    """A threshold a project's month reached: written once per (project, month, threshold)."""

    __tablename__ = "budget_events"
    __table_args__ = (UniqueConstraint("project_id", "month", "threshold"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    month: Mapped[str] = mapped_column(String(7))
    threshold: Mapped[int] = mapped_column(Integer)
    spent_minor: Mapped[int] = mapped_column(BigInteger)
    budget_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    at: Mapped[datetime]


class AuditEvent(Base):
    """A change a person made (top-ups, credit limits, budgets): who, when, what, why. Append only."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_action_at", "action", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor_id: Mapped[str] = mapped_column(String(80))  # the user id
    actor: Mapped[str] = mapped_column(String(128))  # the user's name when it acted
    action: Mapped[str] = mapped_column(String(40))  # e.g. topup, credit_limit, budget
    org_id: Mapped[str | None] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200))  # e.g. acme/vision
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]]
