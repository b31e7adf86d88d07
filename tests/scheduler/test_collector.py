"""Tests for `framework.collector_paused`: a cycle pauses the cyclic garbage collector (ADR 0018) and
always leaves it as it found it."""

import gc
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta

import pytest

from suanli.domain.resources import AcceleratorOption, Resources, Vector
from suanli.scheduler import PROFILES, PendingJob, PoolView, Snapshot, schedule
from suanli.scheduler.framework import collector_paused
from suanli.scheduler.snapshot import Running


@pytest.fixture(autouse=True)
def _restore_collector() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.parametrize(
    ("enabled_before", "fails"),
    [(True, False), (True, True), (False, False), (False, True)],
)
def test_the_collector_is_off_inside_and_as_found_after(enabled_before: bool, fails: bool) -> None:
    gc.enable() if enabled_before else gc.disable()
    with pytest.raises(RuntimeError) if fails else nullcontext(), collector_paused():
        assert not gc.isenabled()
        if fails:
            raise RuntimeError("a plugin failed")
    assert gc.isenabled() == enabled_before


def test_a_nested_pause_leaves_the_outer_one_paused() -> None:
    gc.enable()
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_schedule_runs_with_the_collector_paused_and_restores_it(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []

    def examine(queue: object) -> Iterator[object]:
        seen.append(gc.isenabled())  # the cycle asks its queue for jobs once
        return iter(())

    monkeypatch.setattr("suanli.scheduler.framework.FairQueue.__iter__", examine)
    gc.enable()
    schedule(Snapshot(now=datetime(2026, 1, 1, tzinfo=UTC)), PROFILES)
    assert seen == [False]
    assert gc.isenabled()


def test_a_cycle_leaves_no_garbage_for_the_collector() -> None:
    """Everything a cycle drops is freed by reference counting as it ends: it leaves no reference
    cycles (which, with the collector paused and its survivors moved to the oldest generation,
    would wait for a full collection). A cycle that places, reserves and moves attempts aside."""
    models = ("A100", "H100", "V100")
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    pools = tuple(
        PoolView(
            id=m,
            site_id="s",
            site="s",
            name=m.lower(),
            accelerator=m,
            per_node=Vector(8, 64, 512 * 1024),
            free=(Vector(5, 64, 512 * 1024),),
        )
        for m in models
    )
    started = t0 - timedelta(hours=3, seconds=30)
    running = tuple(
        Running(
            attempt_id=f"{m}{k}/1",
            job_id=f"{m}{k}",
            pool_id=m,
            nodes=(0,),
            per_node=Vector(1, 0, 0),
            accelerator=m,
            org_id="n",
            project_id="n",
            preemptible=True,
            started_at=started,
            created_at=started,
            checkpoint_s=1800,
            moves=models,
        )
        for m in models
        for k in range(3)
    )
    jobs = tuple(
        PendingJob(
            id=f"job-{gpus}",
            resources=Resources(tuple(AcceleratorOption(m, gpus) for m in models), 1, 0, 0),
            created_at=t0 - timedelta(hours=2),
            org_id="w",
            project_id="w",
            preemptible=True,
            ran_s=3600,
        )
        for gpus in (8, 1)
    )
    snapshot = Snapshot(now=t0, pools=pools, jobs=jobs, running=running, order="las")
    gc.collect()
    gc.enable()
    plan = schedule(snapshot, PROFILES)
    assert plan.placements and plan.reservations and plan.preemptions  # every part of a cycle ran
    gc.disable()
    del plan
    assert gc.collect() == 0
