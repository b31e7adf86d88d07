"""The scheduling framework: plugin shapes, the name → factory registry, profiles, and `schedule()`.

One cycle, in order: jobs by (priority desc, age, id); for each job every pool goes through the
profile's filters; feasible pools are ranked by the weighted sum of the profile's scores, ties broken
by pool label; the winner's capacity is taken from the cycle's working copy (`working.py`) so later
jobs see it as used. The snapshot itself is never mutated.

What makes a cycle over 100,000 jobs and 1,000 pools affordable, without changing what it decides
(each module's docstring says what it caches and why that is exact):

- **Job classes** (`classes.py`, `reuse.py`). A plugin that declares `job_key(job)` and
  `reads_free` has its answers reused for every job with the same keys: which pools pass the static
  filters, which pools are still live for `capacity` (a yes is reused while the pool is unchanged; a
  no retires the pool for those keys, since free capacity only shrinks within a cycle), and the raw
  values of the scores. A plugin without these attributes is asked for every job and pool.
- **A kept ranking per class** (`ranking.Ranked`). While a class's feasible pools only shrink and
  keep the same cheapest and dearest costs, every remaining pool keeps its score to the bit, so the
  next job of the class takes the best pool still feasible without ranking again.
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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from suanli.domain.resources import AcceleratorOption, Vector
from suanli.scheduler.classes import JobClasses
from suanli.scheduler.plan import Code, Placement, Plan, PoolVerdict, Status
from suanli.scheduler.ranking import weighted
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


def build(profile: Profile) -> _Built:
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


def schedule(snapshot: Snapshot, profiles: dict[str, Profile]) -> Plan:
    """Place what fits now; for every other job, say why each pool does not take it (when asked)."""
    built = {name: build(p) for name, p in profiles.items()}
    pools = snapshot.pools
    working = WorkingFree(pools)
    classes = JobClasses(pools, working)
    placements: list[Placement] = []
    seen: dict[str, _Seen] = {}
    for job in sorted(snapshot.jobs, key=lambda j: (-j.priority, j.created_at, j.id)):
        plugins = built.get(job.objective) or built["balanced"]
        choice = classes.of(job, plugins).best(job)
        if choice is None:
            seen[job.id] = _Seen(job, plugins, working.placed)
            continue
        index, score = choice
        placement = _placement(job, pools[index], working.free[index], score)
        working.take(index, placement.per_node, placement.nodes)
        placements.append(placement)
    return Plan(tuple(placements), Waiting(seen, partial(_verdicts, pools, working)))


@dataclass(frozen=True)
class _Seen:
    """What a waiting job's verdicts are a function of: the job, its plugins, the capacity it saw."""

    job: PendingJob
    plugins: _Built
    placed: int  # placements made before it was examined (`WorkingFree.at`)


def _placement(job: PendingJob, pool: PoolView, free: tuple[Vector, ...], score: float) -> Placement:
    option = accelerator_option(job, pool)
    need = job.resources.per_node(option)
    nodes = pick_nodes(need, job.resources.nodes, free)
    assert nodes is not None, "the capacity filter admitted a pool without enough free nodes"
    return Placement(job.id, pool.id, pool.site_id, option.model if option else None, need, nodes, score)


def _verdicts(pools: Sequence[PoolView], working: WorkingFree, seen: _Seen) -> tuple[PoolVerdict, ...]:
    """Every pool's first failing filter, in profile order, against the capacity the job saw."""
    if not pools:
        return (PoolVerdict("(network)", Code.UNSCHEDULABLE, "no site offers any pool yet"),)
    verdicts = []
    for i, pool in enumerate(pools):
        status = run_filters(seen.plugins, seen.job, pool, working.at(i, seen.placed))
        if not status.ok:
            verdicts.append(PoolVerdict(pool.label, status.code, status.reason))
    return tuple(verdicts)


def rank(
    plugins: _Built, job: PendingJob, pools: Sequence[PoolView], free: dict[str, tuple[Vector, ...]]
) -> list[tuple[PoolView, tuple[tuple[str, float], ...]]]:
    """Each feasible pool with its weighted score per plugin (cost plugins normalised across pools)."""
    columns: list[tuple[str, list[float]]] = []
    for plugin, weight in plugins.scores:
        if hasattr(plugin, "cost"):
            column = weighted(weight, [plugin.cost(job, p, free[p.id]) for p in pools], True)
        else:
            column = weighted(weight, [plugin.score(job, p, free[p.id]) for p in pools], False)
        columns.append((plugin.name, column))
    return [(pool, tuple((name, values[i]) for name, values in columns)) for i, pool in enumerate(pools)]


def accelerator_option(job: PendingJob, pool: PoolView) -> AcceleratorOption | None:
    """The job's accelerator option that this pool's model satisfies (None: the job needs none)."""
    for option in job.resources.accelerators:
        if option.model == pool.accelerator:
            return option
    return None


def options_key(job: PendingJob) -> tuple[tuple[str, int], ...]:
    """The job's accelerator options as plain (model, count) pairs: quick to hash, for a `job_key`."""
    return tuple([(o.model, o.count) for o in job.resources.accelerators])


def pick_nodes(need: Vector, count: int, free: tuple[Vector, ...]) -> tuple[int, ...] | None:
    """Best fit: the `count` nodes that fit `need` with the fewest accelerators left over."""
    a, c, m = need.accelerators, need.cpus, need.memory_mib  # `need.fits_in(f)`, without a call per node
    fitting = [i for i, f in enumerate(free) if a <= f.accelerators and c <= f.cpus and m <= f.memory_mib]
    if len(fitting) < count:
        return None
    fitting.sort(key=lambda i: (free[i].accelerators - need.accelerators, free[i].cpus, i))
    return tuple(sorted(fitting[:count]))
