"""Who a blocked job may evict, and why: the running attempts as the reserver sees them in one cycle.

`Victims` files the snapshot's running attempts by pool, works out once per cycle which may be
evicted at all and their lowest priority, and (under the service orders) their service ranks
(`service.evictable_rank`, kept across cycles by `evictable.EvictableRanks`). It answers the
reserver's questions about them (`reserve.py` says when each is asked):

- `victims`: on one pool, the fewest attempts, lowest priority first, then highest service rank,
  then the most recently started (least work lost), whose room lets the job fit; and the nodes.
- `will_yield`: whether an attempt gives way to the job now or at one of its next checkpoints (what
  gathering counts on, ADR 0022 and 0028).
- `why`: the reason the control plane records for a preemption.

It also remembers what the cycle has evicted already, so that no attempt is chosen twice.
"""

from __future__ import annotations

from collections import defaultdict

from suanli.scheduler import moves, service
from suanli.scheduler.books import Books, cu_of
from suanli.scheduler.evictable import EvictableRanks, evictable_ranks
from suanli.scheduler.fit import accelerator_option, pick_nodes
from suanli.scheduler.order import SERVICE_ORDERS
from suanli.scheduler.snapshot import PendingJob, Running, Snapshot
from suanli.scheduler.working import WorkingFree

__all__ = ["Victims"]


class Victims:
    """The cycle's running attempts as candidates for eviction (module docstring)."""

    def __init__(
        self, snapshot: Snapshot, working: WorkingFree, books: Books, evictable: EvictableRanks | None = None
    ) -> None:
        self._snapshot = snapshot
        self._pools = snapshot.pools
        self._now = snapshot.now
        self._working = working
        self._books = books
        self.by_service = snapshot.order in SERVICE_ORDERS
        self.every_band = snapshot.order == "service"  # under `las` only jobs below the first rung age
        self.evicted: set[str] = set()  # attempt ids evicted this cycle
        self._on_pool: defaultdict[int, list[Running]] | None = None  # `running`
        # Worked out when a blocked job first asks (most cycles block no job): the attempts that can
        # be evicted at all and their lowest priority (`evictable_now`), their service ranks and the
        # highest (`ranks`), and those filed by pool (`_in_window`)
        self._may_evict: list[Running] | None = None
        self.lowest: int | None = None
        self._rank: dict[str, int] | None = None  # read only (`evictable` keeps it across cycles)
        self._book = evictable
        self._highest_rank = 0
        self._windows: defaultdict[int, list[Running]] | None = None
        self._ranked: PendingJob | None = None  # `rank_of`
        self._ranked_as = 0
        self._running_rank: dict[str, int] = {}  # attempt id → `service.running_rank`, once asked
        self._above_service: dict[tuple[int, str], bool] = {}  # `may_preempt_above_service`

    def running(self, i: int) -> list[Running]:
        """The attempts running on pool `i` (filed when a blocked job first asks)."""
        if self._on_pool is None:
            index = {p.id: n for n, p in enumerate(self._pools)}
            self._on_pool = defaultdict(list)
            for r in self._snapshot.running:
                if r.pool_id in index:
                    self._on_pool[index[r.pool_id]].append(r)
        return self._on_pool.get(i, [])

    def evictable_now(self) -> list[Running]:
        """The attempts that can be evicted at all (preemptible, not already leaving)."""
        if self._may_evict is None:
            self._may_evict = [r for r in self._snapshot.running if r.preemptible and not r.leaving]
            self.lowest = min((r.priority for r in self._may_evict), default=None)
        return self._may_evict

    def ranks(self) -> dict[str, int]:
        """The evictable attempts' service ranks (empty under the `fair` order), worked out once."""
        if self._rank is None:
            self._rank = {}
            if self.by_service:
                running, now, every_band = self._snapshot.running, self._now, self.every_band
                self._rank = (  # 0, not now: left out (read with a default)
                    self._book.update(running, now, every_band)
                    if self._book is not None
                    else evictable_ranks(running, now, every_band)
                )
            self._highest_rank = max(self._rank.values(), default=0)
        return self._rank

    def highest(self) -> int:
        """The highest service rank of an attempt that may be evicted now (0: none)."""
        self.ranks()
        return self._highest_rank

    def may_preempt(self, job: PendingJob) -> bool:
        return self.may_preempt_above_service(job) or (self.by_service and self.highest() > 0)

    def may_preempt_above_service(self, job: PendingJob) -> bool:
        """Whether a job may evict for what every queue order honours: a higher priority, or its
        org's guaranteed quota (the service orders add eviction by service; they never take these
        away). Asked of every blocked job: the answer is kept per (priority, org) for the cycle."""
        key = (job.priority, job.org_id)
        found = self._above_service.get(key)
        if found is None:
            self.evictable_now()
            quota = self._books.quota(job.org_id)
            found = self._above_service[key] = self.lowest is not None and (
                self.lowest < job.priority or (quota is not None and quota.guaranteed_cu > 0)
            )
        return found

    def victims(
        self, job: PendingJob, i: int, by_service: bool = True
    ) -> tuple[list[Running], tuple[int, ...]] | None:
        """The attempts on pool `i` to evict for `job`, and the nodes it then takes; None if none do."""
        pool = self._pools[i]
        option = accelerator_option(job, pool)
        need = job.resources.per_node(option)
        job_cu = cu_of(pool.accelerator if option else None, need, job.resources.nodes)
        guaranteed = self._books.within_guarantee(job.org_id, job_cu)
        self.evictable_now()
        if guaranteed or (self.lowest is not None and self.lowest < job.priority):
            candidates = [r for r in self.running(i) if self._evictable(r, job, guaranteed, by_service)]
        elif by_service:  # only by service rank: among the attempts that may be evicted now
            mine = self.rank_of(job)
            rank = self.ranks()
            candidates = [
                r
                for r in self._in_window(i)
                if r.priority == job.priority and rank[r.attempt_id] > mine and self.stoppable(r, job)
            ]
        else:
            return None
        if not candidates:
            return None
        rank = self.ranks()
        candidates.sort(
            key=lambda r: (r.priority, -rank.get(r.attempt_id, 0), -moves.started_s(r), r.attempt_id)
        )
        free = list(self._working.free[i])
        chosen: list[Running] = []
        for victim in candidates:
            for n in victim.nodes:
                if n < len(free):
                    free[n] = free[n] + victim.per_node
            chosen.append(victim)
            nodes = pick_nodes(need, job.resources.nodes, tuple(free))
            if nodes is not None:
                on = set(nodes)
                return [v for v in chosen if on & set(v.nodes)], nodes
        return None

    def will_yield(self, r: Running, job: PendingJob, rank: int) -> bool:
        """Whether `job` may evict the attempt now or at one of its next checkpoints: it can resume,
        is not already leaving, and has a lower priority or, of the same, a higher service rank."""
        if not self.stoppable(r, job):
            return False
        if r.priority != job.priority:
            return r.priority < job.priority
        theirs = self._running_rank.get(r.attempt_id)
        if theirs is None:
            theirs = self._running_rank[r.attempt_id] = service.running_rank(r, self._now, self.every_band)
        # A higher rank yields at its next checkpoint; one below the first rung (rank 1) to an aged
        # job once it has had an accelerator-hour, or ends before: either way within the hour.
        return theirs > rank or (theirs == 1 and rank == service.AGED)

    def evictable(self, r: Running, job: PendingJob) -> bool:
        """Whether `job` may evict the attempt now, for any reason (what gathering evicts at once)."""
        return self._evictable(r, job, False)

    def stoppable(self, r: Running, job: PendingJob) -> bool:
        """Whether the attempt could be stopped for `job` at all: it can resume, is not leaving or
        already evicted this cycle, and is not the job's own."""
        return not r.leaving and r.preemptible and r.attempt_id not in self.evicted and r.job_id != job.id

    def rank_of(self, job: PendingJob) -> int:
        """`service.pending_rank` of `job`, kept for the job asked of last (its victims are sought
        among every attempt of every pool it could run on)."""
        if self._ranked is not job:
            self._ranked, self._ranked_as = job, service.pending_rank(job, self._now, self.every_band)
        return self._ranked_as

    def why(self, v: Running, job: PendingJob) -> str:
        """The reason recorded for evicting `v` for `job`."""
        if v.priority < job.priority:
            return f"preempted for job {job.id} of a higher priority"
        if self._service_victim(v, job):
            return (
                f"preempted for job {job.id}, which has waited past its ageing bound"
                if service.is_aged(job, self._now, self.every_band)
                else f"preempted for job {job.id}, which has had less service"
            )
        return f"preempted: its org borrows capacity that job {job.id}'s org is guaranteed"

    def _in_window(self, i: int) -> list[Running]:
        """The attempts on pool `i` that may be evicted for service now (`ranks`), filed by pool
        once a cycle (in no set order: `victims` sorts them)."""
        if self._windows is None:
            rank = self.ranks()
            ranked = (
                map(self._book.attempts.__getitem__, rank)
                if self._book is not None and rank is self._book.ranks  # (not when it asked afresh)
                else (r for r in self._snapshot.running if r.attempt_id in rank)
            )
            index = {p.id: n for n, p in enumerate(self._pools)}
            self._windows = defaultdict(list)
            for r in ranked:
                n = index.get(r.pool_id)
                if n is not None:
                    self._windows[n].append(r)
        return self._windows.get(i, [])

    def _evictable(self, r: Running, job: PendingJob, guaranteed: bool, by_service: bool = True) -> bool:
        if not self.stoppable(r, job):
            return False
        if r.priority < job.priority:
            return True
        if by_service and self._service_victim(r, job):
            return True
        return (
            guaranteed
            and r.priority == job.priority
            and r.org_id != job.org_id
            and self._books.borrowing(r.org_id)
        )

    def _service_victim(self, r: Running, job: PendingJob) -> bool:
        """Under the `service` order: the attempt has a strictly higher rank than the job."""
        if not self.by_service or r.priority != job.priority:
            return False
        return self.ranks().get(r.attempt_id, 0) > self.rank_of(job)
