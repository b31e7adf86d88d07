"""Estimates: hourly price, expected cost, energy, carbon and expected start of a job on a pool."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from suanli.domain.money import Money
from suanli.domain.resources import AcceleratorOption, Resources, Vector
from suanli.scheduler import PendingJob, PoolView
from suanli.scheduler.estimate import (
    carbon_g,
    energy_kwh,
    expected_cost,
    expected_start,
    hourly_price,
)
from suanli.scheduler.snapshot import Release

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NODE = Vector(8, 64, 512 * 1024)


def job(count: int = 2, nodes: int = 1, runtime: int | None = 3 * 3600, cpus: int = 4) -> PendingJob:
    resources = Resources((AcceleratorOption("A100", count),), nodes, cpus, 1024, runtime)
    return PendingJob("j", resources, NOW)


def pool(
    free: tuple[Vector, ...] = (NODE, NODE), releases: tuple[Release, ...] = (), **kw: object
) -> PoolView:
    return PoolView("p", "s", "site", "gpu", "A100", NODE, free, releases=releases, **kw)  # type: ignore[arg-type]


def test_price_is_per_accelerator_hour_times_units_and_hours() -> None:
    priced = pool(price=Money(1250))
    assert hourly_price(job(2, nodes=2), priced) == Money(5000)
    assert expected_cost(job(2, nodes=2), priced) == Money(15000)
    assert expected_cost(job(2, runtime=None), priced) == Money(2500)  # one hour when no max_runtime
    assert hourly_price(job(), pool()) is None


def test_energy_and_carbon_follow_tdp_pue_and_grid_intensity() -> None:
    green = pool(pue=Decimal("1.25"), carbon_g_per_kwh=600)
    # (2 × 400 W + 4 × 10 W) × 1.25 × 3 h = 3.15 kWh
    assert energy_kwh(job(), green) == Decimal("3.15")
    assert carbon_g(job(), green) == Decimal("1890")
    assert energy_kwh(job(), pool()) is None and carbon_g(job(), pool(pue=Decimal(1))) is None


def test_expected_start_is_now_when_it_fits() -> None:
    assert expected_start(job(), pool(), NOW) == NOW


def test_expected_start_waits_for_the_releases_it_needs_in_time_order() -> None:
    full = (Vector(0, 0, 0), Vector(1, 8, 1024))
    releases = (
        Release(NOW + timedelta(hours=3), (0,), NODE),
        Release(NOW + timedelta(hours=1), (1,), Vector(1, 8, 1024)),
    )
    assert expected_start(job(2), pool(full, releases), NOW) == NOW + timedelta(hours=1)
    assert expected_start(job(8), pool(full, releases), NOW) == NOW + timedelta(hours=3)
    assert expected_start(job(8, nodes=2), pool(full, releases), NOW) is None  # never frees enough


def test_an_unknown_end_makes_the_start_unknown() -> None:
    full = (Vector(0, 0, 0),)
    assert expected_start(job(), pool(full, (Release(None, (0,), NODE),)), NOW) is None
