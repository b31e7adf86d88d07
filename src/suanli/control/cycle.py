"""The scheduling cycle: snapshot → `scheduler.schedule` → applier, plus lease expiry, in one loop.

Plan, then apply: the plan is made on a snapshot; the applier re-checks every placement against the
pools' current capacity inside one transaction (pool rows locked), commits what still fits and skips
the rest, which the next cycle sees afresh.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client import Counter, Gauge, Histogram

from suanli.control import budgets, caps, charging, failover, history, holds, leases, ledger, snapshots
from suanli.control.lifecycle import attempt_preempt, move_job
from suanli.control.signals import SCHEDULE, Signals, job_topic, site_topic
from suanli.domain.billing import cash_refusal
from suanli.domain.ledger import InsufficientFunds
from suanli.domain.money import Money
from suanli.domain.states import AttemptState, JobState
from suanli.scheduler import PROFILES, Carry, PendingJob, Plan, PoolVerdict, schedule
from suanli.scheduler.order import QUEUE_NOTES
from suanli.scheduler.plan import Code, Reservation
from suanli.store import Database, Tx
from suanli.store.leader import Leadership

log = logging.getLogger("suanli.control")

CYCLES = Histogram(
    "suanli_scheduling_cycle_seconds", "Time of one scheduling cycle (expiry, snapshot, plan, apply)"
)
PLACED = Counter("suanli_placements_total", "Attempts placed on a pool")
LEADING = Gauge("suanli_scheduler_leader", "1 while this server runs the scheduler, 0 while another does")
SKIPPED = Counter(
    "suanli_placements_skipped_total", "Planned placements the applier refused (capacity changed)"
)
PURGE_EVERY = timedelta(minutes=10)  # how often expired idempotency keys are deleted
MONEY_EVERY = timedelta(seconds=10)  # how often the loop's money duties run (charging.duties)
BUDGETS_EVERY = timedelta(minutes=1)  # how often budget thresholds are checked (budgets.check)
LOST = Counter("suanli_attempts_lost_total", "Attempts declared lost after lease + grace")
PREEMPTED = Counter("suanli_preemptions_total", "Attempts told to stop for a higher-ranked job")
_EVICTABLE_STATES = {AttemptState.ASSIGNED.value, AttemptState.STARTING.value, AttemptState.RUNNING.value}


@dataclass
class CycleResult:
    placed: int = 0
    skipped: int = 0
    lost: int = 0
    preempted: int = 0
    sites: set[str] = field(default_factory=set)
    jobs: set[str] = field(default_factory=set)
    refused: dict[str, str] = field(default_factory=dict)  # job id → why its hold was refused
    refused_by: dict[str, str] = field(default_factory=dict)  # job id → the gate: funds or budget


def apply(
    tx: Tx, plan: Plan, now: datetime, lease_ttl: float, hold_default_s: int = charging.DEFAULT_HOLD_SECONDS
) -> CycleResult:
    """Commit each placement that still fits; the rest wait for the next cycle. A job without
    max_runtime holds `hold_default_s` of its price."""
    result = CycleResult()
    pool_ids = sorted({p.pool_id for p in plan.placements})
    if not pool_ids:
        return result
    pools = tx.sites.lock_pools(pool_ids)
    # All at once, in id order (the jobs of attempts to preempt too): no deadlock with sync.
    tx.jobs.lock([p.job_id for p in plan.placements] + [p.job_id for p in plan.preemptions])
    placing = tx.jobs.by_ids(p.job_id for p in plan.placements)
    locked = charging.lock_for_placements(tx, sorted({j.project_id for j in placing.values()}), pool_ids, now)
    held = snapshots.held_by_node(tx.sites.active_attempts(pool_ids))
    free = {pid: list(snapshots.free_nodes(pool, held.get(pid, {}))) for pid, pool in pools.items()}
    sites = {s.id: s for s in tx.sites.sites()}
    prices = ledger.prices_in_force(tx, pool_ids, now)
    # What the holds read once for the whole apply; the rows are written together at the end (no
    # statement runs in the loop, so nothing flushes them one by one).
    kept = holds.OpenHolds(locked)
    rooms = caps.cap_rooms(tx, {j.project_id for j in placing.values()}, now)
    events: list[dict[str, object]] = []
    for placement in plan.placements:
        job = placing.get(placement.job_id)  # read under its lock, above: no need to ask again
        pool = pools.get(placement.pool_id)
        site = sites.get(pool.site_id) if pool else None
        nodes_free = free.get(placement.pool_id)
        # Since the snapshot the pool may have shrunk or been withdrawn, or its site disabled.
        still_fits = (
            nodes_free is not None
            and pool is not None
            and not pool.withdrawn
            and site is not None
            and not site.disabled
            and all(
                i < len(nodes_free) and placement.per_node.fits_in(nodes_free[i]) for i in placement.nodes
            )
        )
        if job is None or pool is None or job.state != JobState.PENDING.value or not still_fits:
            result.skipped += 1
            continue
        assert nodes_free is not None
        attempt_id = tx.jobs.new_attempt_id()
        try:  # the hold first: a refusal leaves nothing written
            price_version_id = charging.hold_for(
                tx,
                job,
                attempt_id,
                pool,
                placement.per_node,
                len(placement.nodes),
                now,
                prices[pool.id],
                hold_default_s,
                kept,
                rooms,
            )
        except InsufficientFunds as exc:
            cur = exc.currency
            result.refused[job.id] = cash_refusal(
                Money(exc.hold, cur), Money(exc.needed, cur), Money(max(0, exc.available), cur), pool.name
            )
            result.refused_by[job.id] = "funds"
            continue
        except caps.OverCap as exc:
            result.refused[job.id], result.refused_by[job.id] = exc.reason, "budget"
            continue
        for i in placement.nodes:
            nodes_free[i] = nodes_free[i] - placement.per_node
        attempt = tx.jobs.add_attempt(
            job,
            attempt_id=attempt_id,
            price_version_id=price_version_id,
            site_id=pool.site_id,
            pool_id=pool.id,
            accelerator=placement.accelerator,
            accelerators_per_node=placement.per_node.accelerators,
            cpus_per_node=placement.per_node.cpus,
            memory_mib_per_node=placement.per_node.memory_mib,
            nodes=list(placement.nodes),
            lease_expires_at=now + timedelta(seconds=lease_ttl),
            created_at=now,
            flush=False,
        )
        where = f"{site.name if site else pool.site_id}/{pool.name}"
        move_job(tx, job, JobState.ASSIGNED, now, f"attempt {attempt.number} placed on {where}", events)
        result.placed += 1
        result.sites.add(pool.site_id)
        result.jobs.add(job.id)
    tx.jobs.add_events(events)
    tx.sites.bump(pool_ids)
    return result


def preempt(tx: Tx, plan: Plan, now: datetime) -> CycleResult:
    """Stop the attempts the plan evicts, if they are still live; their jobs queue again."""
    result = CycleResult()
    if not plan.preemptions:
        return result
    tx.jobs.lock(p.job_id for p in plan.preemptions)
    attempts = tx.jobs.attempts_by_ids([p.attempt_id for p in plan.preemptions], fresh=True)
    for p in plan.preemptions:
        attempt = attempts.get(p.attempt_id)
        job = tx.jobs.get(p.job_id)
        if (
            attempt is None
            or job is None
            or attempt.state not in _EVICTABLE_STATES
            or attempt.cancel_requested
        ):
            continue
        site = tx.sites.site(attempt.site_id)
        if attempt_preempt(
            tx, job, attempt, now, reason=p.reason, where=site.name if site else attempt.site_id
        ):
            result.sites.add(attempt.site_id)
        result.jobs.add(job.id)
        result.preempted += 1
    return result


class _Overlay(Mapping[str, tuple[PoolVerdict, ...]]):
    """The plan's waiting reasons with the applier's refusals on top (read lazily, like the plan's)."""

    def __init__(
        self, top: Mapping[str, tuple[PoolVerdict, ...]], rest: Mapping[str, tuple[PoolVerdict, ...]]
    ) -> None:
        self._top, self._rest = top, rest

    def __getitem__(self, job_id: str) -> tuple[PoolVerdict, ...]:
        return self._top[job_id] if job_id in self._top else self._rest[job_id]

    def __iter__(self) -> Iterator[str]:
        yield from self._top
        yield from (j for j in self._rest if j not in self._top)

    def __len__(self) -> int:
        return len(self._top) + sum(1 for j in self._rest if j not in self._top)


class SchedulingLoop:
    """Runs cycles on a thread: when poked (submit, capacity change, cancel) and every `interval` s."""

    def __init__(
        self,
        db: Database,
        signals: Signals,
        clock: Callable[[], datetime],
        *,
        interval: float,
        lease_ttl: float,
        lease_grace: float,
        keep_keys: timedelta = timedelta(hours=24),
        start_timeout: float = 300.0,
        tuning: snapshots.Tuning | None = None,
        leadership: Leadership | None = None,
    ) -> None:
        self._db, self._signals, self._clock = db, signals, clock
        self._interval, self._lease_ttl, self._grace = interval, lease_ttl, lease_grace
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.waiting: Mapping[str, tuple[PoolVerdict, ...]] = {}  # verdicts are worked out when read
        # job id → the gate that held it back in the last cycle (`quota`, `funds`): quotes count
        # the queue ahead without the jobs that wait for money
        self.held_back: Mapping[str, str] = {}
        self.reservations: dict[str, Reservation] = {}  # by job id, from the last cycle
        self._tuning = tuning or snapshots.Tuning()
        self._parsed: dict[str, PendingJob] = {}
        self._served: dict[str, PendingJob] = {}  # pending jobs with their service (`snapshots.take`)
        # Run times of finished jobs, for orders that rank by expected work (not read by `fair`).
        self._run_times = history.RunTimes() if self._tuning.order != "fair" else None
        self.queue: tuple[PendingJob, ...] = ()  # the last cycle's waiting jobs, as the scheduler saw them
        self.queue_at: datetime | None = None
        self._carry = Carry()  # answers that do not read free capacity, kept while the pools are unchanged
        self._keep_keys = keep_keys
        self._start_timeout = start_timeout
        self._next_purge: datetime | None = None
        self._next_money: datetime | None = None
        self._next_budgets: datetime | None = None
        self._leadership = leadership  # None: this process always leads (tests drive run_once)
        self.leading = False
        # A standby's own view of the queue (`observe`): its own caches, never the leader's thread's.
        self._observing = threading.Lock()
        self._observed_at: datetime | None = None
        self._observed_times = history.RunTimes() if self._tuning.order != "fair" else None
        self._observed_parsed: dict[str, PendingJob] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="suanli-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._signals.notify(SCHEDULE)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                seen = self._signals.version(SCHEDULE)
                try:
                    if self._lead():
                        self.run_once()
                except Exception:  # a bad cycle must not kill the loop; the next one starts fresh
                    log.exception("scheduling cycle failed")
                self._pause(seen)
        finally:
            if self._leadership is not None:
                self._leadership.release()
            LEADING.set(0)

    def _lead(self) -> bool:
        """Whether this process leads (runs cycles) now; says so when that changes."""
        leads = self._leadership is None or self._leadership.hold()
        if leads != self.leading:
            log.info("%s the scheduler", "leading" if leads else "standing by: another server leads")
            self.leading = leads
            LEADING.set(int(leads))
        return leads

    def _pause(self, seen: int) -> None:
        if self._signals.closed or not self.leading:  # shutting down, or standing by: sleep here
            self._stop.wait(self._interval)
        else:
            self._signals.wait(SCHEDULE, seen, self._interval)

    def observe(self) -> None:
        """On a standby, bring `waiting`, `reservations` and the queue up to date with a plan of its
        own that it does not apply, at most once per scheduling interval: so `suanli why` says the
        same on every server. The leader's come from its cycles; a standby's plan may place jobs the
        leader is about to place, and says nothing a cycle of the leader would not."""
        if self.leading or self._thread is None or not self._thread.is_alive():
            return  # leading (or cycles driven by hand, as in tests): the last cycle's views stand
        with self._observing:
            now = self._clock()
            if self._observed_at is not None and (now - self._observed_at).total_seconds() < self._interval:
                return
            with self._db.read() as tx:
                times = self._observed_times
                predictor = times.update(tx, now) if times is not None else None
                snap = snapshots.take(
                    tx, now, self._lease_ttl, self._observed_parsed, self._tuning, predictor
                )
            plan = schedule(snap, PROFILES)
            placed = {p.job_id for p in plan.placements}
            self.queue, self.queue_at = tuple(j for j in snap.jobs if j.id not in placed), now
            self.waiting = plan.waiting
            self.held_back = plan.held_back
            self.reservations = {r.job_id: r for r in plan.reservations}
            self._observed_at = now

    def queue_note(self, job_id: str) -> str | None:
        """Why a waiting job is where it is in the queue order, as of the last cycle; None when the
        order has nothing to say (`fair`: the pools' reasons say it) or the job was not waiting then."""
        note = QUEUE_NOTES.get(self._tuning.order)
        queue, at = self.queue, self.queue_at
        job = next((j for j in queue if j.id == job_id), None)
        if note is None or job is None or at is None:
            return None
        return note(job, queue, at)

    def run_once(self) -> CycleResult:
        with CYCLES.time():
            result = self._cycle()
        PLACED.inc(result.placed)
        PREEMPTED.inc(result.preempted)
        SKIPPED.inc(result.skipped)
        LOST.inc(result.lost)
        return result

    def _cycle(self) -> CycleResult:
        now = self._clock()
        if self._next_purge is None or now >= self._next_purge:
            with self._db.transaction() as tx:
                tx.idempotency.purge_before(now - self._keep_keys)
            self._next_purge = now + PURGE_EVERY
        with self._db.transaction() as tx:
            lost = leases.expire(tx, now, self._grace)
            withdrawn, told = failover.pull_back(tx, now, self._start_timeout)
        self._signals.notify(*(site_topic(s) for s in told))
        if self._next_money is None or now >= self._next_money:
            money = charging.duties(self._db, now)
            self._next_money = now + MONEY_EVERY
            self._signals.notify(
                *(site_topic(s) for s in money.sites), *(job_topic(j) for j in money.stopped)
            )
        if self._next_budgets is None or now >= self._next_budgets:
            with self._db.transaction() as tx:
                budgets.check(tx, now)
            self._next_budgets = now + BUDGETS_EVERY
        with self._db.read() as tx:
            predictor = self._run_times.update(tx, now) if self._run_times is not None else None
            claims = {r.job_id: (r.pool_id, r.nodes) for r in self.reservations.values() if r.claim}
            snap = snapshots.take(
                tx, now, self._lease_ttl, self._parsed, self._tuning, predictor, claims, self._served
            )
        plan = schedule(snap, PROFILES, self._carry)
        placed = {p.job_id for p in plan.placements}
        self.queue, self.queue_at = tuple(j for j in snap.jobs if j.id not in placed), now
        self.waiting = plan.waiting
        self.held_back = plan.held_back
        self.reservations = {r.job_id: r for r in plan.reservations}
        result = CycleResult(lost=len(lost))
        if plan.placements or plan.preemptions:
            with self._db.transaction() as tx:
                result = apply(tx, plan, self._clock(), self._lease_ttl, self._tuning.hold_default_s)
                evicted = preempt(tx, plan, self._clock())
            result.lost = len(lost)
            result.preempted = evicted.preempted
            result.sites |= evicted.sites
            result.jobs |= evicted.jobs
            if result.refused:  # the hold decided: the job waits with its reason, no busy retry
                by = result.refused_by
                refused = {
                    j: (PoolVerdict(f"({by.get(j, 'funds')})", Code.UNSCHEDULABLE, r),)
                    for j, r in result.refused.items()
                }
                self.waiting = _Overlay(refused, plan.waiting)
                self.held_back = {**plan.held_back, **{j: by.get(j, "funds") for j in result.refused}}
            if result.skipped:
                self._signals.notify(SCHEDULE)  # something changed under us: look again
        self._signals.notify(
            *(site_topic(s) for s in result.sites), *(job_topic(j) for j in result.jobs | lost | withdrawn)
        )
        return result
