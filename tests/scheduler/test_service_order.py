"""The `service` queue order and its preemption rule: seed pools, pending and running jobs, run one
cycle, assert on the plan (`scheduler/service.py`, `order.py`, `reserve.py`)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from suanli.domain.resources import AcceleratorOption, Resources, Vector
from suanli.scheduler import PROFILES, PendingJob, PoolView, Snapshot, schedule, service
from suanli.scheduler.snapshot import Running

T0 = datetime(2025, 1, 1, tzinfo=UTC)
NODE = Vector(8, 64, 512 * 1024)
HOUR = 3600.0


def pool(free: int = 8) -> PoolView:
    return PoolView(
        id="p",
        site_id="s",
        site="s",
        name="a100",
        accelerator="A100",
        per_node=NODE,
        free=(Vector(free, 64, 512 * 1024),),
    )


def job(
    id: str,
    gpus: int = 1,
    *,
    age_s: float = 60,
    ran_s: float = 0,
    expected_s: float | None = None,
    org: str = "a",
    preemptible: bool = True,
) -> PendingJob:
    return PendingJob(
        id=id,
        resources=Resources((AcceleratorOption("A100", gpus),), 1, 0, 0),
        created_at=T0 - timedelta(seconds=age_s),
        org_id=org,
        project_id=org,
        preemptible=preemptible,
        ran_s=ran_s,
        expected_s=expected_s,
    )


def running(
    id: str,
    gpus: int = 8,
    *,
    ran_s: float = 0,
    started_ago_s: float = 10 * HOUR,
    waited_s: float = 0,
    preemptible: bool = True,
) -> Running:
    started = T0 - timedelta(seconds=started_ago_s)
    return Running(
        attempt_id=f"{id}/1",
        job_id=id,
        pool_id="p",
        nodes=(0,),
        per_node=Vector(gpus, 0, 0),
        accelerator="A100",
        org_id="b",
        project_id="b",
        preemptible=preemptible,
        started_at=started,
        created_at=started - timedelta(seconds=waited_s + ran_s),
        ran_s=ran_s,
    )


def cycle(
    jobs: list[PendingJob], free: int = 8, run: tuple[Running, ...] = (), order: str = "service"
) -> list[str]:
    plan = schedule(
        Snapshot(now=T0, pools=(pool(free),), jobs=tuple(jobs), running=run, order=order), PROFILES
    )
    return [p.job_id for p in plan.placements]


@pytest.mark.parametrize(
    ("service_s", "band"),
    [(0, 0), (HOUR - 1, 0), (HOUR, 1), (4 * HOUR - 1, 1), (4 * HOUR, 2), (64 * HOUR, 4)],
)
def test_the_ladder_has_a_rung_every_factor_of_four(service_s: float, band: int) -> None:
    assert service.band(service_s) == band


def test_less_service_goes_first_then_smaller_expected_work() -> None:
    jobs = [
        job("had-5h", ran_s=5 * HOUR, age_s=6 * HOUR),
        job("new-long", expected_s=10 * HOUR),
        job("new-short", expected_s=HOUR),
        job("new-unknown"),
    ]
    assert cycle(jobs, free=3) == ["new-short", "new-long", "new-unknown"]


def test_an_aged_job_goes_after_new_ones_and_before_those_with_more_service() -> None:
    bound = service.ageing_bound_s(None, 5 * HOUR)
    aged = job("aged", ran_s=5 * HOUR, age_s=bound + 5 * HOUR + 1)
    more = job("more", ran_s=2 * HOUR, age_s=3 * HOUR)
    assert service.is_aged(aged, T0) and not service.is_aged(more, T0)
    assert cycle([more, job("new"), aged], free=2) == ["new", "aged"]


def test_a_new_job_evicts_a_preemptible_job_with_more_service() -> None:
    plan = schedule(
        Snapshot(
            now=T0, pools=(pool(0),), jobs=(job("new", 8),), running=(running("long"),), order="service"
        ),
        PROFILES,
    )
    assert [p.job_id for p in plan.preemptions] == ["long"]
    assert "less service" in plan.preemptions[0].reason
    (reservation,) = plan.reservations
    assert reservation.job_id == "new" and reservation.at == T0


@pytest.mark.parametrize(
    "victim",
    [
        running("not-preemptible", preemptible=False),
        running("aged-when-started", waited_s=service.ageing_bound_s(None, 0) + 1, started_ago_s=HOUR),
        running("same-band", started_ago_s=60),
    ],
)
def test_no_eviction_of_what_may_not_be_evicted(victim: Running) -> None:
    plan = schedule(
        Snapshot(now=T0, pools=(pool(0),), jobs=(job("new", 8),), running=(victim,), order="service"),
        PROFILES,
    )
    assert plan.preemptions == ()
    assert plan.reservations == ()  # a job that is not aged never holds capacity idle


def test_under_las_a_job_past_the_first_rung_never_ages() -> None:
    # The same queue as the ageing test: under `las` the job past its bound has had 5 h of service,
    # so it stays behind the one with less (ADR 0019), and an attempt that started past the first
    # rung is not protected, even if it had waited past its bound.
    bound = service.ageing_bound_s(None, 5 * HOUR)
    aged = job("aged", ran_s=5 * HOUR, age_s=bound + 5 * HOUR + 1)
    more = job("more", ran_s=2 * HOUR, age_s=3 * HOUR)
    assert cycle([more, job("new"), aged], free=2, order="las") == ["new", "more"]
    assert service.pending_rank(aged, T0, every_band=False) == service.AGED + service.band(5 * HOUR)
    was_aged = running("was-aged", ran_s=2 * HOUR, waited_s=service.ageing_bound_s(None, 2 * HOUR) + 1)
    assert service.protected_until(was_aged) is not None
    assert service.protected_until(was_aged, every_band=False) is None
    plan = schedule(
        Snapshot(now=T0, pools=(pool(0),), jobs=(job("new", 8),), running=(was_aged,), order="las"), PROFILES
    )
    assert [p.job_id for p in plan.preemptions] == ["was-aged"]


def test_under_las_a_job_below_the_first_rung_ages_and_reserves() -> None:
    # A 2-GPU job that has waited past its bound with no service yet is aged: a new 1-GPU job with
    # less expected work still goes first, but the wide one holds the pool's capacity for itself
    # rather than wait behind such jobs for ever.
    wide = job("wide", 2, age_s=service.ageing_bound_s(None, 0, 2, every_band=False) + 1)
    busy = (running("busy", 7, started_ago_s=60),)
    small = job("small", expected_s=HOUR)
    plan = schedule(
        Snapshot(now=T0, pools=(pool(1),), jobs=(wide, small), running=busy, order="las"), PROFILES
    )
    assert [p.job_id for p in plan.placements] == ["small"]
    assert [r.job_id for r in plan.reservations] == ["wide"]
    young = job("young", 2, age_s=60)
    plan = schedule(
        Snapshot(now=T0, pools=(pool(1),), jobs=(young, small), running=busy, order="las"), PROFILES
    )
    assert plan.reservations == ()


@pytest.mark.parametrize(
    ("gpus", "expected_s", "las_bound_s"),
    [(1, None, 2 * HOUR), (8, None, 2 * HOUR / 8), (8, HOUR, 2 * HOUR), (2, 10 * 60, 2 * HOUR / 2)],
)
def test_under_las_the_ageing_floor_is_the_time_of_the_first_rung(
    gpus: int, expected_s: float | None, las_bound_s: float
) -> None:
    # One accelerator-hour over the job's accelerators, so a wide job ages as soon, in
    # accelerator-hours of waiting, as a narrow one; `service` keeps its floor of an hour.
    assert service.ageing_bound_s(expected_s, 0, gpus, every_band=False) == pytest.approx(las_bound_s)
    assert service.ageing_bound_s(expected_s, 0, gpus) == 2 * max(expected_s or 0, HOUR)
    wide = job("wide", gpus, age_s=las_bound_s + 1, expected_s=expected_s)
    assert service.is_aged(wide, T0, every_band=False)
    assert not service.is_aged(replace(wide, created_at=T0 - timedelta(seconds=las_bound_s - 1)), T0, False)


def test_under_las_an_aged_wide_job_keeps_its_place_by_fair_share() -> None:
    # Tenant b holds 7 GPUs; tenant a's aged 2-GPU job has the lower share, so under `las` it comes
    # before b's new job and its reservation keeps the free GPU for it. Under `service` an aged job
    # goes after every new one, and b's job takes the GPU; so it does under `las` for an aged 1-GPU
    # job, which fit-first never keeps out by width.
    wide = job("wide", 2, age_s=3 * HOUR)
    theirs = job("theirs", org="b", expected_s=60)
    busy = (running("busy", 7, started_ago_s=60),)
    plan = schedule(
        Snapshot(now=T0, pools=(pool(1),), jobs=(theirs, wide), running=busy, order="las"), PROFILES
    )
    assert plan.placements == () and [r.job_id for r in plan.reservations] == ["wide"]
    plan = schedule(
        Snapshot(now=T0, pools=(pool(1),), jobs=(theirs, wide), running=busy, order="service"), PROFILES
    )
    assert [p.job_id for p in plan.placements] == ["theirs"]
    assert service.queue_rank(wide, T0, every_band=False) == service.queue_rank(theirs, T0, every_band=False)
    narrow = job("narrow", age_s=3 * HOUR)
    plan = schedule(
        Snapshot(now=T0, pools=(pool(1),), jobs=(theirs, narrow), running=busy, order="las"), PROFILES
    )
    assert [p.job_id for p in plan.placements] == ["theirs"]
    assert service.is_aged(narrow, T0, every_band=False)


@pytest.mark.parametrize(
    "victim",
    [
        running("not-preemptible", preemptible=False),
        running("between-checkpoints", started_ago_s=HOUR + 10 * 60),
        running("same-band", started_ago_s=60),
    ],
)
def test_las_evicts_neither_what_cannot_resume_nor_between_checkpoints(victim: Running) -> None:
    victim = replace(victim, checkpoint_s=30 * 60) if victim.job_id == "between-checkpoints" else victim
    plan = schedule(
        Snapshot(now=T0, pools=(pool(0),), jobs=(job("new", 8),), running=(victim,), order="las"), PROFILES
    )
    assert plan.preemptions == () and plan.reservations == ()


ALONE = job("alone", 8, age_s=60, expected_s=600)  # has waited 1 min, expects to run 10


@pytest.mark.parametrize(
    ("waiting", "order", "evicts"),
    [
        ((ALONE,), "las", False),  # alone: every GPU that frees is its own, so it waits (ADR 0025)
        ((replace(ALONE, created_at=T0 - timedelta(seconds=600)),), "las", True),  # waited its 10 min
        ((replace(ALONE, expected_s=None),), "las", True),  # nothing expected: evicts at once, as LAS
        ((ALONE, job("other", 8, age_s=30, expected_s=600)), "las", True),  # not alone
        ((replace(ALONE, priority=1),), "las", True),  # a higher priority still evicts
        ((ALONE,), "service", True),  # the `service` order is unchanged
    ],
)
def test_under_las_a_job_waiting_alone_holds_back_from_evicting_for_its_expected_run_time(
    waiting: tuple[PendingJob, ...], order: str, evicts: bool
) -> None:
    plan = schedule(
        Snapshot(now=T0, pools=(pool(0),), jobs=waiting, running=(running("long"),), order=order), PROFILES
    )
    assert [p.job_id for p in plan.preemptions] == (["long"] if evicts else [])


def test_the_fair_order_is_unchanged_by_service_fields() -> None:
    jobs = (job("old", age_s=100, ran_s=50 * HOUR), job("new", age_s=10))
    plan = schedule(Snapshot(now=T0, pools=(pool(1),), jobs=jobs, running=(running("r", 7),)), PROFILES)
    assert [p.job_id for p in plan.placements] == ["old"] and plan.preemptions == ()


def test_why_a_job_waits_names_who_is_ahead_and_when_it_is_promoted() -> None:
    mine = job("mine", expected_s=4 * HOUR, ran_s=0, age_s=HOUR)
    queue = [
        mine,
        job("b1", org="B", expected_s=HOUR),
        job("b2", org="B", expected_s=HOUR),
        job("b3", org="B", expected_s=2 * HOUR),
        job("later", org="C", expected_s=8 * HOUR),
        job("had-more", org="C", ran_s=3 * HOUR, age_s=4 * HOUR),
    ]
    text = service.explain_wait(mine, queue, T0)
    bound = service.ageing_bound_s(4 * HOUR, 0)
    assert text == (
        "waiting behind 3 jobs with less service or shorter expected work (3 of tenant B); "
        f"promoted in {(bound - HOUR) / HOUR:.0f} h by the ageing rule"
    )


def test_why_a_job_waits_under_las_says_a_job_past_the_first_rung_is_not_promoted() -> None:
    had = job("had-2h", ran_s=2 * HOUR, age_s=3 * HOUR)
    queue = [had, job("new", org="B"), job("had-5h", org="C", ran_s=5 * HOUR, age_s=6 * HOUR)]
    assert service.explain_wait(had, queue, T0, every_band=False) == (
        "waiting behind 1 job with less service or shorter expected work (1 of tenant B); "
        "it has had an accelerator-hour, so it is not promoted"
    )
    assert "promoted in" in service.explain_wait(job("fresh"), queue, T0, every_band=False)
    aged = job("aged", 8, org="D", age_s=HOUR, expected_s=60)  # past 2 × 1/8 h
    assert service.explain_wait(aged, [*queue, aged], T0, every_band=False) == (
        "it has waited past its ageing bound: it holds room for itself and may evict jobs past the "
        "first rung; 0 jobs are ahead of it"
    )


def test_why_a_job_waiting_alone_under_las_says_it_holds_back_from_evicting() -> None:
    alone = job("alone", 4, age_s=HOUR, expected_s=3 * HOUR)
    assert service.explain_wait(alone, [alone], T0, every_band=False) == (
        "no waiting job goes before it in the queue order; "
        "promoted in 5 h by the ageing rule; it waits alone, so every accelerator that frees is its "
        "own: it evicts no job for service for 2 h more (its expected run time)"
    )
    assert "alone" not in service.explain_wait(alone, [alone, job("other", org="B")], T0, every_band=False)
    assert "alone" not in service.explain_wait(alone, [alone], T0)  # `service`: no hold-back


def test_why_a_cpu_job_waits_speaks_of_no_accelerators() -> None:
    cpu = replace(job("cpu", age_s=HOUR, expected_s=3 * HOUR), resources=Resources((), 1, 2, 0))
    assert service.explain_wait(cpu, [cpu], T0, every_band=False) == (
        "no waiting job goes before it in the queue order; "
        "promoted in 5 h by the ageing rule; it waits alone, so all capacity that frees is its own: "
        "it evicts no job for service for 2 h more (its expected run time)"
    )
    had = replace(job("had", ran_s=2 * HOUR, age_s=3 * HOUR), resources=Resources((), 1, 2, 0))
    assert "it has had an hour of service, so it is not promoted" in service.explain_wait(
        had, [had, job("b", org="B")], T0, every_band=False
    )


def _gathering(preemptible_rest: bool = True) -> Snapshot:
    # An 8-GPU pool held by four 2-GPU attempts, each past its first rung and checkpointing every
    # 30 minutes: "a" is just past a checkpoint, the others between two. A wide job has aged.
    half = 30 * 60
    a = replace(running("a", 2, started_ago_s=2 * half + 30), checkpoint_s=half)
    rest = tuple(
        replace(running(n, 2, started_ago_s=2 * half + 600, preemptible=preemptible_rest), checkpoint_s=half)
        for n in ("b", "c", "d")
    )
    wide = job("wide", 8, age_s=2 * HOUR)
    assert service.is_aged(wide, T0, every_band=False)
    return Snapshot(now=T0, pools=(pool(0),), jobs=(wide,), running=(a, *rest), order="las")


def test_an_aged_wide_job_gathers_its_room_one_checkpoint_at_a_time() -> None:
    # No instant has all four just past a checkpoint, so the job would wait for ever for a full set.
    # It evicts the one it may evict now and reserves the room, from an unknown start (ADR 0022).
    plan = schedule(_gathering(), PROFILES)
    assert [p.attempt_id for p in plan.preemptions] == ["a/1"]
    assert "waited past its ageing bound" in plan.preemptions[0].reason
    (reservation,) = plan.reservations
    assert (reservation.job_id, reservation.at, reservation.preempting) == ("wide", None, ("a/1",))


def test_an_aged_job_gathers_nothing_where_it_could_never_fit() -> None:
    # The other three cannot resume: evicting "a" would free room the wide job could never complete.
    plan = schedule(_gathering(preemptible_rest=False), PROFILES)
    assert plan.preemptions == ()
