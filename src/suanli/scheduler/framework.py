"""The scheduling framework: plugin shapes, the name → factory registry, profiles, and `schedule()`.

One cycle, in order: jobs by (priority desc, age); for each job every pool goes through the profile's
filters (first failure wins, its reason is kept); feasible pools are ranked by the weighted sum of
the profile's scores, ties broken by pool label; the winner's capacity is taken from the cycle's
working copy so later jobs see it as used. The snapshot itself is never mutated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from suanli.domain.resources import AcceleratorOption, Vector
from suanli.scheduler.plan import Code, Placement, Plan, PoolVerdict, Status
from suanli.scheduler.snapshot import PendingJob, PoolView, Snapshot


class FilterPlugin(Protocol):
    name: str

    def filter(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> Status: ...


class ScorePlugin(Protocol):
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


UNKNOWN_COST_SCORE = 50.0


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
    """Place what fits now; for every other job, say why each pool does not take it."""
    built = {name: build(p) for name, p in profiles.items()}
    free = {p.id: p.free for p in snapshot.pools}
    placements: list[Placement] = []
    waiting: dict[str, tuple[PoolVerdict, ...]] = {}
    for job in sorted(snapshot.jobs, key=lambda j: (-j.priority, j.created_at, j.id)):
        plugins = built.get(job.objective) or built["balanced"]
        placement, verdicts = _place_one(plugins, job, snapshot.pools, free)
        if placement is None:
            waiting[job.id] = verdicts
            continue
        placements.append(placement)
        free[placement.pool_id] = _take(free[placement.pool_id], placement)
    return Plan(tuple(placements), waiting)


def _place_one(
    plugins: _Built, job: PendingJob, pools: Sequence[PoolView], free: dict[str, tuple[Vector, ...]]
) -> tuple[Placement | None, tuple[PoolVerdict, ...]]:
    verdicts: list[PoolVerdict] = []
    feasible: list[PoolView] = []
    for pool in pools:
        status = run_filters(plugins, job, pool, free[pool.id])
        if status.ok:
            feasible.append(pool)
        else:
            verdicts.append(PoolVerdict(pool.label, status.code, status.reason))
    candidates = [
        (sum(v for _, v in parts), pool.label, pool) for pool, parts in rank(plugins, job, feasible, free)
    ]
    if not candidates:
        if not pools:
            verdicts.append(PoolVerdict("(network)", Code.UNSCHEDULABLE, "no site offers any pool yet"))
        return None, tuple(verdicts)
    # Highest score wins; ties go to the alphabetically first pool so plans are reproducible.
    score, _, pool = min(candidates, key=lambda c: (-c[0], c[1]))
    option = accelerator_option(job, pool)
    need = job.resources.per_node(option)
    nodes = pick_nodes(need, job.resources.nodes, free[pool.id])
    assert nodes is not None, "the capacity filter admitted a pool without enough free nodes"
    placement = Placement(job.id, pool.id, pool.site_id, option.model if option else None, need, nodes, score)
    return placement, tuple(verdicts)


def rank(
    plugins: _Built, job: PendingJob, pools: Sequence[PoolView], free: dict[str, tuple[Vector, ...]]
) -> list[tuple[PoolView, tuple[tuple[str, float], ...]]]:
    """Each feasible pool with its weighted score per plugin (cost plugins normalised across pools)."""
    columns: list[tuple[str, list[float]]] = []
    for plugin, weight in plugins.scores:
        if hasattr(plugin, "cost"):
            costs = [plugin.cost(job, p, free[p.id]) for p in pools]
            column = _normalise(costs)
        else:
            column = [plugin.score(job, p, free[p.id]) for p in pools]
        columns.append((plugin.name, [weight * v for v in column]))
    return [(pool, tuple((name, values[i]) for name, values in columns)) for i, pool in enumerate(pools)]


def _normalise(costs: list[float | None]) -> list[float]:
    known = [c for c in costs if c is not None]
    lo, hi = (min(known), max(known)) if known else (0.0, 0.0)
    out = []
    for c in costs:
        if c is None:
            out.append(UNKNOWN_COST_SCORE)
        elif hi == lo:
            out.append(100.0)
        else:
            out.append(100.0 * (hi - c) / (hi - lo))
    return out


def accelerator_option(job: PendingJob, pool: PoolView) -> AcceleratorOption | None:
    """The job's accelerator option that this pool's model satisfies (None: the job needs none)."""
    for option in job.resources.accelerators:
        if option.model == pool.accelerator:
            return option
    return None


def pick_nodes(need: Vector, count: int, free: tuple[Vector, ...]) -> tuple[int, ...] | None:
    """Best fit: the `count` nodes that fit `need` with the fewest accelerators left over."""
    fitting = [i for i, f in enumerate(free) if need.fits_in(f)]
    if len(fitting) < count:
        return None
    fitting.sort(key=lambda i: (free[i].accelerators - need.accelerators, free[i].cpus, i))
    return tuple(sorted(fitting[:count]))


def _take(free: tuple[Vector, ...], placement: Placement) -> tuple[Vector, ...]:
    return tuple(f - placement.per_node if i in placement.nodes else f for i, f in enumerate(free))
