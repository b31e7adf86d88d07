"""Request bodies of the API (Pydantic at the edge); responses are documented in docs/api.md."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubmitJob(_In):
    spec: dict[str, Any]


class CreateOrg(_In):
    name: str
    kind: str = "tenant"


class CreateProject(_In):
    name: str


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
    region: str | None = None


class Enroll(_In):
    site: str


class PoolIn(_In):
    name: str = Field(min_length=1, max_length=64)
    accelerator: str | None = None
    accelerators_per_node: int = Field(0, ge=0, le=64)
    nodes: int = Field(1, ge=1, le=100000)
    cpus_per_node: int = Field(ge=1, le=100000)
    memory_mib_per_node: int = Field(ge=1)


class AttemptIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    fencing_token: int
    state: str = Field(pattern="^(STARTING|RUNNING|SUCCEEDED|FAILED|CANCELLED)$")
    exit_code: int | None = None
    reason: str | None = Field(None, max_length=2000)
    started_at: datetime | None = None
    ended_at: datetime | None = None


class UsageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    seq: int = Field(ge=1)
    attempt_id: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    accelerator_seconds: int = Field(0, ge=0)
    cpu_seconds: int = Field(0, ge=0)
    wall_seconds: int = Field(0, ge=0)


class LogIn(_In):
    attempt_id: str
    offset: int = Field(ge=0)
    data: str


class SyncIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    pools: list[PoolIn] | None = None
    attempts: list[AttemptIn] = []
    usage: list[UsageIn] = []
    logs: list[LogIn] = []
    wait: float = Field(0, ge=0, le=60)
