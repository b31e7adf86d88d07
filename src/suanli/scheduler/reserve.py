"""Reserve plugins: what the cycle does for a job that no pool takes now.

Two, tried in this order for every blocked job (one that passed its gates but found no pool):

- **`backfill`** (EASY-style reservations). Among the pools the job could ever run on (its class's
  static survivors) that hold no reservation yet, find the one where it can start earliest, from the
  running attempts' expected ends (start + max_runtime) and this cycle's placements, and reserve it
  there: the capacity it will need then is *guarded*. Later jobs may still use a guarded pool, but
  only where they end by the reservation's start (their max_runtime says so) or leave the guarded
  capacity alone (`working.WorkingFree.free_for`). So a big job's start is never pushed back by
  backfill, and small jobs fill the gap before it. A start that depends on attempts of unknown length
  gives a reservation with an unknown start: then no job can show it ends in time, and the guarded
  capacity stays free for the big job. One reservation per pool per cycle: the first blocked job, in
  scheduling order, that wants it (the pool's head).
- **`preempt`**. If the job would still wait longer than `Snapshot.preempt_after_s` (or has no
  start at all), look for running attempts it may evict: preemptible ones (the spec says the job can
  resume, or it is in an interruptible class) of a *lower priority*, or, when the job's org is within
  its guaranteed quota, of another org that is *borrowing* (holding more than its own guarantee). On
  each pool, victims are taken lowest priority first, then the most recently started (least work
  lost), until the job fits; the pool needing the fewest victims (then the fewest compute units)
  wins. The victims are stopped by the control plane and their jobs requeued; the job reserves the
  room they leave, from now.

Under the `service` queue order (`Snapshot.order`, `service.py`) two things change (under `las`,
the same, but only a job below the first rung of service can be aged, and so reserve; ADR 0019). Only an *aged*
job reserves: a job that is merely blocked waits for its band to come up, or evicts, as in
LAS, rather than holding idle capacity. And `preempt` also takes attempts of the same priority with a
strictly higher service rank (more attained service; an aged attempt is never taken, nor one that
is not just past a checkpoint, `service.evictable_rank`):
victims by highest rank first, then the most recently started, until the job fits. A job that
no pool can free at once (attempts are evicted only just after a checkpoint, and a wide job needs
several at one instant) *gathers* its room (ADR 0022 for an aged job, ADR 0028 for any job that
outranks the holders): where the attempts it outranks (for an aged job, also those below the first
rung, which pass it within the hour) would make it fit, it evicts those it may evict now and
*claims* the room they leave from an unknown start, and takes the others at their checkpoints in
the next cycles.

A claim outlives its cycle, and a job kept out only by *where* smaller attempts sit *moves* them to
other pools and claims the room: `claims.py` (ADR 0028). Under `las` a job that waits *alone* (no
other job is waiting) does not evict for service until it has waited as long as it is expected to
run (`service.holds_back`, ADR 0025): every accelerator that frees is its own anyway. Priority and
guaranteed quota evict under every order (ADR 0023).

Which running attempts a job may evict, in what order, and the reason recorded, are `victims.py`'s.

The number of (job, pool) start estimates per cycle is bounded (`ESTIMATE_BUDGET`); blocked jobs
past it simply wait for the next cycle, which starts again from the head of the queue.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from suanli.domain.resources import Vector
from suanli.scheduler import service
from suanli.scheduler.backfill import (
    Release,
    Split,
    Start,
    guard_for,
    merged,
    sooner,
    split,
    start_after_split,
)
from suanli.scheduler.books import Books, cu_of
from suanli.scheduler.claims import Claim, Claims
from suanli.scheduler.evictable import EvictableRanks
from suanli.scheduler.fit import accelerator_option, given_back, options_key, pick_nodes
from suanli.scheduler.plan import Preemption, Reservation
from suanli.scheduler.snapshot import PendingJob, PoolView, Running, Snapshot
from suanli.scheduler.victims import Victims
from suanli.scheduler.working import WorkingFree

__all__ = ["ESTIMATE_BUDGET", "Reserver"]

ESTIMATE_BUDGET = 20_000  # start estimates (job × pool) per cycle

_Earliest = tuple[datetime | None, int, tuple[int, ...], tuple[Vector, ...]]  # when, pool, nodes, guard


class Reserver:
    """The cycle's reservations and preemptions (module docstring)."""

    def __init__(
        self, snapshot: Snapshot, working: WorkingFree, books: Books, evictable: EvictableRanks | None = None
    ) -> None:
        self._pools = snapshot.pools
        self._now = snapshot.now
        self._working = working
        self._wait = timedelta(seconds=snapshot.preempt_after_s)
        self._victims = victims = Victims(snapshot, working, books, evictable)
        self._by_service = victims.by_service
        self._every_band = victims.every_band  # under `las` only jobs below the first rung age
        # under `las`, a job waiting alone holds back from evicting for service (ADR 0025)
        self._alone = service.waits_alone(len(snapshot.jobs), self._every_band)
        self._evicted = victims.evicted
        self._budget = ESTIMATE_BUDGET
        # (the job's shape, pool) → (the pool's version, `_start`'s answer): jobs that need the same
        # per pool get the same start while the pool is unchanged (running attempts are fixed)
        self._starts: dict[tuple[object, int], tuple[int, Start | None]] = {}
        # pool → what its running attempts give back (`backfill.split`), worked out once a cycle
        self._released: dict[int, Split] = {}
        # (the job's shape, its possible pools) → (the working copy's clock, `_earliest`'s answer)
        self._earliests: dict[tuple[object, int], tuple[int, _Earliest | None]] = {}
        # (the job's shape, its possible pools) → its open pools, soonest start first (`_Soonest`)
        self._soonests: dict[tuple[object, int], _Soonest] = {}
        self.reservations: list[Reservation] = []
        self.preemptions: list[Preemption] = []
        self._short: set[Hashable] = set()  # pools where gathering came up short (`_gather`)
        self._nothing: set[Hashable] = set()  # blocked jobs that found nothing to evict or move
        self.by_job: dict[str, Reservation] = {}
        # last cycle's claims, held for their jobs from the cycle's start (`Claims.hold`), and moves
        self.claims = Claims(snapshot, working, victims.running, victims.ranks, self._every_band)
        # Per set of possible pools (one per job class): those still without a reservation. Guards
        # are only ever added within a cycle, so the list only shrinks.
        self._open: dict[int, tuple[Sequence[int], list[int], list[int]]] = {}

    def close(self) -> None:
        """End the cycle: break the one reference cycle the reserver is part of (`Claims.close`)."""
        self.claims.close()

    def blocked(self, job: PendingJob, pools: Sequence[int]) -> Reservation | None:
        """Reserve (and if need be preempt) for a job no pool takes now; `pools` are the pools it
        could ever run on. Returns the reservation made, if any."""
        held = self.claims.held.get(job.id)
        if held is not None:  # its claim, held for it since the cycle began: go on gathering
            if self._by_service:
                made = self._gather(job, (held[0],))
                if made is not None:
                    return made
            return self._move(job, (held[0],), held[1])
        if self._by_service:
            rank = service.pending_rank(job, self._now, self._every_band)
            if rank != service.AGED:  # not aged: evict if it can, never hold capacity idle
                by_service = self._victims.highest() > rank and not (
                    self._alone and service.holds_back(job, self._now)
                )
                # What the answer reads of the job. Within a cycle free capacity, open pools and
                # the attempts that may be evicted or moved only shrink, so a job alike to one that
                # found nothing finds nothing either.
                r = job.resources
                alike = (job.options_key, r.cpus, r.memory_mib, r.nodes, rank, job.priority, job.org_id)
                tried = (*alike, id(pools), by_service, self.claims.waited_to_move(job))
                if tried in self._nothing:
                    return None
                made = None
                if by_service or self._victims.may_preempt_above_service(job):
                    made = self._preempt(job, self._unguarded(pools), by_service)
                if made is None:
                    made = self._move(job, self._unguarded(pools))
                if made is None:
                    self._nothing.add(tried)
                return made
        r = job.resources
        shape = (options_key(job), r.cpus, r.memory_mib, r.nodes)  # all the estimates read of the job
        kept = self._earliests.get((shape, id(pools)))
        if kept is not None and kept[0] == self._working.clock:  # nothing placed or reserved since
            best = kept[1]
        elif self._budget <= 0:  # `_earliest` would look at no pool: skip finding the open ones
            best = None
        else:
            best = self._soonest(shape, job, pools)
        soon = best is not None and best[0] is not None and best[0] <= self._now + self._wait
        if not soon and self._victims.may_preempt(job):
            made = self._preempt(job, self._unguarded(pools))
            if made is not None:
                return made
        if not soon and self._by_service:
            made = self._move(job, self._unguarded(pools))
            if made is not None:
                return made
        if best is None:
            return None
        at, i, nodes, guard = best
        return self._reserve(job, i, at, nodes, guard, ())

    def _unguarded(self, pools: Sequence[int]) -> list[int]:
        found = self._open.get(id(pools))
        if found is None or found[0] is not pools:
            found = self._open[id(pools)] = (pools, list(pools), [-1])
        _, open_, seen = found
        if seen[0] != len(self.reservations):  # a reservation was made since: drop guarded pools
            guards = self._working.guards
            open_[:] = [i for i in open_ if guards[i] is None]
            seen[0] = len(self.reservations)
        return open_

    # --- claims and moves (ADR 0028, `claims.py`) -----------------------------------------------

    def _move(
        self, job: PendingJob, pools: Sequence[int], nodes_held: tuple[int, ...] | None = None
    ) -> Reservation | None:
        """Move the attempts in the job's way to other pools and claim its room (`Claims.move`); each
        pool it looks at costs one start estimate."""
        if not self._by_service or self._budget <= 0 or not self.claims.worth_moving(job, nodes_held):
            return None
        self._budget -= len(pools)
        claim = self.claims.move(job, pools, nodes_held, self._evicted)
        return None if claim is None else self._claim(job, claim)

    def _claim(self, job: PendingJob, claim: Claim) -> Reservation:
        """Evict what goes now and claim the room: reserve it, or, where the job's claim is held for
        it since the cycle began, name it again for the next cycle (`Claims.guard`)."""
        i, evict = claim.pool, claim.evict
        self._evict(job, self._pools[i], evict, claim.why)
        guard = self.claims.guard(job, claim)
        return self._reserve(
            job, i, claim.at, claim.nodes, guard, tuple(v.attempt_id for v in evict), claim=True
        )

    # --- backfill -------------------------------------------------------------------------------

    def _soonest(self, shape: Hashable, job: PendingJob, pools: Sequence[int]) -> _Earliest | None:
        """`_earliest` over the open pools, answered from the shape's `_Soonest` where it has one,
        and kept with the working copy's clock (`blocked` asks again only when that has moved)."""
        open_ = self._unguarded(pools)
        key = (shape, id(pools))
        soonest = self._soonests.get(key)
        if soonest is not None and len(open_) <= self._budget:
            self._budget -= len(open_)  # what asking every open pool again would cost
            best = soonest.best(self, job, shape)
        else:
            found: list[tuple[int, Start]] = []
            best = self._earliest(shape, job, open_, found)
            if self._budget <= 0:  # an answer the budget cut short is not kept
                return best
            self._soonests[key] = _Soonest(self, found)
        self._earliests[key] = (self._working.clock, best)
        return best

    def _earliest(
        self,
        shape: object,
        job: PendingJob,
        pools: Sequence[int],
        starts: list[tuple[int, Start]] | None = None,
    ) -> _Earliest | None:
        """The pool among `pools` where the job starts soonest (`backfill.sooner`), one start
        estimate per open pool while the budget lasts; each start found is added to `starts`."""
        found: _Earliest | None = None
        for i in pools:
            if self._working.guards[i] is not None:
                continue
            if self._budget <= 0:
                break
            self._budget -= 1
            start = self._start_memo(job, shape, i)
            if start is None:
                continue
            if starts is not None:
                starts.append((i, start))
            at = start[0]
            if found is None or sooner(at, self._pools[i], found[0], self._pools[found[1]]):
                found = (at, i, start[1], start[2])
        return found

    def _start_memo(self, job: PendingJob, shape: object, i: int) -> Start | None:
        key = (shape, i)
        version = self._working.version[i]
        found = self._starts.get(key)
        if found is None or found[0] != version:
            found = self._starts[key] = (version, self._start(job, i))
        return found[1]

    def _start(self, job: PendingJob, i: int) -> Start | None:
        """When and on which nodes the job could start on pool `i`, and the guard that keeps it so."""
        pool, count = self._pools[i], job.resources.nodes
        need = job.resources.per_node(accelerator_option(job, pool))
        now_free = self._working.free[i]
        nodes = pick_nodes(need, count, now_free)
        if nodes is not None:
            return self._now, nodes, guard_for(need, nodes, now_free, None)
        running = self._released.get(i)
        if running is None:
            releases: list[Release] = [(r.ends_at, r.nodes, r.per_node) for r in self._victims.running(i)]
            running = self._released[i] = split(releases, len(now_free))
        known, unknown = merged(running, self._working.ends[i], len(now_free))  # + this cycle's placements
        if not known and unknown is None:
            return None  # nothing there gives anything back
        return start_after_split(need, count, self._now, now_free, known, unknown)

    def _reserve(
        self,
        job: PendingJob,
        i: int,
        at: datetime | None,
        nodes: tuple[int, ...],
        guard: tuple[Vector, ...] | None,
        preempting: tuple[str, ...],
        claim: bool = False,
    ) -> Reservation:
        """Reserve pool `i` for the job; `guard` None: its room is guarded already (a held claim)."""
        pool = self._pools[i]
        need = job.resources.per_node(accelerator_option(job, pool))
        if guard is not None:
            self._working.reserve(i, job.id, at, guard)
        made = Reservation(job.id, pool.id, pool.label, at, nodes, need, preempting, claim)
        self.reservations.append(made)
        self.by_job[job.id] = made
        return made

    # --- preempt --------------------------------------------------------------------------------

    def _preempt(self, job: PendingJob, pools: Sequence[int], by_service: bool = True) -> Reservation | None:
        """Evict for `job` on the pool that needs the fewest victims; `by_service` False: only for
        what every order honours (priority, guaranteed quota)."""
        best: tuple[int, Decimal, str, int, list[Running], tuple[int, ...]] | None = None
        for i in pools:
            if self._working.guards[i] is not None:
                continue
            found = self._victims.victims(job, i, by_service)
            if found is None:
                continue
            victims, nodes = found
            cu = sum((cu_of(v.accelerator, v.per_node, len(v.nodes)) for v in victims), Decimal(0))
            key = (len(victims), cu, self._pools[i].label)
            if best is None or key < best[:3]:
                best = (*key, i, victims, nodes)
        if best is None:
            if self._by_service and (by_service or service.is_aged(job, self._now, self._every_band)):
                return self._gather(job, pools)
            return None
        *_, i, victims, nodes = best
        pool = self._pools[i]
        need = job.resources.per_node(accelerator_option(job, pool))
        self._evict(job, pool, victims)
        guard = guard_for(need, nodes, self._working.free[i], None)
        return self._reserve(job, i, self._now, nodes, guard, tuple(v.attempt_id for v in victims))

    def _evict(
        self, job: PendingJob, pool: PoolView, victims: Sequence[Running], why: str | None = None
    ) -> None:
        """Evict `victims` for `job`, each for what lets it (`why`, where given, for them all)."""
        for v in victims:
            self._evicted.add(v.attempt_id)
            reason = why if why is not None else self._victims.why(v, job)
            self.preemptions.append(Preemption(v.attempt_id, v.job_id, pool.id, job.id, reason))

    def _gather(self, job: PendingJob, pools: Sequence[int]) -> Reservation | None:
        """Room for a job that no pool can free at once (ADR 0022, 0028): attempts may be evicted
        only just after a checkpoint, and a wide job needs several such at one instant, which may
        never come. On the first pool where the attempts it outranks would make it fit, it evicts
        those it may evict now and claims, from an unknown start, the room they leave; the next
        cycles hold the claim and take the others as each passes its checkpoint, so within one
        checkpoint interval it has its room, each victim losing at most the window."""
        rank = service.pending_rank(job, self._now, self._every_band)
        version, evicted = self._working.version, len(self._evicted)
        for i in pools:
            guard = self._working.guards[i]
            if guard is not None and guard.job_id != job.id:
                continue
            pool = self._pools[i]
            need = job.resources.per_node(accelerator_option(job, pool))
            # jobs alike in rank, priority and need find the same pool, unchanged, as short
            tried = (i, version[i], evicted, rank, job.priority, need, job.resources.nodes)
            if tried in self._short:
                continue
            outranked = [r for r in self._victims.running(i) if self._victims.will_yield(r, job, rank)]
            free = given_back(self._working.free[i], outranked)
            nodes = pick_nodes(need, job.resources.nodes, tuple(free))
            if nodes is None:
                self._short.add(tried)
                continue
            on = set(nodes)
            now = [r for r in outranked if on & set(r.nodes) and self._victims.evictable(r, job)]
            if not now and job.id not in self.claims.held:  # (a claim held for it goes on without)
                continue
            return self._claim(job, Claim(i, nodes, tuple(now)))
        return None


class _Soonest:
    """A job shape's open pools by start, soonest first (`backfill.sooner`: a known start before an
    unknown one, then the earlier, then the label), kept through a cycle as a heap.

    Within a cycle the working copy only shrinks: a placement takes capacity now and gives it back
    at its end, and a reservation guards a pool, which no later reservation takes. So no pool's
    start comes sooner than it was (one with none keeps none), and the heap is mended lazily: a
    guarded pool at the top is dropped, one whose version has moved is asked again and put back
    where its start now sorts. The top is then what asking every open pool gives, so `blocked`
    answers a run of alike jobs, each reserving the pool the one before it left, in O(log pools)
    instead of a start estimate per pool each."""

    __slots__ = ("_heap",)

    def __init__(self, reserver: Reserver, starts: list[tuple[int, Start]]) -> None:
        version = reserver._working.version
        self._heap = [_entry(reserver, i, start, version[i]) for i, start in starts]
        heapq.heapify(self._heap)

    def best(self, reserver: Reserver, job: PendingJob, shape: object) -> _Earliest | None:
        heap, working = self._heap, reserver._working
        while heap:
            _, i, version, start = heap[0]
            if working.guards[i] is not None:
                heapq.heappop(heap)
            elif working.version[i] != version:
                found = reserver._start_memo(job, shape, i)
                if found is None:
                    heapq.heappop(heap)
                else:
                    heapq.heapreplace(heap, _entry(reserver, i, found, working.version[i]))
            else:
                return start[0], i, start[1], start[2]
        return None


def _entry(
    reserver: Reserver, i: int, start: Start, version: int
) -> tuple[tuple[object, ...], int, int, Start]:
    """A `_Soonest` heap entry: the order `backfill.sooner` gives, then the pool (as `_earliest`,
    which keeps the first of two alike), its version when asked, the start."""
    label = reserver._pools[i].label
    return ((0, start[0], label) if start[0] is not None else (1, label)), i, version, start
