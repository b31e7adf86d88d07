"""Charging a job's life: a hold at placement, a capture per usage record, the rest released at the
end, and a stop when a running job's funds run out (ADR 0015).

`hold_for` runs in the applier's transaction, `charge` in the agent sync's, and `duties` in the
scheduling loop's periodic money transaction. The ledger service (`control/ledger.py`) makes every
write idempotent: a hold is keyed `hold:<attempt>`, a charge by its usage record's site and seq.
A pool with no price book in force is free: its attempts take no hold and are never charged.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from prometheus_client import Counter

from suanli.control import caps, holds, ledger, settlement
from suanli.control.lifecycle import stop_job
from suanli.domain.ledger import (
    arrears_account,
    cash_account,
    estimate,
    hold_id,
    payable_account,
    planned_usage,
    revenue_account,
    voucher_account,
)
from suanli.domain.money import Money
from suanli.domain.resources import Vector
from suanli.domain.states import ATTEMPT_TERMINAL, AttemptState
from suanli.store import Database, Tx
from suanli.store.tables import Attempt, Hold, Job, Pool, PriceVersion, UsageRecord

log = logging.getLogger("suanli.control")

DEFAULT_HOLD_SECONDS = 3600  # a job without max_runtime holds for one hour, as the funds gate does
FINAL_USAGE_GRACE = timedelta(minutes=10)  # an ended attempt's last usage record may come this late
FUNDS_EXHAUSTED = "funds exhausted"
BUDGET_REACHED = "hard-capped budget reached"
STOP = "stop"  # `projects.on_funds_exhausted`: stop the job (the default); "continue": run into arrears
_RUNNING = (AttemptState.STARTING.value, AttemptState.RUNNING.value)
_ENDED = [s.value for s in ATTEMPT_TERMINAL]

UNCHARGED = Counter(
    "suanli_usage_uncharged_total", "Usage records that arrived after their attempt's hold was resolved"
)
DUPLICATES = Counter(
    "suanli_usage_duplicates_total", "Usage records not charged: they repeat an earlier record's interval"
)
STOPPED = Counter("suanli_funds_exhausted_stops_total", "Running jobs stopped because their funds ran out")
CAPPED = Counter(
    "suanli_budget_cap_stops_total",
    "Running jobs stopped because their project's hard-capped budget was reached",
)


def hold_for(
    tx: Tx,
    job: Job,
    attempt_id: str,
    pool: Pool,
    per_node: Vector,
    nodes: int,
    now: datetime,
    price: PriceVersion | None,
    default_s: int = DEFAULT_HOLD_SECONDS,
    kept: holds.OpenHolds | None = None,
    rooms: dict[str, caps.CapRoom] | None = None,
) -> str | None:
    """Hold max_runtime × `price` (the pool's price in force now, `ledger.prices_in_force`) for an
    attempt about to be placed; returns the price version it pins (None: the pool is free, nothing
    is held). Raises `InsufficientFunds`, before anything is written, when the project cannot cover
    the part its vouchers would not pay, and `caps.OverCap` when the hold does not fit in what its
    hard-capped budget leaves (`rooms`: by project, `caps.cap_rooms` read before the first
    placement, taken down here by each hold). `kept`: see `holds.OpenHolds`."""
    if price is None:
        return None
    seconds = int(job.spec.get("resources", {}).get("max_runtime_s") or default_s)
    usage = planned_usage(
        seconds, per_node.accelerators * nodes, per_node.cpus * nodes, per_node.memory_mib * nodes
    )
    amount = estimate(ledger.book_of(price), usage)
    room = rooms.get(job.project_id) if rooms is not None else None
    if room is not None and room.currency == price.currency and amount > room.left:
        raise caps.OverCap(room.refusal(amount))
    holds.hold(
        tx,
        hold_id(attempt_id),
        project_id=job.project_id,
        pool_id=pool.id,
        amount=amount,
        now=now,
        job_id=job.id,
        attempt_id=attempt_id,
        vouchers=True,
        price=price,
        kept=kept,
        new=True,
    )
    if rooms is not None and room is not None and room.currency == price.currency:
        rooms[job.project_id] = replace(room, left=room.left - amount)
    return price.id


def lock_for_placements(
    tx: Tx, project_ids: Iterable[str], pool_ids: Iterable[str], now: datetime
) -> set[tuple[str, str]]:
    """Lock, at once and in id order, the cash accounts the applier's holds would lock one by one,
    so the applier and agent syncs (which lock theirs at once too) never wait on each other in a
    cycle. Callers hold the jobs' locks already: jobs first, then accounts, then holds. Returns the
    (project, currency) pairs locked, for `holds.OpenHolds`: held until the transaction ends."""
    projects = list(project_ids)
    currencies = {v.currency for v in tx.ledger.price_versions(sorted(set(pool_ids)))}
    for currency in sorted(currencies):
        tx.ledger.lock_accounts([cash_account(p, currency) for p in projects], currency, now)
    return {(p, c) for p in projects for c in currencies}


def lock_for_charges(tx: Tx, attempt_ids: Iterable[str], now: datetime) -> None:
    """Lock, at once and in id order, every account the captures of these attempts may move (cash,
    arrears, the org's vouchers, the providers' payables, the platform's revenue)."""
    by_currency: dict[str, set[str]] = {}
    for attempt_id in sorted(set(attempt_ids)):
        row = tx.ledger.hold(hold_id(attempt_id))
        if row is None or row.state != "open":
            continue
        cur = row.currency
        wanted = by_currency.setdefault(cur, set())
        wanted |= {
            cash_account(row.project_id, cur),
            arrears_account(row.project_id, cur),
            payable_account(row.provider_org_id, cur),
            revenue_account(cur),
        }
        wanted |= {voucher_account(v.id) for v in tx.ledger.vouchers(org_id=row.org_id, live=True)}
    for currency in sorted(by_currency):
        tx.ledger.lock_accounts(by_currency[currency], currency, now)


def charge(tx: Tx, attempt: Attempt, records: Sequence[UsageRecord], now: datetime) -> None:
    """Charge an attempt's newly stored usage records, in sequence order, each exactly once. The
    last record of an ended attempt is its final capture: to the second, and the rest released.
    A record that repeats an earlier record's interval under a new number (`settlement.is_duplicate`,
    ADR 0016) is not charged; if it was the last, the hold is released. A record that arrives after
    the hold resolved is kept but not charged (counted, logged)."""
    row = tx.ledger.hold(hold_id(attempt.id))
    if row is None:  # a free pool
        return
    ended = attempt.state in _ENDED
    ordered = sorted(records, key=lambda r: r.seq)
    for i, record in enumerate(ordered):
        if row.state != "open":
            UNCHARGED.inc()
            log.warning("usage %s of attempt %s came after its hold resolved", record.seq, attempt.id)
            continue
        final = ended and i == len(ordered) - 1
        if settlement.is_duplicate(tx, record) is not None:
            DUPLICATES.inc()
            log.warning(
                "usage %s of attempt %s repeats an earlier record: not charged", record.seq, attempt.id
            )
            if final:
                holds.release(tx, row.id, now)
            continue
        usage = ledger.usage_of(record, attempt)
        holds.capture(tx, row.id, ledger.usage_key(record), usage, now, final=final)


def resolve_ended(tx: Tx, now: datetime) -> int:
    """Release the open holds of attempts that ended without a final usage record: at once if
    they never started, else once `FINAL_USAGE_GRACE` has passed. Returns how many."""
    due = [
        (row.id, attempt.job_id)
        for row, attempt in tx.ledger.open_attempt_holds(_ENDED)
        if attempt.started_at is None or (attempt.ended_at or now) <= now - FINAL_USAGE_GRACE
    ]
    tx.jobs.lock(job for _, job in due)  # jobs first, as the sync does, then the holds
    done = 0
    for hold, _ in due:
        row = tx.ledger.hold(hold, lock=True)
        if row is not None and row.state == "open":
            holds.release(tx, hold, now)
            done += 1
    return done


@dataclass
class Spend:
    """What a running attempt has accrued beyond its captures, and what it may still spend: of its
    funds (`may_spend`), and under its project's hard-capped budget (`capped`, None without one or
    while the attempt is within its own hold, which the cap counted when it started)."""

    accrued: int
    may_spend: int
    currency: str
    capped: int | None = None
    room: caps.CapRoom | None = None
    kept: int = 0  # what its hold still reserves (cash and vouchers): the cap counted it already

    @property
    def overrun(self) -> int:
        """What it has accrued past its hold, into the cap's unreserved room."""
        return max(0, self.accrued - self.kept) if self.capped is not None else 0

    @property
    def exhausted(self) -> bool:
        return self.accrued > 0 and self.accrued >= self.may_spend

    @property
    def over_cap(self) -> bool:
        return self.capped is not None and self.accrued > 0 and self.accrued >= self.capped

    def stops(self, policy: str, *, just_charged: bool = False) -> bool:
        """A hard cap stops the job whatever the funds policy; exhausted funds only under `stop`.
        Just charged, nothing accrued and nothing left is the end too."""
        if just_charged:
            over = self.capped is not None and self.accrued >= self.capped
            return over or (policy == STOP and self.accrued >= self.may_spend)
        return self.over_cap or (policy == STOP and self.exhausted)


def spend(tx: Tx, row: Hold, attempt: Attempt, now: datetime, *, funds: bool = True, taken: int = 0) -> Spend:
    """The attempt's allocation priced at its hold's version from its start to now (an upper bound
    of what its usage records will charge), less what was captured; against its hold's remaining
    cash and voucher reservation plus the project's unreserved funds (`funds=False` skips them: a
    project that runs into arrears), and plus what its hard-capped budget leaves unreserved (less
    `taken`, what the project's other attempts have already run into it)."""
    price = tx.ledger.price_version(row.price_version_id)
    assert price is not None  # a foreign key
    accrued = 0
    if attempt.started_at is not None:
        seconds = max(0, int((now - attempt.started_at).total_seconds()))
        n = len(attempt.nodes)
        usage = planned_usage(
            seconds,
            attempt.accelerators_per_node * n,
            attempt.cpus_per_node * n,
            attempt.memory_mib_per_node * n,
        )
        accrued = max(0, estimate(ledger.book_of(price), usage) - row.charged_minor)
    kept = holds.cash_reserved(row) + holds.voucher_reserved(row)
    capped, room = None, None
    if accrued >= kept:  # at or past its own hold: the cap's unreserved room is what is left
        room = caps.cap_room(tx, row.project_id, now)
        if room is not None and room.currency == row.currency:
            capped = kept + max(0, room.left - taken)
    may_spend = accrued + 1  # not asked: never exhausted
    if funds:
        free = holds.funds(tx, row.project_id, row.currency).available
        vouchers = holds.voucher_reserved(row)
        if vouchers:  # only what the vouchers still hold: they may have expired, or paid for others
            vouchers = min(vouchers, holds.voucher_left(tx, row, now))
        may_spend = holds.cash_reserved(row) + vouchers + max(0, free)
    return Spend(accrued, may_spend, row.currency, capped, room, kept)


@dataclass
class Duties:
    """What the loop's money duties did; `sites` must hear of stopped attempts."""

    expired: int = 0
    released: int = 0
    stopped: list[str] = field(default_factory=list)
    sites: set[str] = field(default_factory=set)


def stop_exhausted(tx: Tx, now: datetime) -> Duties:
    """Stop each running job whose funds are exhausted, where its project's policy says so, or that
    has spent what its project's hard-capped budget leaves, through the cancel path (the agent stops
    it; its final usage is still captured). A cap's unreserved room is shared: the project's attempts
    past their holds take it in the order they started, and the later ones stop when it is gone."""
    out = Duties()
    watched = [(h, a) for h, a in tx.ledger.open_attempt_holds(_RUNNING) if not a.cancel_requested]
    watched.sort(key=lambda ha: (ha[1].started_at or now, ha[1].id))
    projects = {p.id: p for p in (tx.tenancy.project(h.project_id) for h, _ in watched) if p is not None}

    def policy(row: Hold) -> str:
        project = projects.get(row.project_id)
        return "" if project is None else project.on_funds_exhausted

    def used(row: Hold, attempt: Attempt, taken: dict[str, int]) -> Spend:
        return spend(tx, row, attempt, now, funds=policy(row) == STOP, taken=taken[row.project_id])

    taken: dict[str, int] = defaultdict(int)  # cap room run into by the project's attempts so far
    candidates = []
    for row, a in watched:
        if row.project_id not in projects:
            continue
        first = used(row, a, taken)
        if first.stops(policy(row)):
            candidates.append(a.job_id)
        else:
            taken[row.project_id] += first.overrun
    if not candidates:
        return out
    tx.jobs.lock(candidates)  # jobs first, as the sync does; then look again, in the same order
    taken.clear()
    for row, attempt in watched:
        if row.project_id not in projects:
            continue
        fresh = (
            tx.jobs.attempts_by_ids([attempt.id], fresh=True).get(attempt.id)
            if attempt.job_id in candidates
            else attempt
        )
        if fresh is None or fresh.state not in _RUNNING or fresh.cancel_requested:
            continue
        now_used = used(row, fresh, taken)
        job = tx.jobs.get(fresh.job_id) if attempt.job_id in candidates else None
        if job is None or not now_used.stops(policy(row)):
            taken[row.project_id] += now_used.overrun
            continue
        out.sites |= stop(tx, job, now_used, now)
        out.stopped.append(job.id)
    return out


def stop(tx: Tx, job: Job, used: Spend, now: datetime) -> set[str]:
    """Stop a job whose funds are exhausted or whose project's hard cap is reached, through the
    cancel path; returns the sites to tell."""
    cur = used.currency
    if used.room is not None and used.capped is not None and used.accrued >= used.capped:
        CAPPED.inc()
        room = used.room
        said = (
            f"{BUDGET_REACHED}: {Money(used.accrued, cur)} not yet charged, {Money(used.capped, cur)} "
            f"left to spend of the project's {Money(room.budget, cur)} for {room.month}; stopping it"
        )
        return stop_job(tx, job, now, reason=BUDGET_REACHED, message=said)
    STOPPED.inc()
    said = (
        f"{FUNDS_EXHAUSTED}: {Money(used.accrued, cur)} not yet charged, "
        f"{Money(max(0, used.may_spend), cur)} left to spend; stopping it"
    )
    return stop_job(tx, job, now, reason=FUNDS_EXHAUSTED, message=said)


def exhausted_after_capture(tx: Tx, attempt: Attempt, now: datetime) -> Spend | None:
    """A live attempt, just charged, with nothing left to spend (of its funds, policy `stop` only,
    or under its project's hard cap): its spend."""
    row = tx.ledger.hold(hold_id(attempt.id))
    if row is None or row.state != "open" or attempt.state not in _RUNNING or attempt.cancel_requested:
        return None
    project = tx.tenancy.project(row.project_id)
    if project is None or row.charged_minor <= 0:
        return None
    used = spend(tx, row, attempt, now, funds=project.on_funds_exhausted == STOP)
    return used if used.stops(project.on_funds_exhausted, just_charged=True) else None


def expire_vouchers(tx: Tx, now: datetime) -> int:
    return len(ledger.expire_vouchers(tx, now))


def sync_prices(tx: Tx, now: datetime) -> None:
    """Keep every priced pool's `price_minor` at the version in force now (versions may take
    effect later than they were added)."""
    pools = tx.sites.pools(include_withdrawn=True)
    priced = {v.pool_id for v in tx.ledger.price_versions([p.id for p in pools])}
    for pool in pools:
        if pool.id in priced:
            ledger.sync_pool_price(tx, pool, now)


def duties(db: Database, now: datetime) -> Duties:
    """The loop's periodic money work, one transaction each (so none holds one kind of lock while
    waiting for another): expire vouchers, keep pool prices at the version in force, release
    holds of ended attempts, stop running jobs whose funds are exhausted."""
    with db.transaction() as tx:
        expired = expire_vouchers(tx, now)
    with db.transaction() as tx:
        sync_prices(tx, now)
    with db.transaction() as tx:
        released = resolve_ended(tx, now)
    with db.transaction() as tx:
        out = stop_exhausted(tx, now)
    out.expired, out.released = expired, released
    return out
