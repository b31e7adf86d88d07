"""Tests for `framework.collector_paused`: a cycle pauses the cyclic garbage collector (ADR 0018) and
always leaves it as it found it."""

import gc
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime

import pytest

from suanli.scheduler import PROFILES, Snapshot, schedule
from suanli.scheduler.framework import collector_paused


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
