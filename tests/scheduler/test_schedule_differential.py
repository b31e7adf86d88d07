"""`schedule()` decides exactly what the plain loop decides: the same placements, the same verdicts.

The reference below is the scheduling loop as it was before job classes, rankings and lazy verdicts
(`framework.py`): every job, in order, against every pool, through every filter; every feasible
pool ranked afresh. It shares only the plugins and `build`/`run_filters`/`pick_nodes` with the code
under test. Networks, prices, energy figures and job mixes are random, with small domains so that
jobs fall into the same classes, pools tie on score, and labels collide.
"""

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.money import Money
from suanli.domain.resources import AcceleratorOption, Resources, Vector
from suanli.scheduler import (
    PROFILES,
    Carry,
    Code,
    PendingJob,
    Placement,
    PoolVerdict,
    PoolView,
    Snapshot,
    schedule,
)
from suanli.scheduler.books import Books
from suanli.scheduler.framework import (
    Profile,
    _Built,
    _held,
    accelerator_option,
    build,
    pick_nodes,
    register_filter,
    register_score,
    run_filters,
)
from suanli.scheduler.order import FairQueue
from suanli.scheduler.plan import OK, Status
from suanli.scheduler.profiles import FILTERS
from suanli.scheduler.reserve import Reserver
from suanli.scheduler.reuse import Kinds
from suanli.scheduler.working import WorkingFree

T0 = datetime(2025, 1, 1, tzinfo=UTC)
T = TypeVar("T")

# --- the reference: the plain loop -------------------------------------------------------------------


def reference(
    snapshot: Snapshot, profiles: dict[str, Profile]
) -> tuple[list[Placement], dict[str, tuple[PoolVerdict, ...]]]:
    """The plain loop. It shares the queue order, the books, the working copy and the reserve
    plugins with the code under test (as it shares `pick_nodes`), not the classes and rankings."""
    built = {name: build(p) for name, p in profiles.items()}
    pools = snapshot.pools
    working = WorkingFree(pools, snapshot.now)
    books = Books(snapshot)
    reserver = Reserver(snapshot, working, books)
    placements: list[Placement] = []
    waiting: dict[str, tuple[PoolVerdict, ...]] = {}
    for job in FairQueue(snapshot.jobs, books):
        plugins = built.get(job.objective) or built["balanced"]
        verdicts: list[PoolVerdict] = []
        feasible: list[PoolView] = []
        free = {p.id: working.free_for(i, job) for i, p in enumerate(pools)}
        for i, pool in enumerate(pools):
            status = run_filters(plugins, job, pool, free[pool.id])
            if status.ok:
                feasible.append(pool)
                continue
            guard = working.guards[i]
            if guard is not None and run_filters(plugins, job, pool, working.free[i]).ok:
                status = Status(Code.UNSCHEDULABLE, _held(job, guard.job_id, guard.until))
            verdicts.append(PoolVerdict(pool.label, status.code, status.reason))
        static = Kinds.of(plugins).static
        possible = [i for i, p in enumerate(pools) if all(c.admits(job, p, p.free) for c in static)]
        candidates = [
            (sum(v for _, v in parts), pool.label, pool)
            for pool, parts in _rank(plugins, job, feasible, free, [pools[i] for i in possible])
        ]
        if not candidates:
            if not pools:
                verdicts.append(
                    PoolVerdict(
                        "(network)",
                        Code.UNSCHEDULABLE,
                        "no pool is open to new work: no site has offered one yet, or every site that has is disabled",
                    )
                )
            else:
                reserver.blocked(job, possible)
            waiting[job.id] = tuple(verdicts)
            continue
        score, _, pool = min(candidates, key=lambda c: (-c[0], c[1]))
        index = pools.index(pool)
        option = accelerator_option(job, pool)
        need = job.resources.per_node(option)
        nodes = pick_nodes(need, job.resources.nodes, free[pool.id])
        assert nodes is not None
        placements.append(
            Placement(job.id, pool.id, pool.site_id, option.model if option else None, need, nodes, score)
        )
        working.take(index, need, nodes, working.ends_of(job))
        books.take(job, option.model if option else None, need, None)
    return placements, waiting


def _rank(
    plugins: _Built,
    job: PendingJob,
    pools: list[PoolView],
    free: dict[str, tuple[Vector, ...]],
    domain: list[PoolView],
) -> list[tuple[PoolView, tuple[tuple[str, float], ...]]]:
    """Feasible pools' weighted scores, cost scores normalised over the pools the job could run on
    when they have room (those its static filters pass), full or not."""
    columns: list[tuple[str, list[float]]] = []
    for plugin, weight in plugins.scores:
        if hasattr(plugin, "cost"):
            known = [c for p in domain if (c := plugin.cost(job, p, free[p.id])) is not None]
            column = _normalise([plugin.cost(job, p, free[p.id]) for p in pools], known)
        else:
            column = [plugin.score(job, p, free[p.id]) for p in pools]
        columns.append((plugin.name, [weight * v for v in column]))
    return [(pool, tuple((name, values[i]) for name, values in columns)) for i, pool in enumerate(pools)]


def _normalise(costs: list[float | None], known: list[float]) -> list[float]:
    lo, hi = (min(known), max(known)) if known else (0.0, 0.0)
    out = []
    for c in costs:
        if c is None:
            out.append(50.0)
        elif hi == lo:
            out.append(100.0)
        else:
            out.append(100.0 * (hi - c) / (hi - lo))
    return out


# --- plugins that give the framework nothing to reuse (no `job_key`), for custom profiles -----------


class EvenFreeNodes:
    """Opaque and not monotone: admits a pool while an even number of its nodes is untouched."""

    name = "test_even_free_nodes"

    def filter(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> Status:
        untouched = sum(1 for f in free if f == pool.per_node)
        return OK if untouched % 2 == 0 else Status(Code.UNSCHEDULABLE, f"{untouched} untouched nodes")


class Emptiest:
    """Reads free capacity: prefers the pool with the most free CPUs."""

    name = "test_emptiest"

    def score(self, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> float:
        total = pool.per_node.cpus * len(free)
        return 100.0 * sum(f.cpus for f in free) / total if total else 0.0


register_filter(EvenFreeNodes.name, EvenFreeNodes)
register_score(Emptiest.name, Emptiest)

CUSTOM_PROFILES = {
    **PROFILES,
    "opaque": Profile(
        "opaque", (*FILTERS, EvenFreeNodes.name), (("test_emptiest", 2.0), ("cost", 1.0), ("carbon", 0.5))
    ),
    "plain": Profile("plain", FILTERS, ()),
    "free-only": Profile("free-only", FILTERS, (("test_emptiest", 1.0),)),
}

# --- random networks ----------------------------------------------------------------------------------

MODELS = ("A100", "H100", None)


@st.composite
def pools_strategy(draw: st.DrawFn, most: int = 6) -> list[PoolView]:
    out = []
    for i in range(draw(st.integers(0, most))):
        model = draw(st.sampled_from(MODELS))
        per_node = Vector(draw(st.sampled_from([4, 8])) if model else 0, draw(st.sampled_from([16, 32])), 64)
        used = st.builds(
            Vector, st.integers(0, per_node.accelerators), st.integers(0, per_node.cpus), st.integers(0, 64)
        )
        nodes = draw(st.integers(0, 5))
        free = tuple(per_node - draw(st.sampled_from([Vector()] * 3) | used) for _ in range(nodes))
        site = draw(st.sampled_from("abc"))
        out.append(
            PoolView(
                id=f"pool-{i}",
                site_id=f"site-{site}",
                site=site,
                name=draw(st.sampled_from(["p", "q", f"p{i}"])),  # labels may collide
                accelerator=model,
                per_node=per_node,
                free=free,
                online=draw(st.sampled_from([True, True, True, False])),
                region=draw(st.sampled_from(["north", "south"])),
                price=draw(st.one_of(st.none(), st.builds(Money, st.sampled_from([100, 150, 300])))),
                pue=draw(st.one_of(st.none(), st.sampled_from([Decimal("1.1"), Decimal("1.5")]))),
                carbon_g_per_kwh=draw(st.one_of(st.none(), st.sampled_from([300, 600]))),
            )
        )
    return out


@dataclass(frozen=True)
class Shape:
    accelerators: tuple[AcceleratorOption, ...]
    nodes: int
    cpus: int
    memory_mib: int
    max_runtime_s: int | None


shapes = st.builds(
    Shape,
    st.lists(
        st.builds(AcceleratorOption, st.sampled_from(["A100", "H100"]), st.sampled_from([1, 2, 4, 8])),
        max_size=2,
        unique_by=lambda o: o.model,
    ).map(tuple),
    st.sampled_from([1, 1, 2, 3]),
    st.sampled_from([1, 4, 8, 16]),
    st.sampled_from([8, 16, 32]),
    st.sampled_from([None, 3600, 7200]),
)


def rarely(strategy: st.SearchStrategy[T], usual: T) -> st.SearchStrategy[T]:
    """`usual` three times in four, so that jobs often agree and fall into one class."""
    return st.sampled_from([usual] * 3) | strategy


def jobs_strategy(
    objectives: list[str], least: int = 0, most: int = 30
) -> st.SearchStrategy[list[PendingJob]]:
    @st.composite
    def draw_jobs(draw: st.DrawFn) -> list[PendingJob]:
        few_shapes = draw(st.lists(shapes, min_size=1, max_size=2))  # so jobs share classes
        out = []
        for i in range(draw(st.integers(least, most))):
            s = draw(st.sampled_from(few_shapes)) if draw(st.integers(0, 3)) else draw(shapes)
            out.append(
                PendingJob(
                    id=f"j{i:02d}",
                    resources=Resources(s.accelerators, s.nodes, s.cpus, s.memory_mib, s.max_runtime_s),
                    created_at=T0 - timedelta(seconds=draw(st.integers(0, 3))),
                    priority=draw(st.integers(0, 2)),
                    org_id=draw(rarely(st.sampled_from(["org-x", "org-y"]), "org-w")),
                    project_id=draw(st.sampled_from(["p1", "p2"])),
                    sites=draw(rarely(st.lists(st.sampled_from("abc"), max_size=2).map(tuple), ())),
                    regions=draw(rarely(st.sampled_from([("north",), ("south",)]), ())),
                    avoid_sites=draw(rarely(st.sampled_from([frozenset("a"), frozenset("b")]), frozenset())),
                    objective=draw(st.sampled_from(objectives)),
                    max_price_per_hour=draw(rarely(st.sampled_from([Decimal(2), Decimal(10)]), None)),
                )
            )
        return out

    return draw_jobs()


def assert_same_decisions(snapshot: Snapshot, profiles: dict[str, Profile]) -> None:
    plan = schedule(snapshot, profiles)
    placements, waiting = reference(snapshot, profiles)
    assert list(plan.placements) == placements
    assert set(plan.waiting) == set(waiting)
    for job_id, verdicts in waiting.items():
        assert plan.waiting[job_id] == verdicts, job_id
        assert plan.reasons(job_id) == verdicts, job_id


@settings(max_examples=250, deadline=None)
@given(pools_strategy(), jobs_strategy(["balanced", "cheapest", "greenest", "fastest", "unknown"]))
def test_schedule_matches_the_plain_loop(pools: list[PoolView], jobs: list[PendingJob]) -> None:
    assert_same_decisions(Snapshot(now=T0, pools=tuple(pools), jobs=tuple(jobs)), PROFILES)


@settings(max_examples=120, deadline=None)
@given(pools_strategy(), jobs_strategy(["balanced", "opaque", "plain", "free-only"]))
def test_schedule_matches_the_plain_loop_with_plugins_it_cannot_reuse(
    pools: list[PoolView], jobs: list[PendingJob]
) -> None:
    assert_same_decisions(Snapshot(now=T0, pools=tuple(pools), jobs=tuple(jobs)), CUSTOM_PROFILES)


@settings(max_examples=80, deadline=None)
@given(pools_strategy(most=10), jobs_strategy(["balanced", "cheapest", "greenest"], least=30, most=80))
def test_long_queues_of_few_classes_match_the_plain_loop(
    pools: list[PoolView], jobs: list[PendingJob]
) -> None:
    """Classes with many jobs keep a ranking while pools fill up and cost extremes drop out."""
    assert_same_decisions(Snapshot(now=T0, pools=tuple(pools), jobs=tuple(jobs)), PROFILES)


def test_many_jobs_of_one_class_fill_pools_in_the_plain_loops_order() -> None:
    """Long runs of one class exercise the kept ranking: winners fill up, cost extremes leave."""
    pools = [
        PoolView(
            f"pool-{i}",
            f"site-{i % 3}",
            "abc"[i % 3],
            f"p{i}",
            "A100",
            Vector(8, 64, 1024),
            (Vector(8, 64, 1024),) * (1 + i % 4),
            price=Money(100 + 10 * (i % 5)),
            pue=Decimal("1.2"),
            carbon_g_per_kwh=300 + 50 * (i % 7),
        )
        for i in range(12)
    ]
    jobs = [
        PendingJob(
            f"j{i:03d}",
            Resources((AcceleratorOption("A100", (2, 4, 8)[i % 3]),), 1, 8, 64),
            T0 + timedelta(seconds=i),
            objective=("balanced", "cheapest", "greenest", "fastest")[i % 4],
        )
        for i in range(200)
    ]
    assert_same_decisions(Snapshot(now=T0, pools=tuple(pools), jobs=tuple(jobs)), PROFILES)


@settings(max_examples=100, deadline=None)
@given(
    pools_strategy(most=8),
    jobs_strategy(["balanced", "cheapest", "greenest", "fastest"], most=40),
    st.lists(st.tuples(st.integers(0, 7), st.sampled_from(["free", "price", "offline"])), max_size=6),
)
def test_a_carry_between_cycles_changes_no_decision(
    pools: list[PoolView], jobs: list[PendingJob], changes: list[tuple[int, str]]
) -> None:
    """Cycles run back to back with one `Carry` decide what fresh cycles decide, whether only free
    capacity changes between them (the carry is kept) or a price or a site's state does (it is not)."""
    carry = Carry()
    snapshot = Snapshot(now=T0, pools=tuple(pools), jobs=tuple(jobs))
    for index, what in [(0, "none"), *changes]:
        views = list(snapshot.pools)
        if views and what != "none":
            i = index % len(views)
            view = views[i]
            if what == "free":
                free = tuple(Vector(0, 0, 0) if n % 2 else view.per_node for n in range(len(view.free)))
                views[i] = replace(view, free=free)
            elif what == "price":
                views[i] = replace(view, price=Money(777))
            else:
                views[i] = replace(view, online=not view.online)
        snapshot = replace(snapshot, pools=tuple(views))
        carried, fresh = schedule(snapshot, PROFILES, carry), schedule(snapshot, PROFILES)
        assert carried.placements == fresh.placements
        assert set(carried.waiting) == set(fresh.waiting)
        for job_id in fresh.waiting:
            assert carried.reasons(job_id) == fresh.reasons(job_id), job_id
