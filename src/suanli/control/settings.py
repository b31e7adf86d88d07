"""Server settings, read from `SUANLI_*` environment variables (Pydantic at this edge only)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path.home() / ".suanli"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SUANLI_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None  # default: SQLite in data_dir
    lease_ttl: float = Field(30.0, gt=0, description="seconds an attempt's lease lasts after a sync")
    lease_grace: float = Field(
        15.0, ge=0, description="extra seconds before the server declares an attempt lost"
    )
    start_timeout: float = Field(
        300.0, gt=0, description="seconds a placed attempt may take to start before it is placed elsewhere"
    )
    schedule_interval: float = Field(2.0, gt=0, description="seconds between periodic scheduling cycles")
    fair_share_half_life_h: float = Field(
        168.0, gt=0, description="hours for past usage to count half as much in fair-share order"
    )
    preempt_after: float = Field(
        120.0, ge=0, description="a blocked job that would wait longer than this many seconds may preempt"
    )
    hold_without_max_runtime: int = Field(
        3600,
        gt=0,
        description="seconds of its price a job without max_runtime holds (and may run before its funds are exhausted)",
    )
    queue_order: str = Field(
        "las",
        description="the order waiting jobs are examined in: las, the default (least attained service, "
        "new jobs aged; preempts resumable jobs: ADR 0019, 0022, 0023), service (the same with an "
        "ageing bound for every job: ADR 0017) or fair (priority, fair share, age; no eviction by service)",
    )
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    sync_max_wait: float = Field(30.0, ge=0)
    idempotency_ttl_hours: float = Field(24.0, gt=0, description="how long idempotency keys are kept")

    @field_validator("queue_order")
    @classmethod
    def _known_order(cls, value: str) -> str:
        from suanli.scheduler.order import QUEUE_ORDERS

        if value not in QUEUE_ORDERS:
            raise ValueError(f"unknown queue order {value!r}; known: {', '.join(sorted(QUEUE_ORDERS))}")
        return value
