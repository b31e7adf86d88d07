"""The `fragmentation` score: jobs go to nodes their size, so big nodes stay whole for big jobs."""

from datetime import UTC, datetime

from suanli.domain.resources import AcceleratorOption, Resources, Vector
from suanli.scheduler import PROFILES, PendingJob, PoolView, Snapshot, schedule

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def pool(name: str, gpus_per_node: int, nodes: int) -> PoolView:
    node = Vector(gpus_per_node, 64, 512 * 1024)
    return PoolView(f"pool-{name}", f"site-{name}", name, "gpu", "A100", node, (node,) * nodes)


def job(name: str, gpus: int, at: int = 0) -> PendingJob:
    resources = Resources((AcceleratorOption("A100", gpus),), 1, 1, 1024, 3600)
    return PendingJob(name, resources, T0.replace(second=at))


SMALL, BIG = pool("small", 1, 8), pool("big", 8, 1)  # the same 8 GPUs, as 8 × 1 or 1 × 8


def placed(*jobs: PendingJob) -> dict[str, str]:
    plan = schedule(Snapshot(T0, (BIG, SMALL), jobs), PROFILES)
    return {p.job_id: p.pool_id for p in plan.placements}


def test_a_one_gpu_job_leaves_the_eight_gpu_node_whole() -> None:
    assert placed(job("one", 1)) == {"one": "pool-small"}


def test_small_jobs_first_do_not_break_the_big_node_that_a_later_big_job_needs() -> None:
    jobs = [job(f"s{i}", 1, at=i) for i in range(4)] + [job("eight", 8, at=10)]
    assert placed(*jobs) == {
        "s0": "pool-small",
        "s1": "pool-small",
        "s2": "pool-small",
        "s3": "pool-small",
        "eight": "pool-big",
    }
