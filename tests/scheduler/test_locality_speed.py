"""The `fastest` objective and data placement: accelerator speed, input transfer time, data residency."""

from dataclasses import replace
from datetime import UTC, datetime

from suanli.domain.resources import AcceleratorOption, Resources, Vector
from suanli.domain.spec import DataInput
from suanli.scheduler import PROFILES, PendingJob, PoolView, Snapshot, schedule
from suanli.scheduler.plugins.locality import transfer_hours

T0 = datetime(2025, 1, 1, tzinfo=UTC)
NODE = Vector(8, 64, 512 * 1024)


def pool(site: str, model: str = "A100", region: str = "cn-east", **kw: object) -> PoolView:
    return PoolView(
        id=f"pool-{site}",
        site_id=f"site-{site}",
        site=site,
        name="gpu",
        accelerator=model,
        per_node=NODE,
        free=(NODE,),
        region=region,
        **kw,  # type: ignore[arg-type]
    )


def job(models: str = "A100:1", objective: str = "balanced", **kw: object) -> PendingJob:
    options = tuple(AcceleratorOption(m, int(c)) for m, c in (o.split(":") for o in models.split("|")))
    return PendingJob(
        id="j",
        resources=Resources(options, 1, 1, 1024, 3600),
        created_at=T0,
        objective=objective,
        **kw,  # type: ignore[arg-type]
    )


def winner(pools: tuple[PoolView, ...], pending: PendingJob) -> str:
    (placement,) = schedule(Snapshot(T0, pools, (pending,)), PROFILES).placements
    return placement.pool_id


def test_fastest_prefers_the_quicker_accelerator() -> None:
    pools = (pool("a", "A100"), pool("h", "H100"))
    assert winner(pools, job("A100:1|H100:1", objective="fastest")) == "pool-h"


DATA = (DataInput("corpus", 500 * 1024, ("cn-north",)),)  # 500 GiB held in cn-north


def test_the_site_next_to_the_data_wins() -> None:
    pools = (pool("far", region="cn-south"), pool("near", region="cn-north"))
    assert winner(pools, job(inputs=DATA)) == "pool-near"


def test_transfer_time_follows_the_sites_bandwidth_from_the_replica_region() -> None:
    slow = pool("x", region="cn-south", bandwidth_mbps=(("*", 1000),))
    fast = replace(slow, bandwidth_mbps=(("*", 1000), ("cn-north", 10000)))
    local = replace(slow, region="cn-north")
    pending = job(inputs=DATA)
    assert transfer_hours(pending, local) == 0
    assert round(transfer_hours(pending, slow), 2) == round(10 * transfer_hours(pending, fast), 2)
    assert 1.1 < transfer_hours(pending, slow) < 1.3  # 500 GiB at 1 Gbit/s: about 72 minutes


def test_data_residency_keeps_the_job_in_its_region() -> None:
    pools = (pool("cheap", region="cn-south"), pool("home", region="cn-north"))
    plan = schedule(Snapshot(T0, pools[:1], (job(data_residency="cn-north"),)), PROFILES)
    assert plan.placements == ()
    assert "must stay in cn-north" in plan.reasons("j")[0].reason
    assert winner(pools, job(data_residency="cn-north")) == "pool-home"
