"""Live pools: the pools that may still take jobs with one set of filter keys in a cycle.

Shared by every job class (`classes.py`) whose static filters leave the same pools and whose filters
reading free capacity give the same keys: the pools that passed the static filters and that no
filter reading free capacity (`capacity`) has refused yet, with the version of the pool's free
vectors (`WorkingFree.taken`) at which it last said yes. A yes is reused while those vectors are
unchanged, which is exact. A no retires the pool for these keys until the cycle ends: safe because
free capacity only shrinks within a cycle and such a filter is monotone.
"""

from __future__ import annotations

from collections.abc import Sequence

from suanli.scheduler.reuse import Check
from suanli.scheduler.snapshot import PendingJob, PoolView
from suanli.scheduler.working import WorkingFree

__all__ = ["RETIRED", "UNSEEN", "LivePools"]

RETIRED = -1  # in `LivePools.answers`: a filter that reads free capacity said no; versions start at 0
UNSEEN = -2


class LivePools:
    """Pools that may still take jobs with one set of filter keys (module docstring)."""

    def __init__(
        self,
        views: Sequence[PoolView],
        working: WorkingFree,
        survivors: int,
        pools: list[int],
        shrinking: tuple[Check, ...],
        answers: list[int],
    ) -> None:
        self.pools = pools
        self.survivors = survivors  # the static survivors as a bitset (`survivors.py`) …
        self.domain = tuple(pools)  # … and as indices: `pools` before any was retired
        self._views, self._working = views, working
        self._shrinking = shrinking
        self.answers = answers  # pool index → its `WorkingFree.taken` when all said yes, or RETIRED
        self._guarded: dict[int, int] = {}  # the same, on the guarded free capacity, once asked

    def admits(self, job: PendingJob, i: int) -> bool:
        """Whether every filter that reads free capacity admits the job on live pool `i` now."""
        answer, version = self.answers[i], self._working.taken[i]
        if answer == version:
            return True
        if answer == RETIRED:
            return False
        pool, free = self._views[i], self._working.free[i]
        for check in self._shrinking:
            if not check.admits(job, pool, free):
                self.answers[i] = RETIRED
                return False
        self.answers[i] = version
        return True

    def admits_guarded(self, job: PendingJob, i: int) -> bool:
        """Whether every filter that reads free capacity admits the job on pool `i`'s guarded free
        capacity (what a reservation leaves to jobs that may still run at its start). Kept like
        `admits`: a yes per pool version, a no for the cycle (guarded capacity only shrinks too)."""
        answer, version = self._guarded.get(i, UNSEEN), self._working.version[i]
        if answer == version:
            return True
        if answer == RETIRED:
            return False
        pool, free = self._views[i], self._working.guarded[i]
        for check in self._shrinking:
            if not check.admits(job, pool, free):
                self._guarded[i] = RETIRED
                return False
        self._guarded[i] = version
        return True

    def any_admits(self, job: PendingJob) -> bool:
        """Whether some live pool admits the job now; forgets the retired ones it passes on the way
        (every pool `admits` refuses is retired), all of them when none does."""
        answers, version, admits = self.answers, self._working.taken, self.admits
        for k, i in enumerate(self.pools):
            if answers[i] == version[i] or (answers[i] != RETIRED and admits(job, i)):
                if k:
                    self.pools = self.pools[k:]
                return True
        self.pools = []
        return False

    def admitted(self, job: PendingJob) -> list[int]:
        """Live pools that admit the job now, in snapshot order; forgets those retired."""
        answers, version, admits = self.answers, self._working.taken, self.admits
        # `admits` inlined for the two answers it gives without asking a filter (a yes at this
        # version, a retired pool): most pools, and this runs for every job that is not ranked yet
        out = [
            i for i in self.pools if answers[i] == version[i] or (answers[i] != RETIRED and admits(job, i))
        ]
        if len(out) < len(self.pools):
            self.pools = [i for i in self.pools if answers[i] != RETIRED]
        return out
