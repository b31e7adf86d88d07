"""Which running attempts may be evicted for service now, and at what rank, kept from one cycle to
the next (`carry.Carry.evictable`).

Under a service order a cycle that blocks a job asks every attempt that may be evicted at all for
its `service.evictable_rank`: with hundreds of attempts running and a cycle per event, that was a
sixth of a replay of the Philly trace on a 15-site network. Each answer holds until an instant
`service.evictable_until` names (the attempt's checkpoint window opens or closes, its service reaches
the next rung, its protection ends), so the book asks again only the attempts listed for the first
time and those whose instant has come; an attempt no longer listed leaves it. Attempts are told
apart by identity: the simulator hands the same `Running` to cycle after cycle, and one that changes
(told to leave, say) is a new object. The control loop builds its attempts afresh each cycle, so
there the book asks each of them once a cycle, as before.

The answers are the ones asking every attempt gives (`tests/scheduler/test_evictable.py` compares
them at random instants, boundaries included).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from datetime import datetime, timedelta

from suanli.scheduler import service
from suanli.scheduler.snapshot import Running, RunningChanges

__all__ = ["EvictableRanks", "evictable_ranks"]

# An answer is asked again from this long before its instant: the ladder's instants are worked out in
# float seconds, so near one the book asks every cycle until it has passed (never a stale answer).
_MARGIN = timedelta(milliseconds=1)


def evictable_ranks(running: Sequence[Running], now: datetime, every_band: bool) -> dict[str, int]:
    """Attempt id → evictable rank, for the attempts that may be evicted for service now (rank above
    0), asking each: what the book keeps."""
    ranks = (
        (r.attempt_id, service.evictable_rank(r, now, every_band))
        for r in running
        if r.preemptible and not r.leaving
    )
    return {a: k for a, k in ranks if k}


class EvictableRanks:
    """`evictable_ranks` kept up to date across cycles (module docstring)."""

    PENDING = 10_000  # cycles' changes kept for the next `update` at most; past it, it compares

    def __init__(self) -> None:
        self._noted: Sequence[Running] | None = None  # the last cycle's running attempts (`note`)
        self._pending: list[RunningChanges] | None = None  # their changes since the last update
        self._reset(None)

    def _reset(self, every_band: bool | None) -> None:
        self._every_band = every_band
        self._now: datetime | None = None
        self._listed: dict[int, Running] = {}  # id → every attempt the last update listed
        # attempt id → its attempt, of those that may be evicted at all (`ranks` names some of them)
        self.attempts: dict[str, Running] = {}
        self._due: list[tuple[datetime, int, Running]] = []  # (ask again from, tie-break, attempt)
        self._seq = 0
        self.ranks: dict[str, int] = {}

    def note(self, running: Sequence[Running], changes: RunningChanges | None) -> None:
        """Every cycle, with its snapshot's attempts and what changed since the last (if it says):
        `update` then catches up by the changes alone (most cycles block no job and never ask)."""
        pending = self._pending
        if (
            pending is not None
            and changes is not None
            and changes.before is self._noted
            and len(pending) < self.PENDING
        ):
            pending.append(changes)
        else:
            self._pending = None
        self._noted = running

    def update(self, running: Sequence[Running], now: datetime, every_band: bool) -> dict[str, int]:
        """Attempt id → rank of the attempts in `running` that may be evicted for service at `now`
        (read only: the book's own map)."""
        if every_band != self._every_band or self._now is None or now < self._now:
            self._reset(every_band)
        self._now = now
        pending, self._pending = self._pending, ([] if running is self._noted else None)
        added = None
        if pending is not None and running is self._noted:
            added = self._catch_up(pending, len(running))
            if added is None:  # the changes did not fit what it kept: start afresh
                self._reset(every_band)
                self._now = now
        if added is None:
            added = self._compare(running)
            if added is None:  # one attempt listed twice: ask them all, and start afresh
                self._reset(None)
                return evictable_ranks(running, now, every_band)
        owner, due = self.attempts, self._due
        while due and due[0][0] <= now:
            r = heapq.heappop(due)[2]
            if owner.get(r.attempt_id) is r:
                added.append(r)
        for r in added:
            self._ask(r, now, every_band)
        if len(due) > 2 * len(owner) + 64:  # entries of attempts gone: drop them
            self._due = [e for e in due if owner.get(e[2].attempt_id) is e[2]]
            heapq.heapify(self._due)
        return self.ranks

    def _compare(self, running: Sequence[Running]) -> list[Running] | None:
        """Catch up by comparing `running` with the attempts of the last update: the attempts that
        may be evicted among those new to it (None: an attempt is listed twice)."""
        listed = dict(zip(map(id, running), running, strict=False))
        if len(listed) != len(running):
            return None
        before, added = self._listed, []
        if listed.keys() != before.keys():
            for key in before.keys() - listed.keys():
                self._drop(before[key])
            for key in listed.keys() - before.keys():
                r = listed[key]
                if r.preemptible and not r.leaving:
                    if r.attempt_id in self.attempts:  # two attempts of one id listed together
                        return None
                    self.attempts[r.attempt_id] = r
                    added.append(r)
        self._listed = listed
        return added

    def _catch_up(self, pending: list[RunningChanges], listed_now: int) -> list[Running] | None:
        """Catch up by the cycles' changes since the last update: the attempts that may be evicted
        among those added (None: the changes do not fit what it keeps; it is left to start afresh)."""
        listed, owner, added = self._listed, self.attempts, []
        for changes in pending:
            for r in changes.gone:
                if listed.pop(id(r), None) is not r:
                    return None
                self._drop(r)
            for r in changes.added:
                if id(r) in listed:
                    return None
                listed[id(r)] = r
                if r.preemptible and not r.leaving:
                    if r.attempt_id in owner:
                        return None
                    owner[r.attempt_id] = r
                    added.append(r)
        if len(listed) != listed_now:
            return None
        return [r for r in added if owner.get(r.attempt_id) is r]  # (not those gone again since)

    def _drop(self, r: Running) -> None:
        if self.attempts.get(r.attempt_id) is r:
            del self.attempts[r.attempt_id]
            self.ranks.pop(r.attempt_id, None)

    def _ask(self, r: Running, now: datetime, every_band: bool) -> None:
        rank, until = service.evictable_until(r, now, every_band)
        if rank:
            self.ranks[r.attempt_id] = rank
        else:
            self.ranks.pop(r.attempt_id, None)
        self._seq += 1
        heapq.heappush(self._due, (until - _MARGIN, self._seq, r))
