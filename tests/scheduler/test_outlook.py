"""Expected starts with the queue ahead (`outlook.py`), on small pools checked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from suanli.domain.resources import AcceleratorOption, Resources, Vector
from suanli.scheduler import PROFILES, PendingJob, PoolView
from suanli.scheduler.outlook import AHEAD_LIMIT, outlook
from suanli.scheduler.snapshot import Release

NOW = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)
NODE = Vector(4, 64, 512 * 1024)
H = 3600


def job(name: str, gpus: int, runtime: int | None, model: str = "A100") -> PendingJob:
    resources = Resources((AcceleratorOption(model, gpus),), 1, 1, 1024, runtime)
    return PendingJob(name, resources, NOW)


def pool(name: str, used: int = 0, until: datetime | None = None, model: str = "A100") -> PoolView:
    """One node of 4 GPUs; `used` of them held by an attempt that ends at `until` (None: unknown)."""
    free = (NODE - Vector(used, 1 if used else 0, 1024 if used else 0),)
    releases = (Release(until, (0,), Vector(used, 1, 1024)),) if used else ()
    return PoolView(name, "s", "site", name, model, NODE, free, releases=releases)


def at(hours: float) -> datetime:
    return datetime(2026, 11, 25, 12, 0, tzinfo=UTC) + timedelta(hours=hours)


BUSY = pool("p", used=3, until=at(2))  # 3 of 4 GPUs busy until 14:00; it is 12:30


def starts(quoted: PendingJob, pools: list[PoolView], ahead: list[PendingJob]) -> dict[str, datetime | None]:
    return outlook(quoted, pools, ahead, PROFILES, NOW).starts


def test_alone_a_job_starts_when_running_work_reaches_its_max_runtime() -> None:
    assert starts(job("q", 1, None), [BUSY], []) == {"p": NOW}
    assert starts(job("q", 2, None), [BUSY], []) == {"p": at(2)}


def test_a_job_ahead_takes_its_turn_first() -> None:
    ahead = [job("a", 4, H)]  # starts 14:00 when the pool empties, ends 15:00
    assert starts(job("q", 1, None), [BUSY], ahead) == {"p": at(3)}  # no max_runtime: no backfill
    assert starts(job("q", 1, 2 * H), [BUSY], ahead) == {"p": at(3)}  # would run into a's start


def test_a_short_job_backfills_before_the_job_ahead() -> None:
    ahead = [job("a", 4, H)]
    assert starts(job("q", 1, H), [BUSY], ahead) == {"p": NOW}  # 12:30–13:30 ends before 14:00


def test_a_job_ahead_without_a_max_runtime_holds_the_pool_for_good() -> None:
    assert starts(job("q", 1, None), [BUSY], [job("a", 4, None)]) == {"p": None}


def test_jobs_ahead_go_where_they_start_soonest() -> None:
    late = pool("late", used=4, until=at(5))
    soon = pool("soon", used=4, until=at(1))
    seen = starts(job("q", 4, None), [late, soon], [job("a", 4, 2 * H)])
    assert seen == {"late": at(5), "soon": at(3)}  # a runs on soon 13:00–15:00


def test_jobs_ahead_only_count_where_they_could_run() -> None:
    h100 = pool("h100", used=0, model="H100")
    seen = starts(job("q", 4, None, model="A100"), [BUSY, h100], [job("a", 4, H, model="H100")])
    assert seen["p"] == at(2)  # a needs an H100: it does not queue on the A100 pool


def test_the_projection_counts_at_most_the_limit() -> None:
    ahead = [job(f"a{i}", 1, H) for i in range(AHEAD_LIMIT + 5)]
    found = outlook(job("q", 1, None), [pool("p")], ahead, PROFILES, NOW)
    assert (found.ahead, found.projected) == (AHEAD_LIMIT + 5, AHEAD_LIMIT)
