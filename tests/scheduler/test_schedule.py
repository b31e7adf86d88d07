"""Tests for one scheduling cycle: seed pools and jobs, run `schedule()`, assert on the plan."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.resources import AcceleratorOption, Resources, Vector
from suanli.scheduler import PROFILES, Code, PendingJob, Plan, PoolVerdict, PoolView, Snapshot, schedule

T0 = datetime(2025, 1, 1, tzinfo=UTC)
GPU_NODE = Vector(8, 64, 512 * 1024)
CPU_NODE = Vector(0, 128, 512 * 1024)


def pool(
    label: str = "pku/a100",
    accelerator: str | None = "A100",
    nodes: int = 1,
    per_node: Vector = GPU_NODE,
    free: tuple[Vector, ...] | None = None,
    online: bool = True,
    region: str = "cn-north",
    stopped: bool = False,
) -> PoolView:
    """A pool called `site/name`; every node is free unless `free` says otherwise."""
    site, name = label.split("/")
    return PoolView(
        id=f"pool-{label}",
        site_id=f"site-{site}",
        site=site,
        name=name,
        accelerator=accelerator,
        per_node=per_node,
        free=free if free is not None else (per_node,) * nodes,
        online=online,
        region=region,
        stopped=stopped,
    )


def job(
    id: str = "j1",
    accelerators: str = "A100:8",
    nodes: int = 1,
    cpus: int = 8,
    memory_mib: int = 64 * 1024,
    priority: int = 0,
    age_s: int = 0,
    sites: tuple[str, ...] = (),
    regions: tuple[str, ...] = (),
    avoid_sites: frozenset[str] = frozenset(),
    objective: str = "balanced",
) -> PendingJob:
    """A pending job; `accelerators` is written as in a spec: "A100:8", "H100:8|A100:8" or "" for none."""
    options = tuple(
        AcceleratorOption(model, int(count))
        for model, count in (o.split(":") for o in accelerators.split("|") if o)
    )
    return PendingJob(
        id=id,
        resources=Resources(options, nodes, cpus, memory_mib),
        created_at=T0 - timedelta(seconds=age_s),
        priority=priority,
        sites=sites,
        regions=regions,
        avoid_sites=avoid_sites,
        objective=objective,
    )


def run(pools: list[PoolView], jobs: list[PendingJob]) -> Plan:
    return schedule(Snapshot(now=T0, pools=tuple(pools), jobs=tuple(jobs)), PROFILES)


def placed(plan: Plan) -> dict[str, str]:
    """job id → the label-like `site/pool` it was placed on."""
    return {p.job_id: p.pool_id.removeprefix("pool-") for p in plan.placements}


def test_a_job_that_fits_is_placed_with_what_it_holds_per_node() -> None:
    plan = run([pool(nodes=2)], [job(accelerators="A100:8", nodes=2, cpus=16, memory_mib=1024)])
    [placement] = plan.placements
    assert (placement.job_id, placement.pool_id, placement.site_id) == ("j1", "pool-pku/a100", "site-pku")
    assert placement.accelerator == "A100"
    assert placement.per_node == Vector(8, 16, 1024)
    assert placement.nodes == (0, 1)
    assert plan.waiting == {}
    assert plan.reasons("j1") == ()


@pytest.mark.parametrize(
    ("the_pool", "the_job", "code", "reason"),
    [
        pytest.param(
            pool(accelerator="A100"),
            job(accelerators="H100:8|H800:8"),
            Code.UNRESOLVABLE,
            "needs H100 or H800; pool offers A100",
            id="unknown-model",
        ),
        pytest.param(
            pool(accelerator=None, per_node=CPU_NODE),
            job(accelerators="A100:1"),
            Code.UNRESOLVABLE,
            "needs A100; pool offers no accelerators",
            id="cpu-pool-for-gpu-job",
        ),
        pytest.param(
            pool(per_node=Vector(4, 64, 512 * 1024)),
            job(accelerators="A100:8"),
            Code.UNRESOLVABLE,
            "needs 8×A100 on one node; nodes have 4",
            id="too-many-accelerators-per-node",
        ),
        pytest.param(
            pool(),
            job(cpus=65),
            Code.UNRESOLVABLE,
            "needs 65 CPUs per node; nodes have 64",
            id="too-many-cpus",
        ),
        pytest.param(
            pool(),
            job(memory_mib=600 * 1024),
            Code.UNRESOLVABLE,
            "needs 600 GiB per node; nodes have 512 GiB",
            id="too-much-memory",
        ),
        pytest.param(
            pool(),
            job(memory_mib=512 * 1024 + 1),
            Code.UNRESOLVABLE,
            f"needs {512 * 1024 + 1} MiB per node; nodes have {512 * 1024} MiB",
            id="too-much-memory-by-less-than-shown",
        ),
        pytest.param(
            pool(nodes=4),
            job(nodes=5),
            Code.UNRESOLVABLE,
            "needs 5 nodes; pool has 4",
            id="gang-larger-than-pool",
        ),
        pytest.param(
            pool(),
            job(sites=("tsinghua",)),
            Code.UNRESOLVABLE,
            "site pku is not in constraints.sites",
            id="site",
        ),
        pytest.param(
            pool(region="cn-south"),
            job(regions=("cn-north",)),
            Code.UNRESOLVABLE,
            "region cn-south is not in constraints.regions",
            id="region",
        ),
        pytest.param(
            pool(online=False),
            job(),
            Code.UNSCHEDULABLE,
            "site pku is offline (no word from its agent)",
            id="offline-site",
        ),
        pytest.param(
            pool(online=False, stopped=True),
            job(),
            Code.UNSCHEDULABLE,
            "site pku is stopped (its agent stopped; it takes work again when an agent syncs)",
            id="stopped-site",
        ),
        pytest.param(
            pool(free=(Vector(4, 64, 512 * 1024), Vector(2, 64, 512 * 1024))),
            job(accelerators="A100:8", cpus=8, memory_mib=1024),
            Code.UNSCHEDULABLE,
            f"needs 8×A100, 8 CPU, 1024 MiB on one node; largest free block 4×A100, 64 CPU, {512 * 1024} MiB",
            id="busy-names-largest-free-block",
        ),
        pytest.param(
            pool(free=(GPU_NODE, GPU_NODE - Vector(1, 0, 0), GPU_NODE, GPU_NODE - Vector(8, 0, 0))),
            job(accelerators="A100:8", nodes=3, cpus=8, memory_mib=1024),
            Code.UNSCHEDULABLE,
            "needs 3 nodes with 8×A100, 8 CPU, 1024 MiB free; 2 such nodes now",
            id="gang-not-enough-free-nodes",
        ),
    ],
)
def test_a_job_that_does_not_fit_waits_with_a_reason(
    the_pool: PoolView, the_job: PendingJob, code: Code, reason: str
) -> None:
    plan = run([the_pool], [the_job])
    assert plan.placements == ()
    assert plan.reasons(the_job.id) == (PoolVerdict(the_pool.label, code, reason),)


def test_the_most_fundamental_reason_wins() -> None:
    # Wrong model, offline and full all at once: the user is told about the model.
    offline_full = pool(accelerator="V100", online=False, free=(Vector(),))
    [verdict] = run([offline_full], [job(accelerators="A100:8")]).reasons("j1")
    assert verdict.reason == "needs A100; pool offers V100"


def test_a_gang_is_all_or_nothing_and_never_split_across_pools() -> None:
    two_free_each = [pool("pku/a", nodes=2), pool("thu/b", nodes=2)]
    plan = run(two_free_each, [job(nodes=3)])
    assert plan.placements == ()
    assert [v.pool for v in plan.reasons("j1")] == ["pku/a", "thu/b"]


def test_capacity_taken_earlier_in_the_cycle_is_not_given_twice() -> None:
    one_node = pool(nodes=1)
    plan = run([one_node], [job("first", age_s=20), job("second", age_s=10)])
    assert placed(plan) == {"first": "pku/a100"}
    [verdict] = plan.reasons("second")
    assert verdict.code is Code.UNSCHEDULABLE
    assert "largest free block 0×A100" in verdict.reason


def test_jobs_share_a_node_while_it_has_room() -> None:
    plan = run([pool(nodes=1)], [job(f"j{i}", accelerators="A100:2", cpus=16) for i in range(5)])
    assert sorted(placed(plan)) == ["j0", "j1", "j2", "j3"]
    assert all(p.nodes == (0,) for p in plan.placements)
    assert "largest free block 0×A100, 0 CPU" in plan.reasons("j4")[0].reason


@pytest.mark.parametrize(
    ("jobs", "winner"),
    [
        pytest.param([job("old", age_s=60), job("urgent", priority=5)], "urgent", id="priority-beats-age"),
        pytest.param([job("new", age_s=1), job("old", age_s=60)], "old", id="older-first-at-equal-priority"),
        pytest.param([job("b"), job("a")], "a", id="id-breaks-a-tie"),
    ],
)
def test_who_gets_the_last_node(jobs: list[PendingJob], winner: str) -> None:
    assert list(placed(run([pool(nodes=1)], jobs))) == [winner]


def test_a_job_lost_on_a_site_is_placed_elsewhere_when_it_can() -> None:
    pools = [pool("alpha/a100"), pool("beta/a100")]
    assert placed(run(pools, [job()])) == {"j1": "alpha/a100"}
    assert placed(run(pools, [job(avoid_sites=frozenset({"alpha"}))])) == {"j1": "beta/a100"}


def test_a_job_lost_on_the_only_site_that_fits_still_runs_there() -> None:
    pools = [pool("alpha/a100"), pool("beta/h100", accelerator="H100")]
    assert placed(run(pools, [job(avoid_sites=frozenset({"alpha"}))])) == {"j1": "alpha/a100"}


def test_a_cpu_only_job_prefers_a_cpu_pool_and_leaves_gpus_to_gpu_jobs() -> None:
    pools = [pool("alpha/gpu"), pool("beta/cpu", accelerator=None, per_node=CPU_NODE)]
    plan = run(pools, [job("cpu", accelerators=""), job("gpu")])
    assert placed(plan) == {"cpu": "beta/cpu", "gpu": "alpha/gpu"}


def test_a_cpu_only_job_uses_a_gpu_pool_when_no_cpu_pool_fits() -> None:
    pools = [pool("alpha/gpu"), pool("beta/cpu", accelerator=None, per_node=CPU_NODE, online=False)]
    [placement] = run(pools, [job(accelerators="")]).placements
    assert placement.pool_id == "pool-alpha/gpu"
    assert (placement.accelerator, placement.per_node.accelerators) == (None, 0)


def test_the_pool_matching_an_alternative_is_used_with_that_alternatives_count() -> None:
    [placement] = run([pool(accelerator="A100")], [job(accelerators="H100:4|A100:8")]).placements
    assert (placement.accelerator, placement.per_node.accelerators) == ("A100", 8)


def test_equal_pools_are_chosen_by_label_so_plans_are_reproducible() -> None:
    pools = [pool("zeta/a100"), pool("alpha/a100"), pool("mu/a100")]
    assert placed(run(pools, [job()])) == {"j1": "alpha/a100"}


def test_nodes_are_chosen_best_fit() -> None:
    partly_used = pool(free=(GPU_NODE, GPU_NODE - Vector(6, 0, 0), GPU_NODE - Vector(4, 0, 0)))
    plan = run([partly_used], [job("small", accelerators="A100:2"), job("big", accelerators="A100:8")])
    nodes = {p.job_id: p.nodes for p in plan.placements}
    assert nodes == {"small": (1,), "big": (0,)}


def test_an_unknown_objective_is_scheduled_as_balanced() -> None:
    assert placed(run([pool()], [job(objective="fanciest")])) == {"j1": "pku/a100"}


def test_with_no_pools_every_job_waits_for_the_network() -> None:
    plan = run([], [job("a"), job("b")])
    assert plan.placements == ()
    for job_id in ("a", "b"):
        assert plan.reasons(job_id) == (
            PoolVerdict(
                "(network)",
                Code.UNSCHEDULABLE,
                "no pool is open to new work: no site has offered one yet, or every site that has is disabled",
            ),
        )


# --- invariants over random networks -------------------------------------------------------------------

MODELS = ("A100", "H100", None)


@st.composite
def pools_strategy(draw: st.DrawFn) -> list[PoolView]:
    out = []
    for i in range(draw(st.integers(0, 4))):
        model = draw(st.sampled_from(MODELS))
        per_node = Vector(8 if model else 0, 16, 16)
        used = st.builds(
            Vector, st.integers(0, per_node.accelerators), st.integers(0, 16), st.integers(0, 16)
        )
        free = [per_node - draw(st.one_of(st.just(Vector()), used)) for _ in range(draw(st.integers(0, 4)))]
        site = draw(st.sampled_from("abc"))
        online = draw(st.sampled_from([True, True, True, False]))
        out.append(pool(f"{site}/p{i}", model, per_node=per_node, free=tuple(free), online=online))
    return out


@st.composite
def jobs_strategy(draw: st.DrawFn) -> list[PendingJob]:
    out = []
    for i in range(draw(st.integers(0, 8))):
        models = draw(st.lists(st.sampled_from(MODELS[:2]), max_size=2, unique=True))
        out.append(
            job(
                f"j{i}",
                "|".join(f"{m}:{draw(st.integers(1, 8))}" for m in models),
                nodes=draw(st.integers(1, 3)),
                cpus=draw(st.integers(1, 12)),
                memory_mib=draw(st.integers(1, 12)),
                priority=draw(st.integers(0, 2)),
                age_s=draw(st.integers(0, 3)),
                avoid_sites=frozenset(draw(st.lists(st.sampled_from("abc"), max_size=2))),
            )
        )
    return out


@settings(max_examples=300, deadline=None)
@given(pools_strategy(), jobs_strategy())
def test_a_plan_never_overcommits_and_accounts_for_every_job(
    pools: list[PoolView], jobs: list[PendingJob]
) -> None:
    plan = run(pools, jobs)
    by_id = {p.id: p for p in pools}
    jobs_by_id = {j.id: j for j in jobs}
    taken: defaultdict[tuple[str, int], Vector] = defaultdict(Vector)
    for placement in plan.placements:
        the_pool, the_job = by_id[placement.pool_id], jobs_by_id[placement.job_id]
        assert the_pool.online
        assert len(set(placement.nodes)) == len(placement.nodes) == the_job.resources.nodes
        assert placement.accelerator == the_pool.accelerator or not the_job.resources.accelerators
        for node in placement.nodes:
            taken[placement.pool_id, node] += placement.per_node
    for (pool_id, node), used in taken.items():
        assert used.fits_in(by_id[pool_id].free[node]), f"{pool_id} node {node} given {used}"

    placed_ids = [p.job_id for p in plan.placements]
    assert len(placed_ids) == len(set(placed_ids))
    assert set(placed_ids) | set(plan.waiting) == set(jobs_by_id)
    assert not set(placed_ids) & set(plan.waiting)
    for job_id, verdicts in plan.waiting.items():
        expected = [p.label for p in pools] or ["(network)"]
        assert [v.pool for v in verdicts] == expected, job_id
        assert all(v.code is not Code.OK and v.reason for v in verdicts)
