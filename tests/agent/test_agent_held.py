"""The held attempts' reports: an ended attempt is reported ended once all its output is sent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from suanli.agent.backends.base import Allocation, AttemptState, AttemptStatus, Launch
from suanli.agent.held import HeldAttempts

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def held_one() -> HeldAttempts:
    held = HeldAttempts()
    allocation = Allocation(None, 0, 1, 1024, (0,))
    held.hold(Launch("att_1", "job_1", 1, 7, {"name": "x", "run": "true"}, "cpu", allocation))
    held.update([AttemptStatus("att_1", AttemptState.RUNNING, started_at=NOW)])
    return held


def ended() -> AttemptStatus:
    return AttemptStatus("att_1", AttemptState.SUCCEEDED, exit_code=0, started_at=NOW, ended_at=NOW)


def test_an_ended_attempt_shows_as_running_until_its_output_is_sent() -> None:
    held = held_one()
    held.update([ended()])
    held.refresh_logs(lambda _, offset: "tail\n" if offset == 0 else "", 0.0)
    first = held.report()
    assert [a["state"] for a in first.attempts] == ["RUNNING"] and first.logs[0]["data"] == "tail\n"
    assert held.report(final=True).attempts[0]["state"] == "SUCCEEDED"  # the agent's last sync says it
    held.accepted(first)
    held.refresh_logs(lambda _, offset: "tail\n" if offset == 0 else "", 1.0)
    assert [a["state"] for a in held.report().attempts] == ["SUCCEEDED"]  # all sent: its end now


def test_output_that_can_no_longer_be_read_does_not_keep_an_ended_attempt_open(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def unreadable(attempt_id: str, offset: int) -> str:
        raise OSError("output.log: permission denied")

    held = held_one()
    with pytest.raises(OSError):  # a running attempt's: the agent's error, as before
        held.refresh_logs(unreadable, 0.0)
    held.update([ended()])
    held.refresh_logs(unreadable, 1.0)
    assert [a["state"] for a in held.report().attempts] == ["SUCCEEDED"]
    assert "the rest of attempt att_1's output cannot be read" in caplog.text


def test_the_last_sync_sends_the_output_written_as_the_job_stopped_and_lets_the_attempt_go() -> None:
    """A chunk read while the job ran is read again for the agent's last sync (the job wrote more as
    it was stopped); once that sync, which says the end, is in and acked, the attempt is forgettable
    even though its output was still flowing: the server takes it as complete."""
    output = "tick\n"
    held = held_one()
    held.refresh_logs(lambda _, offset: output[offset:], 0.0)  # read while it runs, never sent
    output += "stopped\n"
    held.update([ended()])
    held.refresh_logs(lambda _, offset: output[offset:], 1.0, everything=True)
    last = held.report(final=True)
    assert last.logs == [{"attempt_id": "att_1", "offset": 0, "data": "tick\nstopped\n"}]
    held.accepted(last)
    held.ack("att_1")
    assert held.forgettable() == ["att_1"]
