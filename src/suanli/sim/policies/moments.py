"""What the `suanli-service` and `suanli-las` passes read of the running jobs that can be evicted, kept
up to date as each could change instead of asked of every attempt at every pass.

`Moments` is one attempt as the passes read it at one instant; `RunningMoments` keeps one per running
preemptible job, sums them per pool (GPUs by evictable rank, GPUs by rank by service), and knows the
soonest moment one asks to be woken for. With hundreds of attempts running, a pass otherwise asked
the service ladder of each (`service.py` in this package says how the sums are read).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import defaultdict
from datetime import datetime

from suanli.scheduler import service
from suanli.scheduler.snapshot import Running

__all__ = ["Moments", "RunningMoments"]

_MARGIN_S = 1e-4


class Moments:
    """A running attempt as the passes read it at one instant: its evictable rank
    (`service.evictable_rank`), its rank by service (`service.running_rank`), and the next moment it
    asks to be woken for (its protection ends, its service reaches the next rung, or, if it may not
    be evicted now, its next checkpoint or its minimum run). All three hold from `since` until
    `until`, the first moment any could change, less `_MARGIN_S` (the production functions read
    time to the microsecond, these moments are in float seconds): then they are worked out again."""

    __slots__ = ("attempt", "evictable", "running", "since", "until", "wake")

    def __init__(
        self, attempt: Running, since: float, until: float, evictable: int, running: int, wake: float
    ) -> None:
        self.attempt, self.since, self.until = attempt, since, until
        self.evictable, self.running, self.wake = evictable, running, wake

    @classmethod
    def of(cls, r: Running, now: float, at: datetime, every_band: bool) -> Moments:
        evictable = service.evictable_rank(r, at, every_band)
        running = service.running_rank(r, at, every_band)
        value = service.running_service_s(r, at, every_band)
        if value is None:  # protected: it ranks by its service again then
            protected = service.protected_until(r, every_band)
            assert protected is not None
            wake = now + (protected - at).total_seconds()
            return cls(r, now, wake - _MARGIN_S, evictable, running, wake)
        gpus = max(r.per_node.accelerators, 1)  # service grows by this many per second
        wake = until = now + (service.next_rung_s(value) - value) / gpus
        after = service.next_evictable_s(r, at)
        if after > 0:  # it may be evicted then (just after its next checkpoint)
            wake = until = min(wake, now + after)
        elif r.checkpoint_s and r.started_at is not None:  # in a checkpoint's window: till it closes
            ran = (at - r.started_at).total_seconds()
            until = min(
                until,
                now + (math.floor(ran / r.checkpoint_s) * r.checkpoint_s - ran) + service.CHECKPOINT_WINDOW_S,
            )
        return cls(r, now, until - _MARGIN_S, evictable, running, wake)


class RunningMoments:
    """The running preemptible jobs' `Moments`, summed per pool, and when each asks to be looked at
    again (module docstring). `every_band`: as `service.pending_rank`'s."""

    def __init__(self, every_band: bool) -> None:
        self._every_band = every_band
        self._moments: dict[int, Moments] = {}
        self._changes: list[tuple[float, int, int, Moments]] = []  # (until, tie, job, moments)
        self._wakes: list[tuple[float, int, int, Moments]] = []  # (wake, tie, job, moments)
        self._tie = itertools.count()
        self.victims: defaultdict[int, dict[int, int]] = defaultdict(dict)  # pool → evictable rank → GPUs
        self.ranked: defaultdict[int, dict[int, int]] = defaultdict(
            dict
        )  # pool → rank → GPUs (not protected)

    def watch(self, job: int, r: Running, now: float, at: datetime) -> None:
        """Count running job `job` (its attempt `r`) as it is at `now`, until it could change."""
        if not r.preemptible:
            return  # never evicted: it makes no room and asks for no wake-up
        m = self._moments[job] = Moments.of(r, now, at, self._every_band)
        where = int(r.pool_id)
        gpus = r.per_node.accelerators * len(r.nodes)
        if m.evictable > 0:
            held = self.victims[where]
            held[m.evictable] = held.get(m.evictable, 0) + gpus
        if m.running:
            ranked = self.ranked[where]
            ranked[m.running] = ranked.get(m.running, 0) + gpus
        tie = next(self._tie)
        heapq.heappush(self._changes, (m.until, tie, job, m))
        heapq.heappush(self._wakes, (m.wake, tie, job, m))

    def unwatch(self, job: int) -> None:
        """Stop counting job `job` (it ended or was evicted); nothing if it was never counted."""
        m = self._moments.pop(job, None)
        if m is None:
            return
        r = m.attempt
        where = int(r.pool_id)
        gpus = r.per_node.accelerators * len(r.nodes)
        if m.evictable > 0:
            held = self.victims[where]
            held[m.evictable] -= gpus
            if not held[m.evictable]:
                del held[m.evictable]
                if not held:
                    del self.victims[where]
        if m.running:
            ranked = self.ranked[where]
            ranked[m.running] -= gpus
            if not ranked[m.running]:
                del ranked[m.running]
                if not ranked:
                    del self.ranked[where]

    def refresh(self, now: float, at: datetime) -> None:
        """Work out again what could have changed by `now` (entries of jobs since gone are dropped)."""
        changes = self._changes
        again = []  # worked out at this instant already, and could change within the margin
        while changes and changes[0][0] <= now:
            entry = heapq.heappop(changes)
            _, _, job, m = entry
            if self._moments.get(job) is not m:
                continue
            if m.since == now:
                again.append(entry)
                continue
            self.unwatch(job)
            self.watch(job, m.attempt, now, at)
        for entry in again:
            heapq.heappush(changes, entry)

    def soonest_wake(self) -> float:
        """The soonest moment a counted job asks to be woken for (infinity: none)."""
        wakes = self._wakes
        while wakes and self._moments.get(wakes[0][2]) is not wakes[0][3]:
            heapq.heappop(wakes)  # of a job since gone, or worked out again
        return wakes[0][0] if wakes else math.inf
