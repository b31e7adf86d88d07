"""The promises plugins make so a cycle may reuse their answers (`scheduler/reuse.py`).

For every built-in plugin: two jobs with the same `job_key` get the same answer on the same pool
(the same `Status`, reason included, or the same score); a plugin that says `reads_free = False`
gives the same answer whatever `free` holds; a filter with a `pool_key` gives the same answer on
two pools with the same `pool_key`; `admits` agrees with `filter(...).ok`; and `capacity` is
monotone: with less free capacity it never turns a no into a yes.
"""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.ledger import PriceBook, Rates
from suanli.domain.money import Money
from suanli.domain.resources import AcceleratorOption, Resources, Vector
from suanli.scheduler import PendingJob, PoolView
from suanli.scheduler.framework import _FILTERS, _SCORES, accelerator_option, pick_nodes
from suanli.scheduler.profiles import FILTERS, PROFILES
from suanli.scheduler.reuse import Reusable

T0 = datetime(2025, 1, 1, tzinfo=UTC)
BUILT_IN_SCORES = sorted({name for p in PROFILES.values() for name, _ in p.scores})
vectors = st.builds(Vector, st.integers(0, 8), st.integers(0, 16), st.integers(0, 64))
_rate = st.sampled_from([Decimal(0), Decimal(100)])
books = st.builds(
    lambda r: PriceBook("CNY", r, r), st.builds(Rates, _rate, _rate, _rate)
)  # each rate charged or free


@st.composite
def pools(draw: st.DrawFn) -> PoolView:
    model = draw(st.sampled_from(["A100", "H100", None]))
    per_node = Vector(draw(st.sampled_from([4, 8])) if model else 0, 16, draw(st.sampled_from([32, 64])))
    return PoolView(
        "pool-1",
        "site-a",
        draw(st.sampled_from("ab")),
        "p",
        model,
        per_node,
        tuple(draw(st.lists(vectors, max_size=4))),
        online=draw(st.booleans()),
        region=draw(st.sampled_from(["north", "south"])),
        price=draw(st.one_of(st.none(), st.builds(Money, st.sampled_from([100, 250])))),
        pue=draw(st.one_of(st.none(), st.just(Decimal("1.3")))),
        carbon_g_per_kwh=draw(st.one_of(st.none(), st.just(500))),
        max_runtime_s=draw(st.sampled_from([None, 1800, 86400])),
        book=draw(st.one_of(st.none(), books)),
    )


@st.composite
def jobs(draw: st.DrawFn) -> PendingJob:
    options = draw(
        st.lists(
            st.builds(AcceleratorOption, st.sampled_from(["A100", "H100"]), st.sampled_from([1, 4, 8])),
            max_size=2,
            unique_by=lambda o: o.model,
        )
    )
    return PendingJob(
        draw(st.sampled_from(["j1", "j2"])),
        Resources(
            tuple(options),
            draw(st.integers(1, 3)),
            draw(st.sampled_from([1, 8])),
            draw(st.sampled_from([8, 64])),
            draw(st.sampled_from([None, 3600])),
        ),
        T0,
        priority=draw(st.integers(0, 1)),
        sites=tuple(draw(st.lists(st.sampled_from("ab"), max_size=1))),
        regions=tuple(draw(st.lists(st.sampled_from(["north", "south"]), max_size=1))),
        avoid_sites=frozenset(draw(st.lists(st.sampled_from("ab"), max_size=1))),
        max_price_per_hour=draw(st.sampled_from([None, Decimal(3), Decimal(30)])),
    )


def answer(name: str, job: PendingJob, pool: PoolView, free: tuple[Vector, ...]) -> object:
    if name in _FILTERS:
        return _FILTERS[name]().filter(job, pool, free)
    plugin = _SCORES[name]()
    return plugin.cost(job, pool, free) if hasattr(plugin, "cost") else plugin.score(job, pool, free)  # type: ignore[union-attr]


def reusable(name: str) -> Reusable:
    plugin = (_FILTERS.get(name) or _SCORES[name])()
    assert isinstance(plugin, Reusable), f"{name} no longer declares job_key and reads_free"
    return plugin


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([*FILTERS, *BUILT_IN_SCORES]), jobs(), jobs(), pools(), st.lists(vectors, max_size=4))
def test_an_answer_depends_on_the_job_only_through_its_key(
    name: str, a: PendingJob, b: PendingJob, pool: PoolView, other_free: list[Vector]
) -> None:
    plugin = reusable(name)
    if plugin.job_key(a) == plugin.job_key(b):
        assert answer(name, a, pool, pool.free) == answer(name, b, pool, pool.free)
    if not plugin.reads_free:
        assert answer(name, a, pool, pool.free) == answer(name, a, pool, tuple(other_free))


POOL_KEYED = [name for name in FILTERS if hasattr(_FILTERS[name](), "pool_key")]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(POOL_KEYED), jobs(), pools(), pools(), st.data())
def test_an_answer_depends_on_the_pool_only_through_its_pool_key(
    name: str, job: PendingJob, pool: PoolView, other: PoolView, data: st.DataObject
) -> None:
    """`alike` takes each of the pool's fields from `other` or keeps it, at random, so that it
    often shares the filter's pool key with `pool` while differing in other fields."""
    plugin = _FILTERS[name]()
    fields = [
        "site",
        "region",
        "accelerator",
        "per_node",
        "free",
        "price",
        "online",
        "pue",
        "carbon_g_per_kwh",
        "max_runtime_s",
        "book",
    ]
    taken = data.draw(st.lists(st.sampled_from(fields), unique=True))
    alike = replace(pool, id="pool-2", name="q", **{f: getattr(other, f) for f in taken})
    if plugin.pool_key(pool) == plugin.pool_key(alike):  # type: ignore[attr-defined]
        assert plugin.filter(job, pool, pool.free) == plugin.filter(job, alike, alike.free)


def test_the_pool_keyed_filters_are_the_static_ones_that_name_few_pool_fields() -> None:
    assert POOL_KEYED == [
        "accelerator",
        "shape",
        "constraints",
        "paid",
        "price_cap",
        "runtime_limit",
        "online",
    ]


INDEXED = [name for name in POOL_KEYED if hasattr(_FILTERS[name](), "candidates")]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(INDEXED), jobs(), pools())
def test_an_indexed_filter_admits_no_pool_outside_the_index_keys_it_names(
    name: str, job: PendingJob, pool: PoolView
) -> None:
    plugin = _FILTERS[name]()
    named = plugin.candidates(plugin.job_key(job))  # type: ignore[attr-defined]
    if named is not None and plugin.index_key(pool) not in named:  # type: ignore[attr-defined]
        assert not plugin.filter(job, pool, pool.free).ok


def test_constraints_index_pools_by_site_and_name_the_sites_a_job_lists() -> None:
    assert INDEXED == ["constraints"]
    plugin = _FILTERS["constraints"]()
    limited = PendingJob("j", Resources((), 1, 1, 1), T0, sites=("a", "b"), regions=("north",))
    assert set(plugin.candidates(plugin.job_key(limited))) == {"a", "b"}  # type: ignore[attr-defined]
    anywhere = PendingJob("k", Resources((), 1, 1, 1), T0, regions=("north",))
    assert plugin.candidates(plugin.job_key(anywhere)) is None  # type: ignore[attr-defined]


A100_8 = Vector(8, 64, 512)


@pytest.mark.parametrize(
    ("name", "change", "alike"),
    [
        ("accelerator", {"site": "b", "per_node": Vector(4, 64, 512)}, True),
        ("accelerator", {"accelerator": "H100"}, False),
        ("shape", {"site": "b", "price": Money(999), "free": (Vector(),) * 2}, True),
        ("shape", {"free": (A100_8,) * 3}, False),
        ("shape", {"per_node": Vector(4, 64, 512)}, False),
        ("constraints", {"accelerator": "H100", "free": ()}, True),
        ("constraints", {"region": "south"}, False),
        ("paid", {"site": "b", "accelerator": "H100", "price": Money(999)}, True),
        ("paid", {"price": None}, False),
        ("paid", {"accelerator": None}, False),
        ("price_cap", {"site": "b", "per_node": Vector(4, 64, 512)}, True),
        ("price_cap", {"price": Money(999)}, False),
        ("runtime_limit", {"site": "b", "price": Money(999), "accelerator": "H100"}, True),
        ("runtime_limit", {"max_runtime_s": 3600}, False),
    ],
)
def test_which_pools_a_filter_groups_together(name: str, change: dict[str, object], alike: bool) -> None:
    pool = PoolView(
        "pool-1", "site-a", "a", "p", "A100", A100_8, (A100_8,) * 2, region="north", price=Money(100)
    )
    plugin = _FILTERS[name]()
    assert (plugin.pool_key(pool) == plugin.pool_key(replace(pool, **change))) == alike  # type: ignore[attr-defined, arg-type]


NEED_KEYED = [name for name in FILTERS if hasattr(_FILTERS[name](), "need_key")]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(NEED_KEYED), jobs(), jobs(), pools(), pools(), st.lists(vectors, max_size=4))
def test_an_answer_depends_on_the_job_only_through_what_it_needs_of_the_pool(
    name: str, a: PendingJob, b: PendingJob, pool: PoolView, other: PoolView, free: list[Vector]
) -> None:
    """Jobs with different keys (A100:8 or H100:8, against A100:8 alone) that need the same of a
    pool get the same answer there, whatever is free; and what a job needs of a pool is the same
    on every pool with the same `need_pool_key`."""
    plugin = _FILTERS[name]()
    need_key, need_pool_key = plugin.need_key, plugin.need_pool_key  # type: ignore[attr-defined]
    if need_key(a, pool) == need_key(b, pool):
        assert plugin.filter(a, pool, tuple(free)) == plugin.filter(b, pool, tuple(free))
    if need_pool_key(pool) == need_pool_key(other):
        assert need_key(a, pool) == need_key(a, other)


def test_the_need_keyed_filters_read_one_accelerator_option_of_the_job() -> None:
    assert NEED_KEYED == ["shape", "price_cap", "capacity"]


NEED_KEYED_SCORES = [name for name in BUILT_IN_SCORES if hasattr(_SCORES[name](), "need_key")]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(NEED_KEYED_SCORES), jobs(), jobs(), pools(), pools())
def test_a_score_depends_on_the_job_only_through_what_it_needs_of_the_pool(
    name: str, a: PendingJob, b: PendingJob, pool: PoolView, other: PoolView
) -> None:
    """A score's raw value is shared between jobs that need the same of a pool (`JobClass._fill`):
    the same value for equal needs, and the same need on every pool with the same `need_pool_key`."""
    plugin = _SCORES[name]()
    need_key, need_pool_key = plugin.need_key, plugin.need_pool_key  # type: ignore[union-attr]
    if need_key(a, pool) == need_key(b, pool):
        assert answer(name, a, pool, pool.free) == answer(name, b, pool, pool.free)
    if need_pool_key(pool) == need_pool_key(other):
        assert need_key(a, pool) == need_key(a, other)


def test_the_need_keyed_scores_read_one_accelerator_option_of_the_job() -> None:
    assert NEED_KEYED_SCORES == ["carbon", "cost", "fragmentation"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FILTERS), jobs(), pools())
def test_admits_agrees_with_filter(name: str, job: PendingJob, pool: PoolView) -> None:
    plugin = _FILTERS[name]()
    admits = getattr(plugin, "admits", None)
    if admits is not None:
        assert admits(job, pool, pool.free) == plugin.filter(job, pool, pool.free).ok


@settings(max_examples=300, deadline=None)
@given(jobs(), pools())
def test_capacity_admits_exactly_when_the_nodes_can_be_picked(job: PendingJob, pool: PoolView) -> None:
    need = job.resources.per_node(accelerator_option(job, pool))
    picked = pick_nodes(need, job.resources.nodes, pool.free)
    assert _FILTERS["capacity"]().filter(job, pool, pool.free).ok == (picked is not None)


@settings(max_examples=300, deadline=None)
@given(jobs(), pools(), st.data())
def test_capacity_never_turns_a_no_into_a_yes_when_free_capacity_shrinks(
    job: PendingJob, pool: PoolView, data: st.DataObject
) -> None:
    capacity = _FILTERS["capacity"]()
    less = tuple(
        Vector(
            data.draw(st.integers(0, f.accelerators)),
            data.draw(st.integers(0, f.cpus)),
            data.draw(st.integers(0, f.memory_mib)),
        )
        for f in pool.free
    )
    if not capacity.filter(job, pool, pool.free).ok:
        assert not capacity.filter(job, pool, less).ok
