"""The attempts an agent holds and what the server has heard of each; every sync's report is built here.

An attempt is held from its launch until the server acknowledges it as terminal *and* all of its
output has been sent. Reports are level-triggered: every sync lists every held attempt, so a lost
request or reply costs nothing but a repeat. What counts as news (and so asks for a sync without
waiting) is anything the server has not yet accepted: a changed state, unsent output.

Output is read in chunks from the byte offset the server has accepted; a chunk read is sent until a
sync carrying it succeeds, and only then does the offset move on. An attempt that has ended is
reported ended only once all of its output is sent (or can no longer be read): the server takes an
ended attempt's output as complete.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from suanli.agent.backends.base import (
    LOG_CHUNK_BYTES,
    TERMINAL,
    Allocation,
    AttemptState,
    AttemptStatus,
    Launch,
)
from suanli.agent.wire import attempt_json

__all__ = ["HeldAttempt", "HeldAttempts", "Report"]

log = logging.getLogger("suanli.agent")

# How often the output of running attempts is looked at; ended ones, and ones with more output
# waiting than a chunk holds, are read at once.
LOG_REFRESH_S = 0.5
# The most output one sync carries, over all attempts.
REPORT_LOG_BYTES = 1024 * 1024
_ENDED = frozenset(state.value for state in TERMINAL)


@dataclass
class HeldAttempt:
    """One held attempt: its latest state, and how much of it the server has accepted."""

    attempt_id: str
    fencing_token: int
    status: AttemptStatus
    in_backend: bool = True
    forced_reason: str | None = None  # once ended, reported FAILED with this reason
    interrupted: bool = False  # and as stopped by the site on its own, not failed by the job
    cancelling: bool = False  # the server asked to cancel it: it ends CANCELLED, never forced
    reported: dict[str, Any] | None = None  # the report the server last accepted
    log_offset: int = 0  # bytes of output the server has accepted
    log_chunk: str = ""  # output read from log_offset, not yet accepted
    more_output: bool = False  # the last accepted chunk was full: read again at once
    drained: bool = False  # ended, and the server has all of its output
    acked: bool = False  # the server has recorded it as terminal
    allocation: Allocation | None = None  # what it was placed on (None: it never reached the backend)

    def force(self, reason: str, *, interrupted: bool = False) -> None:
        """Report it FAILED with `reason` once it has ended (the agent is stopping it on its own);
        `interrupted`: for a reason that is the site's deliberate doing (its agent shutting down),
        so the job keeps its retries."""
        if not self.cancelling and self.forced_reason is None:
            self.forced_reason = reason
            self.interrupted = interrupted

    def report(self, *, final: bool = False) -> dict[str, Any]:
        """The attempt as the next sync reports it. An attempt that has ended while some of its output
        is still to be sent is reported as still running (its output keeps flowing, a chunk per sync)
        until the server has it all: the server takes an ended attempt's output as complete. A
        `final` report (the agent's last sync) says the end whatever is left unsent."""
        status = self.status
        if status.terminal and not self.drained and not final:
            running = AttemptState.RUNNING if status.started_at else AttemptState.STARTING
            return attempt_json(
                replace(status, state=running, exit_code=None, reason=None, ended_at=None), self.fencing_token
            )
        if self.forced_reason is not None and status.terminal:
            status = replace(status, state=AttemptState.FAILED, reason=self.forced_reason)
            return {**attempt_json(status, self.fencing_token), "interrupted": self.interrupted}
        return attempt_json(status, self.fencing_token)


@dataclass(frozen=True)
class Report:
    """The attempts and output one sync carries, and where each attempt's output will then stand."""

    attempts: list[dict[str, Any]]
    logs: list[dict[str, Any]]
    log_ends: dict[str, int] = field(default_factory=dict)


class HeldAttempts:
    """The agent's table of held attempts; used by the runtime's one thread."""

    def __init__(self, remember: int = 10_000) -> None:
        self._held: dict[str, HeldAttempt] = {}
        self._forgotten: deque[str] = deque(maxlen=remember)
        self._forgotten_set: set[str] = set()
        self._next_log_refresh = 0.0

    def __contains__(self, attempt_id: object) -> bool:
        return attempt_id in self._held

    def __iter__(self) -> Iterator[HeldAttempt]:
        return iter(list(self._held.values()))

    def get(self, attempt_id: str) -> HeldAttempt | None:
        return self._held.get(attempt_id)

    def known(self, attempt_id: str) -> bool:
        """Held now, or forgotten lately: a launch for it must not start it again."""
        return attempt_id in self._held or attempt_id in self._forgotten_set

    def hold(self, launch: Launch) -> None:
        status = AttemptStatus(launch.attempt_id, AttemptState.STARTING)
        self._held[launch.attempt_id] = HeldAttempt(
            launch.attempt_id, launch.fencing_token, status, allocation=launch.allocation
        )

    def hold_failed(self, attempt_id: str, fencing_token: int, reason: str) -> None:
        """An attempt that never reached the backend: FAILED at once, with nothing to read."""
        now = datetime.now(UTC)
        status = AttemptStatus(attempt_id, AttemptState.FAILED, reason=reason, ended_at=now)
        self._held[attempt_id] = HeldAttempt(
            attempt_id, fencing_token, status, in_backend=False, drained=True
        )

    def update(self, statuses: Iterable[AttemptStatus]) -> list[HeldAttempt]:
        """Take the backend's states; returns the attempts that have just ended."""
        ended = []
        for status in statuses:
            held = self._held.get(status.attempt_id)
            if held is None or not held.in_backend or held.status == status:
                continue
            if status.terminal and not held.status.terminal:
                ended.append(held)
            held.status = status
        return ended

    def live(self) -> list[HeldAttempt]:
        """Attempts still running in the backend."""
        return [held for held in self._held.values() if held.in_backend and not held.status.terminal]

    def refresh_logs(self, read: Callable[[str, int], str], now: float, *, everything: bool = False) -> None:
        """Read new output of attempts that have none waiting to be sent (all of them when due).

        `everything` is the agent's last read, before its last sync: every attempt's output is read
        again from what the server has accepted, a chunk already waiting included. That chunk was
        read while the attempt ran and may lack its last lines (those a stopped job wrote as it
        went); read again from the same offset, it only grows."""
        due = everything or now >= self._next_log_refresh
        if due:
            self._next_log_refresh = now + LOG_REFRESH_S
        for held in self._held.values():
            if held.drained or (held.log_chunk and not everything) or not held.in_backend:
                continue
            if not (due or held.more_output or held.status.terminal):
                continue
            ended = held.status.terminal  # read before the output: an ended attempt's output is final
            try:
                chunk = read(held.attempt_id, held.log_offset)
            except Exception:
                if not ended:
                    raise
                # An ended attempt is reported ended once its output is all sent: output that can
                # no longer be read must not keep it (and its job) open for good.
                log.warning("the rest of attempt %s's output cannot be read", held.attempt_id, exc_info=True)
                chunk = held.log_chunk  # what was read before is still worth sending
            held.log_chunk = chunk
            held.drained = ended and not held.log_chunk

    def report(self, *, final: bool = False) -> Report:
        attempts = [held.report(final=final) for held in self._held.values()]
        logs: list[dict[str, Any]] = []
        ends: dict[str, int] = {}
        budget = REPORT_LOG_BYTES
        for held in self._held.values():
            size = len(held.log_chunk.encode())
            if not held.log_chunk or (size > budget and logs):
                continue
            logs.append({"attempt_id": held.attempt_id, "offset": held.log_offset, "data": held.log_chunk})
            ends[held.attempt_id] = held.log_offset + size
            budget -= size
        return Report(attempts, logs, ends)

    def accepted(self, report: Report) -> None:
        """A sync carrying `report` succeeded."""
        for sent in report.attempts:
            held = self._held.get(sent["id"])
            if held is not None:
                held.reported = sent
                if sent["state"] in _ENDED:
                    # The server takes an ended attempt's output as complete (readers stop there).
                    # Only the agent's last sync says the end with output unsent; once it is in
                    # there is nothing left to send, and the attempt must be forgettable (files
                    # and all) or the next agent would report it again as left behind.
                    held.drained = True
        for attempt_id, end in report.log_ends.items():
            held = self._held.get(attempt_id)
            if held is not None and end > held.log_offset:
                held.more_output = end - held.log_offset >= LOG_CHUNK_BYTES - 3
                held.log_offset, held.log_chunk = end, ""

    def has_news(self) -> bool:
        return any(held.log_chunk or held.report() != held.reported for held in self._held.values())

    def ack(self, attempt_id: str) -> None:
        held = self._held.get(attempt_id)
        if held is not None and held.status.terminal:
            held.acked = True

    def forgettable(self) -> list[str]:
        """Acknowledged attempts whose output the server has in full."""
        return [held.attempt_id for held in self._held.values() if held.acked and held.drained]

    def forget(self, attempt_id: str) -> None:
        if self._held.pop(attempt_id, None) is None:
            return
        if len(self._forgotten) == self._forgotten.maxlen:
            self._forgotten_set.discard(self._forgotten[0])
        self._forgotten.append(attempt_id)
        self._forgotten_set.add(attempt_id)
