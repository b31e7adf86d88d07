"""Request bodies of the API (Pydantic at the edge); responses are documented in docs/api.md."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)
from pydantic_core import PydanticCustomError

from suanli.domain.resources import MAX_ACCELERATORS_PER_NODE, POOL_NAME

# Bounds that match the columns, so an out-of-range number is a 422 naming the field, not a 500.
INT32 = 2**31 - 1
INT64 = 2**63 - 1
_NUMBER = re.compile(r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$")


_TIME_FORMS = "a date-time such as 2027-01-01T00:00:00Z or a date such as 2027-01-01 (no zone: UTC)"


def _utc(value: Any, parse: ValidatorFunctionWrapHandler) -> datetime:
    # pydantic would read a number, or a numeric string, as seconds since 1970: not a form we offer
    if not isinstance(value, str | datetime) or (isinstance(value, str) and _NUMBER.match(value)):
        raise PydanticCustomError("datetime", _TIME_FORMS)
    try:
        at: datetime = parse(value)
    except ValidationError:
        raise PydanticCustomError("datetime", _TIME_FORMS) from None
    return at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)


# Every date-time the API reads: RFC 3339, or a date (midnight); without a zone it is UTC. Each is
# kept in UTC: the store's columns (SQLite's above all) keep no offset.
Instant = Annotated[datetime, WrapValidator(_utc)]


def _number_or_text(what: str) -> WrapValidator:
    """A value given as a JSON number or as text (a decimal the control layer reads), never true or
    false (which pydantic would take as 1 or 0), with one error naming what it should be."""

    def check(value: Any, parse: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise PydanticCustomError("number", f"expected {what}")
        return parse(value)

    return WrapValidator(check)


ComputeUnits = Annotated[str | int | float, _number_or_text('a number of compute units, such as 8 or "8.5"')]
Pue = Annotated[str | float, _number_or_text("a power usage effectiveness such as 1.3")]


def _printable(value: str) -> str:
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n" for c in value):
        raise PydanticCustomError("text", "must not contain control characters (such as ESC or BEL)")
    return value


def _one_line(value: str) -> str:
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise PydanticCustomError("text", "one line without control characters (such as a newline or ESC)")
    return value


# Free text kept and shown back (audit reasons, notes): lines, but nothing a terminal would act on.
Note = Annotated[str, Field(max_length=500), AfterValidator(_printable)]
# A label shown in lists (token names, an issuer, a transfer id).
Label = Annotated[str, AfterValidator(_one_line)]
TransferId = Annotated[str, Field(max_length=100), AfterValidator(_one_line)]


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
    guaranteed_cu: ComputeUnits = Field(
        0, description="compute units the org always has (taken back from borrowers by preemption)"
    )
    limit_cu: ComputeUnits | None = Field(
        None, description="most compute units it may hold, borrowing idle capacity; null: no limit"
    )
    max_priority: str = Field("normal", description="highest priority class its jobs may use")


class AddMember(_In):
    user: str
    role: str = "member"


class CreateToken(_In):
    name: Label = Field(min_length=1, max_length=128)
    user: str | None = None
    expires_in: str | None = None
    operator: StrictBool | None = None  # None: like the caller's own token when minted for the caller


class CreateSite(_In):
    name: str
    org: str
    region: str | None = Field(None, max_length=64)


class UpdateSite(_In):
    region: str | None = None
    pue: Pue | None = None
    carbon_g_per_kwh: StrictInt | None = None
    bandwidth_mbps: dict[str, StrictInt] | None = Field(
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
    # the agent's own names (`--pool`) are lowercase; a Slurm partition's or Ray's may not be
    name: str = Field(min_length=1, max_length=64, pattern=POOL_NAME.pattern)
    accelerator: str | None = Field(None, max_length=64)
    accelerators_per_node: int = Field(0, ge=0, le=MAX_ACCELERATORS_PER_NODE)
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
    interrupted: StrictBool = False  # the site stopped it on its own: the job keeps its retries


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
    site: str | None = None  # the site the agent was started for; its token must be that site's
    pools: list[PoolIn] | None = None
    attempts: list[AttemptIn] = []
    usage: list[UsageIn] = []
    logs: list[LogIn] = []
    wait: float = Field(0, ge=0, le=60)
    # the agent's last report before it stops (on purpose or not): the site is offline from now on
    stopping: bool = False

    @field_validator("pools")
    @classmethod
    def _pool_names_unique(cls, pools: list[PoolIn] | None) -> list[PoolIn] | None:
        names = [p.name for p in pools or ()]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"pool names must be unique within a site: {', '.join(twice)} is given twice")
        return pools


class TopUp(_In):
    amount: str = Field(description="e.g. '1000.00' or '1000.00 CNY'")
    transfer_id: TransferId | None = None
    reason: Note = Field(default="", description="why: kept in the audit trail")


class Payout(_In):
    amount: str = Field(description="what was paid to the provider, e.g. '1000.00' or '1000.00 CNY'")
    transfer_id: TransferId | None = None
    reason: Note = Field(description="the payment's reference (a bank transfer's): kept in the audit trail")


class Refund(_In):
    reason: Note = Field(description="why: kept in the audit trail")
    attempt: int | None = Field(
        None, ge=1, description="only this attempt's charges (its number); all when left out"
    )


class SetCreditLimit(_In):
    limit: str = Field(description="how far below zero the project's cash may go, e.g. '500.00 CNY'")
    reason: Note = Field(default="", description="why: kept in the audit trail")


class SetBudget(_In):
    month: str = Field(description="YYYY-MM, or '*' for every month without its own budget")
    amount: str = Field(description="e.g. '5000.00' or '5000.00 CNY'")
    thresholds: list[StrictInt] | None = Field(
        default=None, description="alert at these percentages (50, 80, 100)"
    )
    hard_cap: StrictBool = Field(
        default=False, description="refuse new jobs once the month's charges reach it"
    )
    reason: Note = ""


class PriceRates(_In):
    accelerator_hour: str | None = None
    cpu_hour: str | None = None
    gb_hour: str | None = None


class SetPriceBook(_In):
    """A new version of a pool's price book; what it leaves out keeps the newest version's value
    (`control.prices.set_price`)."""

    currency: str | None = None
    tenant: PriceRates = Field(default_factory=PriceRates)
    wholesale: PriceRates = Field(default_factory=PriceRates)
    minimum: str | None = None
    effective_at: Instant | None = None


class CreateProgramme(_In):
    name: str
    issuer: Label = Field("", max_length=200)
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
    transfer_id: TransferId | None = None


class Relate(_In):
    org: str
    provider: str
    note: Note = ""
