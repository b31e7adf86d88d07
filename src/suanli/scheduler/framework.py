"""The scheduling framework: plugin shapes, the name → factory registry, profiles, and `schedule()`.

One cycle, in order: jobs by (priority desc, age, id); for each job every pool goes through the
profile's filters; feasible pools are ranked by the weighted sum of the profile's scores (cost
scores normalised over the pools the job could run on, `ranking.py`), ties broken by pool label;
the winner's capacity is taken from the cycle's working copy (`working.py`) so later jobs see it
as used. The snapshot itself is never mutated.

What makes a cycle over 100,000 jobs and 1,000 pools affordable, without changing what it decides
(each module's docstring says what it caches and why that is exact):

- **Job classes** (`classes.py`, `reuse.py`). A plugin that declares `job_key(job)` and
  `reads_free` has its answers reused for every job with the same keys: which pools pass the static
  filters, which pools are still live for `capacity` (a yes is reused while the pool is unchanged; a
  no retires the pool for those keys, since free capacity only shrinks within a cycle), and the raw
  values of the scores. A plugin without these attributes is asked for every job and pool.
- **A kept ranking per class** (`ranking.Ranked`). A pool's score reads no free capacity and cost
  scores are normalised over the pools a job could run on, full or not (ADR 0027), so a class
  ranks its pools once a cycle and each next job takes the best pool that still takes it.
- **Verdicts when asked** (`waiting.py`). A waiting job keeps what its verdicts depend on (the job,
  its plugins, how many placements came before it); `Plan.waiting[job_id]` runs the profile's filters
  in order against the capacity the job saw then (`WorkingFree.at`), which gives the verdicts the
  plain loop would have given during the cycle. Filters are pure, so running them later is safe.
- **One ranking arithmetic** (`ranking.py`): `rank` (what `explain` shows) and the cycle share the
  normalisation, the summation order and the tie rule.

`tests/scheduler/test_schedule_differential.py` checks that this gives exactly the placements and
verdicts of the plain loop (every job × every pool through every filter) on random networks.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial
from typing import NamedTuple, Protocol

from suanli.domain.money import Money
from suanli.domain.resources import Vector
from suanli.scheduler.books import Books, capacity
from suanli.scheduler.carry import Carry
from suanli.scheduler.classes import JobClasses
from suanli.scheduler.fit import accelerator_option as accelerator_option
from suanli.scheduler.fit import options_key as options_key
from suanli.scheduler.fit import pick_nodes as pick_nodes
from suanli.scheduler.order import FairQueue
from suanli.scheduler.plan import Code, Placement, Plan, PoolVerdict, Status
from suanli.scheduler.ranking import spread, weighted
from suanli.scheduler.reserve import Reserver
from suanli.scheduler.reuse import Reusable
from suanli.scheduler.snapshot import PendingJob, PoolView, Snapshot
from suanli.scheduler.waiting import Waiting
from suanli.scheduler.working import WorkingFree


class FilterPlugin(Protocol):
    """Whether a pool can take a job now: `OK`, or a `Status` with a code and a reason for people.

    A filter may also have `job_key(job) -> Hashable` and `reads_free: bool` (`classes.Reusable`):
    then its answer depends on the job only through the key, and on `free` only if `reads_free`, and
    the cycle reuses it for every job with the same key. A reusable filter that reads `free` must be
    monotone: with less free capacity it never turns a no into a yes."""

    name: str

    def filter(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> Status: ...


class ScorePlugin(Protocol):
    """How good a pool is for a job; like a filter it may be reusable (`job_key`, `reads_free`)."""

    name: str

    def score(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> float:
        """0 (worst) to 100 (best)."""
        ...


class CostPlugin(Protocol):
    """A score measured in some cost (money, grams of CO2): lower is better. The framework turns
    the costs of one job's feasible pools into 0–100 (cheapest 100, dearest 0); a pool whose cost is
    unknown (None) gets 50, neither preferred nor punished."""

    name: str

    def cost(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> float | None: ...


_FILTERS: dict[str, Callable[[], FilterPlugin]] = {}
_SCORES: dict[str, Callable[[], ScorePlugin | CostPlugin]] = {}


def register_filter(name: str, factory: Callable[[], FilterPlugin]) -> None:
    _FILTERS[name] = factory


def register_score(name: str, factory: Callable[[], ScorePlugin | CostPlugin]) -> None:
    _SCORES[name] = factory


@dataclass(frozen=True)
class Profile:
    """A named combination of filters (in order) and weighted scores."""

    name: str
    filters: tuple[str, ...]
    scores: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class _Built:
    filters: tuple[FilterPlugin, ...]
    scores: tuple[tuple[ScorePlugin | CostPlugin, float], ...]


@cache
def build(profile: Profile) -> _Built:
    """The profile's plugins, built once per profile (plugins are stateless; what a cycle derives
    from them, such as `reuse.Kinds`, is then kept between cycles too)."""
    return _build(profile)


def _build(profile: Profile) -> _Built:
    unknown = [n for n in profile.filters if n not in _FILTERS] + [
        n for n, _ in profile.scores if n not in _SCORES
    ]
    if unknown:
        raise KeyError(f"profile {profile.name!r} names unknown plugins: {', '.join(unknown)}")
    return _Built(
        tuple(_FILTERS[n]() for n in profile.filters),
        tuple((_SCORES[n](), w) for n, w in profile.scores),
    )


def run_filters(built: _Built, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> Status:
    for plugin in built.filters:
        status = plugin.filter(job, pool, free)
        if not status.ok:
            return Status(status.code, status.reason, plugin.name)
    return Status()


class GatePlugin(Protocol):
    """Whether a job may take the pool the cycle chose for it, whatever the pool's capacity: a check
    on the job's org or project (quota, funds) against the cycle's `Books`. A refusal leaves the job
    waiting with the gate's reason; `hold` is what a placement commits (money), or None."""

    name: str

    def admit(self, job: PendingJob, pool: PoolView, per_node: Vector, books: Books) -> Status: ...

    def hold(self, job: PendingJob, pool: PoolView, books: Books) -> Money | None: ...


_GATES: dict[str, Callable[[], GatePlugin]] = {}
GATES = ("quota", "funds", "budget")  # every cycle runs these, in order, on each job's chosen pool


def register_gate(name: str, factory: Callable[[], GatePlugin]) -> None:
    _GATES[name] = factory


def schedule(snapshot: Snapshot, profiles: dict[str, Profile], carry: Carry | None = None) -> Plan:
    """Place what fits now, in fair order; reserve (or preempt) for jobs that do not fit; for every
    job left waiting, say why each pool does not take it (when asked). `carry` keeps the answers
    that do not depend on free capacity from one call to the next (`carry.Carry`)."""
    with collector_paused():
        return _schedule(snapshot, profiles, carry)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a cycle runs (ADR 0018). A cycle keeps most of
    what it allocates until it ends (classes, memos, the working copy's history, the plan), so every
    full collection during it walked the whole snapshot and found nothing to free: about a fifth of
    a large cycle. Reference counting still frees everything else at once, and the classes' own
    cycles are broken when the cycle ends (`JobClasses.close`). A collector already off is left
    alone (a nested cycle, a caller that manages it); this changes how soon garbage is collected,
    never what the cycle decides.

    On the way out, what the cycle kept (its plan, the carry's memos: a few hundred thousand objects
    in a large cycle) goes straight to the oldest generation (`gc.freeze` then `gc.unfreeze`, two
    list splices) instead of being walked by the young collection that the first allocation after
    `gc.enable` would start and by the middle one after it, which would find nothing: a cycle
    leaves no reference cycles behind (`test_a_cycle_leaves_no_garbage_for_the_collector`)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        gc.enable()


def _schedule(snapshot: Snapshot, profiles: dict[str, Profile], carry: Carry | None) -> Plan:
    built = {name: build(p) for name, p in profiles.items()}
    gates = tuple(_GATES[n]() for n in GATES if n in _GATES)
    pools = snapshot.pools
    working = WorkingFree(pools, snapshot.now)
    classes = JobClasses(pools, working, carry)
    kept = classes.carry
    if kept.capacity is None:
        kept.capacity = capacity(pools)
    books = Books(snapshot, kept.capacity, kept.holdings)
    kept.evictable.note(snapshot.running, snapshot.running_changes)
    reserver = Reserver(snapshot, working, books, kept.evictable)
    reserver.claims.hold()  # last cycle's claims (ADR 0028), before any job is placed
    placements: list[Placement] = []
    seen: dict[str, _Seen] = {}
    held_back: dict[str, str] = {}
    for job in FairQueue(snapshot.jobs, books, snapshot.now, snapshot.order):
        plugins = built.get(job.objective) or built["balanced"]
        claim = reserver.claims.claimed(job)
        if claim is not None:  # the room it claimed is whole: it takes it
            index, nodes = claim
            placement = _claimed(job, pools[index], nodes)
        else:
            job_class, possible = classes.of(job, plugins)
            choice = job_class.best(job)
            if choice is None:
                seen[job.id] = _Seen(job, plugins, working.clock)
                if pools:
                    reserver.blocked(job, possible)
                continue
            index, score = choice
            placement = _placement(job, pools[index], working.free_for(index, job), score)
        pool = pools[index]
        refused = _gate(gates, job, pool, placement.per_node, books)
        if refused is not None:
            seen[job.id] = _Seen(job, plugins, working.clock, refused)
            held_back[job.id] = refused.pool.strip("()")
            continue
        hold = None
        for gate in gates:
            hold = gate.hold(job, pool, books) or hold
        if claim is not None:
            working.take_reserved(index, placement.per_node, placement.nodes, working.ends_of(job))
        else:
            working.take(index, placement.per_node, placement.nodes, working.ends_of(job))
        books.take(job, placement.accelerator, placement.per_node, hold)
        placements.append(placement)
    classes.close()
    reserver.close()
    return Plan(
        tuple(placements),
        Waiting(seen, partial(_verdicts, pools, working)),
        tuple(reserver.reservations),
        tuple(reserver.preemptions),
        held_back,
    )


def _gate(
    gates: Sequence[GatePlugin], job: PendingJob, pool: PoolView, per_node: Vector, books: Books
) -> PoolVerdict | None:
    for gate in gates:
        status = gate.admit(job, pool, per_node, books)
        if not status.ok:
            return PoolVerdict(f"({gate.name})", status.code, status.reason)
    return None


class _Seen(NamedTuple):
    """What a waiting job's verdicts are a function of: the job, its plugins, the capacity it saw.
    (A tuple: a large cycle makes one for each of tens of thousands of waiting jobs.)"""

    job: PendingJob
    plugins: _Built
    clock: int  # the working copy's clock when it was examined (`WorkingFree.at`)
    refused: PoolVerdict | None = None  # a gate's refusal: the job waits whatever the pools say


def _placement(job: PendingJob, pool: PoolView, free: tuple[Vector, ...], score: float) -> Placement:
    option = accelerator_option(job, pool)
    need = job.resources.per_node(option)
    nodes = pick_nodes(need, job.resources.nodes, free)
    assert nodes is not None, "the capacity filter admitted a pool without enough free nodes"
    return Placement(job.id, pool.id, pool.site_id, option.model if option else None, need, nodes, score)


def _claimed(job: PendingJob, pool: PoolView, nodes: tuple[int, ...]) -> Placement:
    """The job on the nodes it claimed (`claims.Claims.claimed`)."""
    option = accelerator_option(job, pool)
    need = job.resources.per_node(option)
    return Placement(job.id, pool.id, pool.site_id, option.model if option else None, need, nodes)


# Disabled sites' pools are not in the snapshot: none may be open though some are offered.
_NO_POOLS = "no pool is open to new work: no site has offered one yet, or every site that has is disabled"


def _verdicts(pools: Sequence[PoolView], working: WorkingFree, seen: _Seen) -> tuple[PoolVerdict, ...]:
    """Every pool's first failing filter, in profile order, against the capacity the job saw; a
    pool whose free capacity is guarded for a reservation says so."""
    if seen.refused is not None:
        return (seen.refused,)
    if not pools:
        return (PoolVerdict("(network)", Code.UNSCHEDULABLE, _NO_POOLS),)
    verdicts = []
    for i, pool in enumerate(pools):
        guard = working.guards[i]
        free = working.at(i, seen.clock)
        if guard is not None and guard.clock <= seen.clock and _ends_after(working, seen.job, guard.until):
            status = run_filters(seen.plugins, seen.job, pool, working.guarded_at(i, seen.clock))
            if not status.ok and run_filters(seen.plugins, seen.job, pool, free).ok:
                status = Status(Code.UNSCHEDULABLE, _held(seen.job, guard.job_id, guard.until), "backfill")
        else:
            status = run_filters(seen.plugins, seen.job, pool, free)
        if not status.ok:
            verdicts.append(PoolVerdict(pool.label, status.code, status.reason))
    return tuple(verdicts)


def _ends_after(working: WorkingFree, job: PendingJob, until: datetime | None) -> bool:
    ends = working.ends_of(job)
    return ends is None or until is None or ends > until


def _held(job: PendingJob, holder: str, until: datetime | None) -> str:
    when = f"from {until:%Y-%m-%d %H:%M} UTC" if until is not None else "once running jobs end"
    if job.resources.max_runtime_s is None:
        tail = "this job has no max_runtime, so it cannot show it ends before then"
    else:
        tail = "this job's max_runtime would run past then"
    return f"free capacity held for job {holder}, reserved {when}; {tail}"


def rank(
    plugins: _Built,
    job: PendingJob,
    pools: Sequence[PoolView],
    free: dict[str, tuple[Vector, ...]],
    domain: Sequence[PoolView],
) -> list[tuple[PoolView, tuple[tuple[str, float], ...]]]:
    """Each of `pools` with its weighted score per plugin; cost plugins normalised by the cheapest
    and dearest cost over `domain`, the pools the job could run on when they have room
    (`static_domain`, `ranking.py`). `free` holds every pool's free vectors, the domain's included."""
    columns: list[tuple[str, list[float]]] = []
    for plugin, weight in plugins.scores:
        if hasattr(plugin, "cost"):
            extremes = spread([plugin.cost(job, p, free[p.id]) for p in domain])
            column = weighted(weight, [plugin.cost(job, p, free[p.id]) for p in pools], True, extremes)
        else:
            column = weighted(weight, [plugin.score(job, p, free[p.id]) for p in pools], False)
        columns.append((plugin.name, column))
    return [(pool, tuple((name, values[i]) for name, values in columns)) for i, pool in enumerate(pools)]


def static_domain(plugins: _Built, job: PendingJob, pools: Sequence[PoolView]) -> list[PoolView]:
    """The pools a job could run on whenever they have room: those that pass every filter declaring
    that it does not read free capacity (`reuse.Reusable`). Cost scores are normalised over them."""
    static = [f for f in plugins.filters if isinstance(f, Reusable) and not f.reads_free]
    return [p for p in pools if all(f.filter(job, p, p.free).ok for f in static)]
