"""Metering a running attempt in intervals, so the network charges it while it runs.

A backend reports what an attempt used when it ends (`Backend.usage`). A job that runs for days
would then be charged, pay its provider and use its org's vouchers only at its end: a voucher that
expired meanwhile would pay for none of it, and a month's statement would hold none of a job still
running at the month's end. So every `every` seconds of its run the agent sends an interim record
of the interval since the last one: its allocation (accelerators and CPUs on all its nodes) for
that many whole seconds. When the attempt ends its final record is the backend's total less what
the interim records said, from where they stopped to its end: the records of one attempt never
overlap (the server charges a repeated interval once, `settlement.is_duplicate`) and add up to
the backend's figures. The server charges every record as the attempt's allocation × its wall
time (`ledger.usage_of`), so the money is the same however the run is cut.

What has been metered of each attempt is kept with the outbox, in the same file write as the
record that metered it (`UsageOutbox`), so an agent restarted on the same state dir goes on
from where its records stopped. The agent's loop puts the records in the outbox each turn:
`add_interim_records` for the attempts that run, `add_final_records` for those reported ended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from suanli.agent.backends.base import Allocation, AttemptState, Usage

if TYPE_CHECKING:  # (the outbox builds on this module)
    from suanli.agent.held import HeldAttempts
    from suanli.agent.usage_outbox import UsageOutbox

__all__ = [
    "METER_EVERY_S",
    "Metered",
    "add_final_records",
    "add_interim_records",
    "after",
    "final",
    "interim",
]

METER_EVERY_S = 300.0  # how often a running attempt's usage is sent, by default


@dataclass(frozen=True)
class Metered:
    """What the interim records of one attempt have said so far, and where they stop."""

    until: datetime
    wall_seconds: float = 0.0
    accelerator_seconds: float = 0.0
    cpu_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "until": self.until.isoformat(),
            "wall_seconds": self.wall_seconds,
            "accelerator_seconds": self.accelerator_seconds,
            "cpu_seconds": self.cpu_seconds,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Metered:
        return cls(
            datetime.fromisoformat(raw["until"]),
            float(raw["wall_seconds"]),
            float(raw["accelerator_seconds"]),
            float(raw["cpu_seconds"]),
        )


def interim(
    attempt_id: str,
    allocation: Allocation,
    started_at: datetime,
    metered: Metered | None,
    now: datetime,
    every: float,
) -> Usage | None:
    """The record of a running attempt's last `every` seconds or more, in whole seconds from
    where its records stop (its start, before the first); None while less time has passed."""
    since = metered.until if metered is not None else started_at
    seconds = int((now - since).total_seconds())
    if seconds < max(1, every):
        return None
    nodes = max(1, len(allocation.nodes))
    return Usage(
        attempt_id,
        since,
        since + timedelta(seconds=seconds),
        float(seconds * allocation.accelerators_per_node * nodes),
        float(seconds * allocation.cpus_per_node * nodes),
        float(seconds),
    )


def after(metered: Metered | None, record: Usage) -> Metered:
    """What has been metered once `record` is sent too."""
    if metered is None:
        return Metered(record.ended_at, record.wall_seconds, record.accelerator_seconds, record.cpu_seconds)
    return Metered(
        record.ended_at,
        metered.wall_seconds + record.wall_seconds,
        metered.accelerator_seconds + record.accelerator_seconds,
        metered.cpu_seconds + record.cpu_seconds,
    )


def final(total: Usage, metered: Metered | None) -> Usage:
    """An ended attempt's last record: the backend's `total` less what interim records said, from
    where they stopped to its end (all of it when none were sent). A figure the interim records
    overstated (a local site measures CPU time, the interim records count what was allocated) is
    not taken back: that part of the last record is 0."""
    if metered is None:
        return total
    end = max(total.ended_at, metered.until)
    return Usage(
        total.attempt_id,
        metered.until,
        end,
        max(0.0, total.accelerator_seconds - metered.accelerator_seconds),
        max(0.0, total.cpu_seconds - metered.cpu_seconds),
        max(0.0, total.wall_seconds - metered.wall_seconds),
    )


def add_final_records(
    attempts: HeldAttempts,
    outbox: UsageOutbox,
    usage: Callable[[str], Usage | None],
    *,
    regardless: bool = False,
) -> None:
    """The last usage record of each ended attempt, once it is reported ended: when all its
    output is sent (`HeldAttempt.report`), or `regardless` (the agent's last sync). The server
    takes a record of an ended attempt as its final capture (the rest of the hold released, the
    minimum charge applied); sent while the attempt still shows as running, it would not be.
    `usage` is the backend's (`Backend.usage`)."""
    for held in attempts:
        if not held.status.terminal or not (held.drained or regardless):
            continue
        # An attempt adopted from the agent before may have had its final record already.
        if outbox.finished(held.attempt_id):
            continue
        total = usage(held.attempt_id)
        if total is not None:
            outbox.add(final(total, outbox.metered(held.attempt_id)))


def add_interim_records(attempts: HeldAttempts, outbox: UsageOutbox, now: datetime, every: float) -> None:
    """An interim record of each running attempt not metered for `every` seconds (`interim`)."""
    for held in attempts.live():
        started = held.status.started_at
        if held.allocation is None or started is None or held.status.state is not AttemptState.RUNNING:
            continue
        attempt_id = held.attempt_id
        record = interim(attempt_id, held.allocation, started, outbox.metered(attempt_id), now, every)
        if record is not None:
            outbox.add(record, interim=True)
