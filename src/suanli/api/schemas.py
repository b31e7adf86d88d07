"""Request bodies of the API (Pydantic at the edge); responses are documented in docs/api.md."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

# Bounds that match the columns, so an out-of-range number is a 422 naming the field, not a 500.
INT32 = 2**31 - 1
INT64 = 2**63 - 1


def _utc(value: Any, parse: ValidatorFunctionWrapHandler) -> datetime:
    try:
        at: datetime = parse(value)
    except ValidationError:
        raise PydanticCustomError(
            "datetime", "a date-time such as 2027-01-01T00:00:00Z or a date such as 2027-01-01 (no zone: UTC)"
        ) from None
    return at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)


# Every date-time the API reads: RFC 3339, or a date (midnight); without a zone it is UTC. Each is
# kept in UTC: the store's columns (SQLite's above all) keep no offset.
Instant = Annotated[datetime, WrapValidator(_utc)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubmitJob(_In):
    spec: dict[str, Any]


class CreateOrg(_In):
    name: str
    kind: str = "tenant"


class CreateProject(_In):
    name: str
    on_funds_exhausted: str = Field(
        "stop",
        description="stop: a running job is stopped when its funds run out; continue: it runs on into arrears",
    )


class UpdateProject(_In):
    on_funds_exhausted: str | None = Field(None, description="stop or continue (see CreateProject)")


class SetQuota(_In):
    guaranteed_cu: str | int | float = Field(
        0, description="compute units the org always has (taken back from borrowers by preemption)"
    )
    limit_cu: str | int | float | None = Field(
        None, description="most compute units it may hold, borrowing idle capacity; null: no limit"
    )
    max_priority: str = Field("normal", description="highest priority class its jobs may use")


class AddMember(_In):
    user: str
    role: str = "member"


class CreateToken(_In):
    name: str = Field(min_length=1, max_length=128)
    user: str | None = None
    expires_in: str | None = None
    operator: bool = False


class CreateSite(_In):
    name: str
    org: str
    region: str | None = Field(None, max_length=64)


class UpdateSite(_In):
    region: str | None = None
    pue: str | float | None = None
    carbon_g_per_kwh: int | None = None
    bandwidth_mbps: dict[str, int] | None = Field(
        None, description='Mbit/s into the site from each region; "*" for the others, e.g. {"*": 1000}'
    )


class SetPrice(_In):
    price_per_hour: str | None = Field(
        description="per accelerator-hour (CPU-hour on a CPU pool), e.g. '38.00 CNY'; null removes it"
    )


class Quote(_In):
    spec: dict[str, Any]


class Enroll(_In):
    site: str


class PoolIn(_In):
    name: str = Field(min_length=1, max_length=64)
    accelerator: str | None = Field(None, max_length=64)
    accelerators_per_node: int = Field(0, ge=0, le=64)
    nodes: int = Field(1, ge=1, le=100000)
    cpus_per_node: int = Field(ge=1, le=100000)
    memory_mib_per_node: int = Field(ge=1, le=INT64)
    max_runtime_s: int | None = Field(None, ge=1, le=INT64)  # the engine's limit on one run here


class AttemptIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    fencing_token: int = Field(ge=0, le=INT64)
    state: str = Field(pattern="^(STARTING|RUNNING|SUCCEEDED|FAILED|CANCELLED)$")
    exit_code: int | None = Field(None, ge=-INT32 - 1, le=INT32)
    reason: str | None = Field(None, max_length=2000)
    started_at: Instant | None = None
    ended_at: Instant | None = None


class UsageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    seq: int = Field(ge=1, le=INT64)
    attempt_id: str
    started_at: Instant | None = None
    ended_at: Instant | None = None
    accelerator_seconds: int = Field(0, ge=0, le=INT64)
    cpu_seconds: int = Field(0, ge=0, le=INT64)
    wall_seconds: int = Field(0, ge=0, le=INT64)


class LogIn(_In):
    attempt_id: str
    offset: int = Field(ge=0, le=2**62)  # room left for the chunk's own length
    data: str


class SyncIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    pools: list[PoolIn] | None = None
    attempts: list[AttemptIn] = []
    usage: list[UsageIn] = []
    logs: list[LogIn] = []
    wait: float = Field(0, ge=0, le=60)


class TopUp(_In):
    amount: str = Field(description="e.g. '1000.00' or '1000.00 CNY'")
    transfer_id: str | None = Field(default=None, max_length=100)
    reason: str = Field(default="", max_length=500, description="why: kept in the audit trail")


class Refund(_In):
    reason: str = Field(max_length=500, description="why: kept in the audit trail")


class SetCreditLimit(_In):
    limit: str = Field(description="how far below zero the project's cash may go, e.g. '500.00 CNY'")
    reason: str = Field(default="", max_length=500, description="why: kept in the audit trail")


class SetBudget(_In):
    month: str = Field(description="YYYY-MM, or '*' for every month without its own budget")
    amount: str = Field(description="e.g. '5000.00' or '5000.00 CNY'")
    thresholds: list[int] | None = Field(default=None, description="alert at these percentages (50, 80, 100)")
    hard_cap: bool = Field(default=False, description="refuse new jobs once the month's charges reach it")
    reason: str = Field(default="", max_length=500)


class PriceRates(_In):
    accelerator_hour: str | None = None
    cpu_hour: str | None = None
    gb_hour: str | None = None


class SetPriceBook(_In):
    currency: str = "CNY"
    tenant: PriceRates
    wholesale: PriceRates
    minimum: str | None = None
    effective_at: Instant | None = None


class CreateProgramme(_In):
    name: str
    issuer: str = ""
    budget: str


class GrantVoucher(_In):
    org: str
    face: str
    share: str = "1"
    valid_from: Instant | None = None
    valid_until: Instant
    providers: list[str] = Field(default_factory=list)
    sites: list[str] = Field(default_factory=list)
    accelerators: list[str] = Field(default_factory=list)
    transfer_id: str | None = Field(default=None, max_length=100)


class Relate(_In):
    org: str
    provider: str
    note: str = ""
