"""One cycle with fair share, priority, quotas, funds, reservations and preemption: seed, run, assert."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.money import Money
from suanli.domain.resources import AcceleratorOption, Resources, Vector
from suanli.scheduler import PROFILES, PendingJob, PoolView, Snapshot, schedule
from suanli.scheduler.order import QUEUE_ORDERS
from suanli.scheduler.snapshot import BudgetCap, Quota, Running, Usage

T0 = datetime(2025, 1, 1, tzinfo=UTC)
NODE = Vector(8, 64, 512 * 1024)


def pool(label: str = "s/a100", nodes: int = 1, free: tuple[Vector, ...] | None = None) -> PoolView:
    site, name = label.split("/")
    return PoolView(
        id=f"pool-{label}",
        site_id=f"site-{site}",
        site=site,
        name=name,
        accelerator="A100",
        per_node=NODE,
        free=free if free is not None else (NODE,) * nodes,
    )


def job(
    id: str,
    gpus: int = 8,
    *,
    org: str = "org-a",
    project: str = "",
    age_s: int = 0,
    priority: int = 0,
    runtime_s: int | None = 3600,
    nodes: int = 1,
    preemptible: bool = False,
) -> PendingJob:
    return PendingJob(
        id=id,
        resources=Resources((AcceleratorOption("A100", gpus),), nodes, 1, 1024, runtime_s),
        created_at=T0 - timedelta(seconds=age_s),
        org_id=org,
        project_id=project or f"{org}-p",
        priority=priority,
        preemptible=preemptible,
    )


def running(
    attempt: str,
    gpus: int,
    *,
    pool_id: str = "pool-s/a100",
    org: str = "org-a",
    ends_in_s: int | None = 3600,
    priority: int = 0,
    preemptible: bool = False,
    started_ago_s: int = 600,
    node: int = 0,
) -> Running:
    return Running(
        attempt_id=attempt,
        job_id=f"job-of-{attempt}",
        pool_id=pool_id,
        nodes=(node,),
        per_node=Vector(gpus, 1, 1024),
        accelerator="A100",
        org_id=org,
        project_id=f"{org}-p",
        priority=priority,
        preemptible=preemptible,
        started_at=T0 - timedelta(seconds=started_ago_s),
        ends_at=None if ends_in_s is None else T0 + timedelta(seconds=ends_in_s),
    )


def free_after(*held: Running, nodes: int = 1) -> tuple[Vector, ...]:
    free = [NODE] * nodes
    for r in held:
        for n in r.nodes:
            free[n] = free[n] - r.per_node
    return tuple(free)


def placed(snapshot: Snapshot) -> list[str]:
    return [p.job_id for p in schedule(snapshot, PROFILES).placements]


# --- order: priority, then fair share, then age -------------------------------------------------------


def test_a_higher_priority_job_goes_first_whatever_its_age() -> None:
    jobs = (job("old", age_s=600), job("urgent", priority=100))
    assert placed(Snapshot(T0, (pool(),), jobs)) == ["urgent"]


def test_the_org_that_used_less_goes_first() -> None:
    usage = {"org-heavy": Usage(cu_h=5_000.0)}
    jobs = (job("heavy", org="org-heavy", age_s=600), job("light", org="org-light"))
    assert placed(Snapshot(T0, (pool(),), jobs, usage=usage)) == ["light"]


def test_within_one_cycle_placements_alternate_between_orgs_with_equal_shares() -> None:
    jobs = tuple(job(f"a{i}", 2, org="org-a", age_s=100 - i) for i in range(4)) + tuple(
        job(f"b{i}", 2, org="org-b", age_s=50 - i) for i in range(4)
    )
    order = placed(Snapshot(T0, (pool(),), jobs))  # 8 GPUs: room for four 2-GPU jobs
    assert sorted(order) == ["a0", "a1", "b0", "b1"]


def test_running_attempts_count_against_their_org_now() -> None:
    busy = running("r1", 4, org="org-a")
    jobs = (job("a", 4, org="org-a", age_s=600), job("b", 4, org="org-b"))
    snap = Snapshot(T0, (pool(free=free_after(busy)),), jobs, running=(busy,))
    assert placed(snap) == ["b"]


def test_projects_of_one_org_share_it_fairly() -> None:
    usage = {"org-a-p1": Usage(cu_h=900.0)}
    jobs = (job("p1", 8, project="org-a-p1", age_s=600), job("p2", 8, project="org-a-p2"))
    assert placed(Snapshot(T0, (pool(),), jobs, usage=usage)) == ["p2"]


# --- gates: quota and funds ---------------------------------------------------------------------------


def test_an_org_over_its_quota_limit_waits_with_the_reason() -> None:
    quotas = {"org-a": Quota(guaranteed_cu=Decimal(4), limit_cu=Decimal(8))}
    busy = running("r1", 4, org="org-a")
    snap = Snapshot(
        T0, (pool(nodes=2, free=free_after(busy, nodes=2)),), (job("a", 8),), running=(busy,), quotas=quotas
    )
    plan = schedule(snap, PROFILES)
    assert plan.placements == ()
    (verdict,) = plan.reasons("a")
    assert verdict.pool == "(quota)"
    assert "holds 4 CU of its 8 CU limit" in verdict.reason
    assert "borrowing limit reached" in verdict.reason


def test_quota_counts_this_cycles_placements() -> None:
    quotas = {"org-a": Quota(limit_cu=Decimal(8))}
    jobs = (job("a1", 8, age_s=2), job("a2", 8, age_s=1))
    assert placed(Snapshot(T0, (pool(nodes=2),), jobs, quotas=quotas)) == ["a1"]


def test_a_project_that_cannot_pay_the_hold_waits_for_funds() -> None:
    priced = replace(pool(nodes=2), price=Money(1000))  # 10.00 per GPU-hour: 80.00 for 8 GPUs, 1 h
    snap = Snapshot(
        T0,
        (priced,),
        (job("poor", project="p-poor"), job("rich", project="p-rich", age_s=5)),
        funds={"p-poor": Money(7999), "p-rich": Money(8000)},
    )
    plan = schedule(snap, PROFILES)
    assert [p.job_id for p in plan.placements] == ["rich"]
    (verdict,) = plan.reasons("poor")
    assert verdict.pool == "(funds)"
    assert "insufficient funds" in verdict.reason and "79.99 CNY" in verdict.reason


def test_holds_taken_in_a_cycle_reduce_what_the_project_may_still_commit() -> None:
    priced = replace(pool(nodes=2), price=Money(1000))
    jobs = (job("one", project="p", age_s=2), job("two", project="p", age_s=1))
    assert placed(Snapshot(T0, (priced,), jobs, funds={"p": Money(12_000)})) == ["one"]


# --- reservations and backfill ------------------------------------------------------------------------


def test_the_blocked_head_reserves_and_a_long_job_cannot_take_its_capacity() -> None:
    busy = running("r1", 4, ends_in_s=1800)  # 4 of 8 GPUs free now, all 8 in 30 minutes
    jobs = (job("big", 8, age_s=10), job("long", 4, runtime_s=7200))
    plan = schedule(Snapshot(T0, (pool(free=free_after(busy)),), jobs, running=(busy,)), PROFILES)
    assert plan.placements == ()
    (reservation,) = plan.reservations
    assert (reservation.job_id, reservation.at) == ("big", T0 + timedelta(seconds=1800))
    (verdict,) = plan.reasons("long")
    assert "reserved" in verdict.reason and "big" in verdict.reason


def test_a_short_job_backfills_before_the_reservation_starts() -> None:
    busy = running("r1", 4, ends_in_s=1800)
    jobs = (job("big", 8, age_s=10), job("short", 4, runtime_s=1200))
    assert placed(Snapshot(T0, (pool(free=free_after(busy)),), jobs, running=(busy,))) == ["short"]


def test_a_job_without_max_runtime_never_backfills_into_a_reservation() -> None:
    busy = running("r1", 4, ends_in_s=1800)
    jobs = (job("big", 8, age_s=10), job("open-ended", 4, runtime_s=None))
    assert placed(Snapshot(T0, (pool(free=free_after(busy)),), jobs, running=(busy,))) == []


def test_a_long_job_may_use_capacity_the_reservation_does_not_need() -> None:
    busy = running("r1", 4, ends_in_s=1800)
    pools = (pool(nodes=2, free=free_after(busy, nodes=2)),)
    jobs = (job("big", 8, age_s=10), job("long", 8, runtime_s=7200))  # node 1 is wholly free
    plan = schedule(Snapshot(T0, pools, jobs, running=(busy,)), PROFILES)
    # `big` fits node 1 now and takes it; `long` then waits: nothing backfills over a placed job.
    assert [p.job_id for p in plan.placements] == ["big"]


def test_unknown_ends_still_protect_the_blocked_head() -> None:
    busy = running("r1", 4, ends_in_s=None)
    jobs = (job("big", 8, age_s=10), job("short", 4, runtime_s=60))
    plan = schedule(Snapshot(T0, (pool(free=free_after(busy)),), jobs, running=(busy,)), PROFILES)
    assert plan.placements == ()
    assert plan.reservations[0].at is None


# --- preemption ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("order", "victim"), [("fair", "new"), ("las", "old"), ("service", "old")])
def test_a_higher_priority_job_preempts_the_newest_lower_priority_preemptible_attempts(
    order: str, victim: str
) -> None:
    # Under every queue order (the service orders' own eviction, for a job that has had less service
    # and just after a checkpoint, comes on top of priority, never instead of it). `fair` evicts the
    # newest attempt (the least work lost); the service orders the one that has had the most service.
    assert set(QUEUE_ORDERS) == {"fair", "las", "service"}
    old = running("old", 4, priority=0, preemptible=True, started_ago_s=9000, ends_in_s=None)
    new = running("new", 4, priority=0, preemptible=True, started_ago_s=60, ends_in_s=None)
    snap = Snapshot(
        T0,
        (pool(free=free_after(old, new)),),
        (job("vip", 4, priority=100),),
        running=(old, new),
        order=order,
    )
    plan = schedule(snap, PROFILES)
    assert [p.attempt_id for p in plan.preemptions] == [victim]
    assert plan.reservations[0].preempting == (victim,)
    assert "higher priority" in plan.preemptions[0].reason


def test_a_non_preemptible_attempt_is_never_evicted() -> None:
    held = running("held", 8, priority=0, preemptible=False, ends_in_s=None)
    snap = Snapshot(T0, (pool(free=free_after(held)),), (job("vip", 8, priority=100),), running=(held,))
    assert schedule(snap, PROFILES).preemptions == ()


def test_no_preemption_when_capacity_comes_back_soon_anyway() -> None:
    soon = running("soon", 8, preemptible=True, ends_in_s=60)
    snap = Snapshot(T0, (pool(free=free_after(soon)),), (job("vip", 8, priority=100),), running=(soon,))
    plan = schedule(snap, PROFILES)
    assert plan.preemptions == ()
    assert plan.reservations[0].at == T0 + timedelta(seconds=60)


@pytest.mark.parametrize("order", sorted(QUEUE_ORDERS))
def test_guaranteed_quota_is_reclaimed_from_a_borrowing_org(order: str) -> None:
    quotas = {"org-a": Quota(guaranteed_cu=Decimal(8)), "org-b": Quota(guaranteed_cu=Decimal(0))}
    borrower = running("b1", 8, org="org-b", preemptible=True, ends_in_s=None, started_ago_s=60)
    snap = Snapshot(
        T0,
        (pool(free=free_after(borrower)),),
        (job("mine", 8, org="org-a"),),
        running=(borrower,),
        quotas=quotas,
        order=order,
    )
    plan = schedule(snap, PROFILES)
    assert [p.attempt_id for p in plan.preemptions] == ["b1"]
    assert "borrows" in plan.preemptions[0].reason


def test_an_org_within_its_guarantee_does_not_evict_a_lender_that_is_not_borrowing() -> None:
    quotas = {"org-a": Quota(guaranteed_cu=Decimal(8)), "org-b": Quota(guaranteed_cu=Decimal(8))}
    own = running("b1", 8, org="org-b", preemptible=True, ends_in_s=None)
    snap = Snapshot(
        T0, (pool(free=free_after(own)),), (job("mine", 8, org="org-a"),), running=(own,), quotas=quotas
    )
    assert schedule(snap, PROFILES).preemptions == ()


def test_attempts_already_leaving_are_not_evicted_twice() -> None:
    leaving = replace(running("b1", 8, preemptible=True, ends_in_s=30), leaving=True)
    snap = Snapshot(T0, (pool(free=free_after(leaving)),), (job("vip", 8, priority=100),), running=(leaving,))
    plan = schedule(snap, PROFILES)
    assert plan.preemptions == ()
    assert plan.reservations[0].job_id == "vip"


# --- properties -----------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([1, 2, 4, 8]), st.sampled_from([600, 3600, 7200, None])), max_size=12),
    st.lists(st.tuples(st.sampled_from([1, 2, 4]), st.sampled_from([600, 1800, None])), max_size=3),
)
def test_a_reservation_is_never_delayed_by_backfill(
    queued: list[tuple[int, int | None]], held: list[tuple[int, int | None]]
) -> None:
    """Whatever else the cycle places, the reserved job still fits on its nodes at its start."""
    busy, used = [], 0
    for k, (gpus, ends) in enumerate(held):
        if used + gpus <= 8:
            busy.append(running(f"r{k}", gpus, ends_in_s=ends))
            used += gpus
    jobs = tuple(job(f"j{k:02d}", g, age_s=100 - k, runtime_s=rt) for k, (g, rt) in enumerate(queued))
    snap = Snapshot(T0, (pool(free=free_after(*busy)),), jobs, running=tuple(busy))
    plan = schedule(snap, PROFILES)
    if not plan.reservations:
        return
    (reservation,) = plan.reservations
    at = reservation.at
    free = NODE
    for r in busy:  # an unknown start (None) is when every running attempt has ended
        if at is not None and (r.ends_at is None or r.ends_at > at):
            free = free - r.per_node
    by_id = {j.id: j for j in jobs}
    for p in plan.placements:
        if p.job_id < reservation.job_id:  # ahead of it in the queue (ids follow age): not backfill
            continue
        limit = by_id[p.job_id].resources.max_runtime_s
        if at is None or limit is None or T0 + timedelta(seconds=limit) > at:
            free = free - p.per_node
    assert reservation.per_node.fits_in(free)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from([0, 4, 8]), min_size=1, max_size=3),
    st.lists(st.tuples(st.sampled_from(["org-a", "org-b"]), st.sampled_from([2, 4, 8])), max_size=8),
)
def test_a_guaranteed_quota_is_always_reclaimable(borrowed: list[int], wanted: list[tuple[str, int]]) -> None:
    """org-a is guaranteed 8 CU and holds nothing; org-b borrows everything with preemptible jobs.
    A job of org-a within its guarantee is placed, reserved on room being freed, or preempts."""
    quotas = {"org-a": Quota(guaranteed_cu=Decimal(8)), "org-b": Quota()}
    attempts = []
    for n, g in enumerate(borrowed):
        if g:
            attempts.append(running(f"b{n}", g, org="org-b", preemptible=True, ends_in_s=None, node=n))
    pools = (pool(nodes=len(borrowed), free=free_after(*attempts, nodes=len(borrowed))),)
    jobs = (
        job("mine", 8, org="org-a", age_s=1),
        *tuple(job(f"w{k}", g, org=o, age_s=0) for k, (o, g) in enumerate(wanted)),
    )
    plan = schedule(Snapshot(T0, pools, jobs, running=tuple(attempts), quotas=quotas), PROFILES)
    placed_ = {p.job_id for p in plan.placements}
    reserved = {r.job_id for r in plan.reservations if r.at == T0}
    assert "mine" in placed_ or "mine" in reserved


def test_a_queued_job_waits_when_its_hold_exceeds_what_a_hard_capped_budget_leaves() -> None:
    """Two jobs of one project, 80.00 each; funds for both, a hard cap leaving 100.00: the first
    takes 80.00 of it, the second waits, naming the budget, not the funds."""
    priced = replace(pool(nodes=2), price=Money(1000))  # 10.00 per GPU-hour: 80.00 for 8 GPUs, 1 h
    cap = BudgetCap(left=Money(10_000), budget=Money(50_000), month="2026-11")
    snap = Snapshot(
        T0,
        (priced,),
        (job("first", project="p", age_s=5), job("second", project="p")),
        funds={"p": Money(1_000_000)},
        caps={"p": cap},
    )
    plan = schedule(snap, PROFILES)
    assert [p.job_id for p in plan.placements] == ["first"]
    (verdict,) = plan.reasons("second")
    assert verdict.pool == "(budget)" and plan.held_back == {"second": "budget"}
    assert verdict.reason == (
        "hard-capped budget: needs 80.00 CNY, 20.00 CNY left of the project's 500.00 CNY for 2026-11"
    )
    uncapped = schedule(replace(snap, caps={}), PROFILES)
    assert [p.job_id for p in uncapped.placements] == ["first", "second"]
