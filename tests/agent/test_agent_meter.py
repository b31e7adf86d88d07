"""Metering in intervals: interim records of a running attempt, and the last one when it ends."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from suanli.agent import meter
from suanli.agent.backends.base import Allocation, Usage
from suanli.agent.usage_outbox import UsageOutbox

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TWO_NODES = Allocation("A100", 4, 8, 1024, (0, 1))


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def test_interim_records_are_whole_seconds_of_the_allocation_and_follow_each_other() -> None:
    assert meter.interim("a", TWO_NODES, START, None, at(299.9), 300) is None  # not yet due
    first = meter.interim("a", TWO_NODES, START, None, at(301.7), 300)
    assert first is not None
    assert (first.started_at, first.ended_at, first.wall_seconds) == (START, at(301), 301.0)
    assert (first.accelerator_seconds, first.cpu_seconds) == (301 * 8, 301 * 16)  # 2 nodes × 4 GPUs, × 8 CPUs
    done = meter.after(None, first)
    second = meter.interim("a", TWO_NODES, START, done, at(602), 300)
    assert second is not None and (second.started_at, second.ended_at) == (at(301), at(602))


def test_the_last_record_is_the_total_less_what_interim_records_said() -> None:
    one = meter.interim("a", TWO_NODES, START, None, at(300), 300)
    assert one is not None
    done = meter.after(None, one)
    total = Usage("a", START, at(420.4), 420.4 * 8, 50.0, 420.4)  # measured CPU below the allocation
    last = meter.final(total, done)
    assert (last.started_at, last.ended_at) == (at(300), at(420.4))  # from where the others stopped
    assert abs(last.wall_seconds - 120.4) < 1e-9
    assert abs(last.accelerator_seconds - 120.4 * 8) < 1e-6 and last.cpu_seconds == 0.0
    assert meter.final(total, None) == total  # a run shorter than an interval: one record


def test_the_outbox_keeps_the_metering_with_the_records_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "usage.json"
    outbox = UsageOutbox(path)
    one = meter.interim("a", TWO_NODES, START, None, at(300), 300)
    assert one is not None
    outbox.add(one, interim=True)
    again = UsageOutbox(path)  # an agent restarted on the same state dir
    metered = again.metered("a")
    assert metered is not None and metered.until == at(300) and metered.wall_seconds == 300
    assert not again.finished("a")
    again.add(meter.final(Usage("a", START, at(400), 3200.0, 0.0, 400.0), metered))
    assert [r["wall_seconds"] for r in again.pending()] == [300, 100]
    assert UsageOutbox(path).finished("a") and UsageOutbox(path).metered("a") is None
    again.forget("a")
    assert not UsageOutbox(path).finished("a")


def test_an_outbox_from_before_interim_records_holds_final_ones(tmp_path: Path) -> None:
    path = tmp_path / "usage.json"
    record = {"seq": 3, "attempt_id": "a", "started_at": None, "ended_at": None,
              "accelerator_seconds": 0, "cpu_seconds": 0, "wall_seconds": 5}  # fmt: skip
    path.write_text(json.dumps({"next_seq": 4, "unsent": [record]}))
    outbox = UsageOutbox(path)
    assert outbox.finished("a") and not outbox.finished("b") and outbox.next_seq == 4
