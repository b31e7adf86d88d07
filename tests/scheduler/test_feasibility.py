"""Tests for `never_fits`: the API refuses a job that no pool could run even empty and online."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.resources import AcceleratorOption, Resources, Vector
from suanli.scheduler import PROFILES, Code, PendingJob, PoolVerdict, PoolView, Snapshot, never_fits, schedule

T0 = datetime(2025, 1, 1, tzinfo=UTC)
GPU_NODE = Vector(8, 64, 512 * 1024)


def pool(
    label: str = "pku/a100",
    accelerator: str | None = "A100",
    nodes: int = 2,
    per_node: Vector = GPU_NODE,
    online: bool = True,
    region: str = "cn-north",
) -> PoolView:
    """A pool called `site/name` whose nodes are all busy: `never_fits` must look past that."""
    site, name = label.split("/")
    return PoolView(
        f"pool-{label}",
        f"site-{site}",
        site,
        name,
        accelerator,
        per_node,
        (Vector(),) * nodes,
        online,
        region,
    )


def job(
    accelerators: tuple[tuple[str, int], ...] = (("A100", 8),),
    nodes: int = 1,
    cpus: int = 8,
    sites: tuple[str, ...] = (),
    regions: tuple[str, ...] = (),
    objective: str = "balanced",
) -> PendingJob:
    options = tuple(AcceleratorOption(model, count) for model, count in accelerators)
    return PendingJob(
        "j1",
        Resources(options, nodes, cpus, 1024),
        T0,
        sites=sites,
        regions=regions,
        objective=objective,
    )


def test_with_no_pools_a_job_may_wait_for_a_site_to_join() -> None:
    assert never_fits(job(), []) is None


@pytest.mark.parametrize(
    "pools",
    [
        pytest.param([pool()], id="busy-pool"),
        pytest.param([pool(online=False)], id="offline-pool"),
        pytest.param([pool("pku/h100", accelerator="H100"), pool()], id="one-of-several"),
    ],
)
def test_a_job_that_could_run_once_capacity_frees_up_is_accepted(pools: list[PoolView]) -> None:
    assert never_fits(job(), pools) is None


@pytest.mark.parametrize(
    ("the_job", "reason"),
    [
        pytest.param(job(accelerators=(("H100", 8),)), "needs H100; pool offers A100", id="model"),
        pytest.param(
            job(accelerators=tuple((m, 8) for m in ("H100", "H800", "H200", "B200", "MI300X"))),
            "needs one of 5 models (H100, H800, H200, …); pool offers A100",
            id="requirement",
        ),
        pytest.param(
            job(accelerators=(("A100", 16),)), "needs 16×A100 on one node; nodes have 8", id="per-node"
        ),
        pytest.param(job(nodes=3), "needs 3 nodes; pool has 2", id="gang"),
        pytest.param(job(cpus=65), "needs 65 CPUs per node; nodes have 64", id="cpus"),
        pytest.param(job(sites=("thu",)), "site pku is not in constraints.sites", id="sites"),
        pytest.param(job(regions=("eu",)), "region cn-north is not in constraints.regions", id="regions"),
        pytest.param(job(objective="greenest", nodes=3), "needs 3 nodes; pool has 2", id="other-objective"),
    ],
)
def test_a_job_no_pool_could_ever_run_gets_a_reason_per_pool(the_job: PendingJob, reason: str) -> None:
    assert never_fits(the_job, [pool()]) == (PoolVerdict("pku/a100", Code.UNRESOLVABLE, reason),)


def test_every_pool_gives_its_own_reason() -> None:
    pools = [
        pool("pku/v100", accelerator="V100"),
        pool("thu/a100", nodes=1),
        pool("sjtu/cpu", accelerator=None),
    ]
    verdicts = never_fits(job(nodes=2), pools)
    assert verdicts == (
        PoolVerdict("pku/v100", Code.UNRESOLVABLE, "needs A100; pool offers V100"),
        PoolVerdict("thu/a100", Code.UNRESOLVABLE, "needs 2 nodes; pool has 1"),
        PoolVerdict("sjtu/cpu", Code.UNRESOLVABLE, "needs A100; pool offers no accelerators"),
    )


@st.composite
def pools_strategy(draw: st.DrawFn) -> list[PoolView]:
    return [
        pool(
            f"{draw(st.sampled_from('abc'))}/p{i}",
            draw(st.sampled_from(["A100", "H100", None])),
            nodes=draw(st.integers(0, 3)),
            per_node=Vector(draw(st.integers(0, 8)), draw(st.integers(1, 16)), 1024),
            online=draw(st.booleans()),
            region=draw(st.sampled_from(["north", "south"])),
        )
        for i in range(draw(st.integers(1, 3)))
    ]


@settings(max_examples=200, deadline=None)
@given(
    pools_strategy(),
    st.lists(
        st.tuples(st.sampled_from(["A100", "H100"]), st.integers(1, 8)), max_size=2, unique_by=lambda o: o[0]
    ),
    st.integers(1, 3),
    st.integers(1, 16),
    st.lists(st.sampled_from("abc"), max_size=2),
    st.lists(st.sampled_from(["north", "south"]), max_size=1),
)
def test_never_fits_agrees_with_scheduling_on_an_empty_online_network(
    pools: list[PoolView],
    accelerators: list[tuple[str, int]],
    nodes: int,
    cpus: int,
    sites: list[str],
    regions: list[str],
) -> None:
    the_job = job(tuple(accelerators), nodes, cpus, tuple(sites), tuple(regions))
    empty = [replace(p, online=True, free=(p.per_node,) * len(p.free)) for p in pools]
    plan = schedule(Snapshot(now=T0, pools=tuple(empty), jobs=(the_job,)), PROFILES)
    verdicts = never_fits(the_job, pools)
    assert (verdicts is None) == bool(plan.placements)
    if verdicts is not None:
        assert [v.pool for v in verdicts] == [p.label for p in pools]
        assert [v.reason for v in verdicts] == [v.reason for v in plan.reasons("j1")]


# explain: what `suanli why` shows


def test_explain_ranks_fitting_pools_first_and_gives_every_other_pool_a_reason() -> None:
    from datetime import UTC, datetime

    from suanli.domain.resources import AcceleratorOption, Resources, Vector
    from suanli.scheduler import PROFILES, Code, PendingJob, PoolView, explain

    def pool(name: str, model: str | None, free: int, online: bool = True) -> PoolView:
        shape = Vector(4 if model else 0, 8, 8192)
        return PoolView(name, f"s-{name}", name, "p", model, shape, (Vector(free, 8, 8192),), online)

    job = PendingJob(
        "j1",
        Resources((AcceleratorOption("A100", 2),)),
        datetime(2026, 1, 1, tzinfo=UTC),
        avoid_sites=frozenset({"lost"}),
    )
    pools = [pool("busy", "A100", 1), pool("cpu", None, 0), pool("lost", "A100", 4), pool("good", "A100", 4)]
    got = explain(job, pools, PROFILES)
    assert [c.pool for c in got] == ["good/p", "lost/p", "busy/p", "cpu/p"]
    assert got[0].fits and got[0].score is not None and got[1].score is not None
    assert got[0].score > got[1].score  # the site where this job was lost ranks lower
    assert (got[2].code, got[3].code) == (Code.UNSCHEDULABLE, Code.UNRESOLVABLE)
    assert "largest free block 1×A100" in got[2].reason
    assert got[3].reason == "needs A100; pool offers no accelerators"
    # a pool that could run it once it has room shows the score it will be ranked by; one that never
    # could shows none
    assert got[2].score is not None and got[3].score is None


@pytest.mark.parametrize(
    ("asked", "limit", "reason"),
    [
        pytest.param(
            2 * 86400, 86400, "max_runtime 2d above the pool's limit 1d", id="longer-than-the-partition"
        ),
        pytest.param(86400, 86400, None, id="exactly-the-limit"),
        pytest.param(None, 86400, None, id="no-max-runtime-runs-until-the-engine-stops-it"),
        pytest.param(30 * 86400, None, None, id="no-limit"),
    ],
)
def test_a_job_longer_than_the_pools_limit_never_fits_there(
    asked: int | None, limit: int | None, reason: str | None
) -> None:
    the_job = replace(job(), resources=replace(job().resources, max_runtime_s=asked))
    got = never_fits(the_job, [replace(pool(), max_runtime_s=limit)])
    assert got == (None if reason is None else (PoolVerdict("pku/a100", Code.UNRESOLVABLE, reason),))
