"""Claims and moves (ADR 0028): room held for a blocked job from one cycle to the next, and the moves
of running attempts to other pools that make a job's room whole.

A claim (`Reservation.claim`) outlives its cycle: the next snapshot names it (`Snapshot.claims`),
and the cycle guards it for its job before any job is placed (`Claims.hold`), so new jobs ahead of
it in the queue do not take the room as it gathers; the job takes it as soon as it is whole
(`Claims.claimed`). The reserver (`reserve.py`) makes claims in two ways: by gathering (evicting the
attempts a job outranks checkpoint by checkpoint) and by moving. A job kept out only by *where*
smaller attempts sit (the network has its room, in pieces) *moves* them to free room on other pools
(`moves.py` says which may move and which do) and claims the room (`Claims.move`). A claim lapses
when a cycle no longer finds its gathering or its move possible.

The reserver owns one `Claims` per cycle and records what it decides: the evictions, the
reservations and the start estimates spent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from suanli.domain.resources import Vector
from suanli.scheduler import moves, service
from suanli.scheduler.backfill import guard_for
from suanli.scheduler.fit import accelerator_option, given_back
from suanli.scheduler.snapshot import PendingJob, Running, Snapshot
from suanli.scheduler.working import WorkingFree

__all__ = ["Claim", "Claims"]

Held = tuple[int, tuple[int, ...]]  # a claim held for its job: pool index, nodes


@dataclass(frozen=True, slots=True)
class Claim:
    """Room a job claims, gathered or moved for: pool `pool`, the job's `nodes` there, the attempts
    in its way evicted now (`evict`; the others go in later cycles, each as it may), when it may start
    (`at`; None: not known), and why they go (`why`; None: each for what lets it, `Reserver._evict`)."""

    pool: int
    nodes: tuple[int, ...]
    evict: tuple[Running, ...]
    at: datetime | None = None
    why: str | None = None


class Claims:
    """One cycle's claims (module docstring): last cycle's, held for their jobs, and moves."""

    def __init__(
        self,
        snapshot: Snapshot,
        working: WorkingFree,
        running: Callable[[int], Sequence[Running]],
        ranks: Callable[[], Mapping[str, int]],
        every_band: bool,
    ) -> None:
        """`running(i)`: the attempts on pool `i`; `ranks()`: those that may be evicted for service
        now and their ranks (both the reserver's, worked out when first asked); `every_band`: as
        `service.pending_rank`'s."""
        self._snapshot = snapshot
        self._pools = snapshot.pools
        self._now = snapshot.now
        self._wait_s = snapshot.preempt_after_s
        self._every_band = every_band
        self._working = working
        self._running = running
        self._ranks = ranks
        # Job id → (pool, nodes): last cycle's claims, held for their jobs from the cycle's start
        self.held: dict[str, Held] = {}
        self._movables: dict[int, list[Running]] = {}  # `_movable_on`
        self._free_total: tuple[int, int] = (-1, 0)  # (the working copy's clock, `_free_anywhere`)

    def close(self) -> None:
        """Let go of the reserver's methods this was given: they point back at the reserver, which
        holds this, and without this the two (with the reserver's memos: tens of thousands of
        objects in a large cycle) would wait for the cyclic garbage collector (ADR 0018)."""
        del self._running, self._ranks

    def hold(self) -> None:
        """Before any job is placed, guard the room each waiting job claimed last cycle
        (`Snapshot.claims`) for it: jobs ahead of it in the queue may not take what it gathers."""
        claims = self._snapshot.claims
        if not claims:
            return
        index = {p.id: i for i, p in enumerate(self._pools)}
        for job in self._snapshot.jobs:
            claim = claims.get(job.id)
            if claim is None:
                continue
            i = index.get(claim[0])
            nodes = claim[1]
            if i is None or self._working.guards[i] is not None:
                continue
            free = self._working.free[i]
            if any(n >= len(free) for n in nodes) or len(nodes) != job.resources.nodes:
                continue  # the pool changed shape: the claim lapses
            need = job.resources.per_node(accelerator_option(job, self._pools[i]))
            self._working.reserve(i, job.id, None, guard_for(need, nodes, free, None))
            self.held[job.id] = (i, nodes)

    def claimed(self, job: PendingJob) -> Held | None:
        """The pool and nodes of the job's held claim, if its room is whole now."""
        held = self.held.get(job.id)
        if held is None:
            return None
        i, nodes = held
        need = job.resources.per_node(accelerator_option(job, self._pools[i]))
        free = self._working.free[i]
        if all(need.fits_in(free[n]) for n in nodes):
            del self.held[job.id]
            return held
        return None

    def guard(self, job: PendingJob, claim: Claim) -> tuple[Vector, ...] | None:
        """The guard that keeps the room the job claims once the attempts it evicts now have gone;
        None where its claim is held there since the cycle began, guarded already (the claim is only
        named again, for the next cycle)."""
        i = claim.pool
        held = self.held.get(job.id)
        if held is not None and held[0] == i:
            return None
        need = job.resources.per_node(accelerator_option(job, self._pools[i]))
        return guard_for(need, claim.nodes, given_back(self._working.free[i], claim.evict), None)

    def waited_to_move(self, job: PendingJob) -> bool:
        """Whether the job has waited long enough to move others (`service.moves_after_s`)."""
        return service.waited_s(job, self._now) >= service.moves_after_s(job, self._wait_s)

    def worth_moving(self, job: PendingJob, nodes_held: tuple[int, ...] | None) -> bool:
        """Whether a move could make the job's room at all: it goes on with its held claim
        (`nodes_held`), or it has waited long enough and the network holds its room, in pieces."""
        if nodes_held is not None:
            return True
        if not self.waited_to_move(job):
            return False
        options = job.resources.accelerators
        wanted = (options[0].count if options else 0) * job.resources.nodes
        return wanted > 0 and self._free_anywhere() >= wanted

    def move(
        self, job: PendingJob, pools: Sequence[int], nodes_held: tuple[int, ...] | None, evicted: set[str]
    ) -> Claim | None:
        """Room for a job kept out only by where smaller attempts sit (ADR 0028): the network has
        the room it needs, in pieces (`worth_moving`). On the pool where the fewest accelerators must
        move, the movable attempts in its way (`Running.moves`; preemptible, of its priority or
        lower, not protected, not in `evicted`) are evicted as each may be (just after a
        checkpoint), provided all of them fit at once in the free room of other pools, where they
        restart; the job claims the room it gathers, which the next cycles hold for it first.
        `nodes_held`: its claim from last cycle, on the one pool given."""
        count = job.resources.nodes
        best: tuple[tuple[int, str], int, tuple[int, ...], list[Running]] | None = None
        for i in pools:
            pool = self._pools[i]
            need = job.resources.per_node(accelerator_option(job, pool))
            movable = [r for r in self._movable_on(i) if _movable(r, job, evicted)]
            if nodes_held is None and (
                not movable
                or sum(f.accelerators for f in self._working.free[i])
                + sum(r.per_node.accelerators for r in movable)
                < need.accelerators * count
            ):
                continue
            # room already coming: attempts told to stop (in production they hold it a while)
            coming = given_back(self._working.free[i], (r for r in self._running(i) if r.leaving))
            found = moves.to_move(need, count, coming, movable, self._ranks(), nodes_held)
            if found is None:
                continue
            nodes, chosen = found
            if not chosen and nodes_held is None:
                continue  # it fits once attempts already leaving have left: nothing to move
            if not moves.room_elsewhere(chosen, i, self._pools, self._working.guarded):
                continue
            key = (sum(r.per_node.accelerators for r in chosen), pool.label)
            if best is None or key < best[0]:
                best = (key, i, nodes, chosen)
        if best is None:
            return None
        _, i, nodes, chosen = best
        evictable = self._ranks()
        now = tuple(r for r in chosen if evictable.get(r.attempt_id, 0) != 0)
        why = (
            f"moved for job {job.id}, which needs the whole of the room it sits in; "
            "free room on another pool takes it at once"
        )
        return Claim(i, nodes, now, self._now if len(now) == len(chosen) else None, why)

    def _movable_on(self, i: int) -> list[Running]:
        """The attempts on pool `i` that may move for some job (`moves.may_move`), once a cycle."""
        found = self._movables.get(i)
        if found is None:
            now, every_band = self._now, self._every_band
            found = self._movables[i] = [r for r in self._running(i) if moves.may_move(r, now, every_band)]
        return found

    def _free_anywhere(self) -> int:
        """Accelerators free to any job on any pool now (worked out again after each change)."""
        clock, total = self._free_total
        if clock != self._working.clock:
            total = sum(f.accelerators for free in self._working.guarded for f in free)
            self._free_total = (self._working.clock, total)
        return total


def _movable(r: Running, job: PendingJob, evicted: set[str]) -> bool:
    """Whether an attempt of `_movable_on` may move for `job` (`evicted`: gone this cycle already)."""
    return r.priority <= job.priority and r.attempt_id not in evicted and r.job_id != job.id
