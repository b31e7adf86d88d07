"""Static survivors as bitsets (`scheduler/survivors.py`): the pools that asking every filter gives.

`StaticSets` asks a filter once per key (or need) and group of alike pools and keeps each step; a
network is random with small domains, so pools share groups and jobs share keys and needs, and
one `StaticSets` serves every job of the example in turn, as it serves a cycle (and a carry).
"""

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.money import Money
from suanli.domain.resources import AcceleratorOption, Resources, Vector
from suanli.scheduler import PROFILES, PendingJob, PoolView
from suanli.scheduler.framework import build
from suanli.scheduler.reuse import Kinds
from suanli.scheduler.survivors import StaticSets, indices

T0 = datetime(2025, 1, 1, tzinfo=UTC)
KINDS = Kinds.of(build(PROFILES["balanced"]))


@st.composite
def pools(draw: st.DrawFn, i: int) -> PoolView:
    model = draw(st.sampled_from(["A100", "H100", None]))
    per_node = Vector(draw(st.sampled_from([4, 8])) if model else 0, draw(st.sampled_from([8, 16])), 64)
    site = draw(st.sampled_from("abc"))
    return PoolView(
        f"pool-{i}",
        f"site-{site}",
        site,
        f"p{i}",
        model,
        per_node,
        (per_node,) * draw(st.integers(1, 3)),
        online=draw(st.booleans()),
        region=draw(st.sampled_from(["north", "south"])),
        price=draw(st.one_of(st.none(), st.builds(Money, st.sampled_from([100, 250])))),
        max_runtime_s=draw(st.sampled_from([None, 3600])),
    )


@st.composite
def jobs(draw: st.DrawFn) -> PendingJob:
    options = draw(
        st.lists(
            st.builds(AcceleratorOption, st.sampled_from(["A100", "H100"]), st.sampled_from([4, 8])),
            max_size=2,
            unique_by=lambda o: o.model,
        )
    )
    return PendingJob(
        "j",
        Resources(
            tuple(options),
            draw(st.integers(1, 3)),
            draw(st.sampled_from([8, 16])),
            64,
            draw(st.sampled_from([None, 3600, 7200])),
        ),
        T0,
        sites=tuple(draw(st.lists(st.sampled_from("abc"), max_size=2))),
        regions=tuple(draw(st.lists(st.sampled_from(["north", "south"]), max_size=1))),
        max_price_per_hour=draw(st.sampled_from([None, Decimal(3), Decimal(30)])),
    )


@st.composite
def networks(draw: st.DrawFn) -> list[PoolView]:
    return [draw(pools(i)) for i in range(draw(st.integers(0, 12)))]


@settings(max_examples=200, deadline=None)
@given(networks(), st.lists(jobs(), min_size=1, max_size=12))
def test_survivors_are_the_pools_every_static_filter_admits(
    network: list[PoolView], queue: list[PendingJob]
) -> None:
    sets = StaticSets(network)
    for job in queue:
        keys = [check.key(job) for check in KINDS.static if check.key is not None]
        found = sets.listed(sets.survivors(KINDS.static, keys, job))
        plain = [
            i for i, pool in enumerate(network) if all(c.admits(job, pool, pool.free) for c in KINDS.static)
        ]
        assert found == plain


@given(st.sets(st.integers(0, 300)))
def test_a_bitset_lists_its_pools_in_snapshot_order(members: set[int]) -> None:
    assert indices(sum(1 << i for i in members)) == sorted(members)
