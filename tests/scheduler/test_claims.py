"""Room gathered across pools (ADR 0028): a wide job kept out only by where narrow attempts sit moves
them to free room elsewhere, and the room it claims is held for it from one cycle to the next.
Seed pools, pending and running jobs, run one cycle (or two), assert on the plan."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from suanli.domain.money import Money
from suanli.domain.resources import AcceleratorOption, Resources, Vector
from suanli.scheduler import PROFILES, PendingJob, Plan, PoolView, Snapshot, schedule
from suanli.scheduler.snapshot import Running

T0 = datetime(2025, 1, 1, tzinfo=UTC)
MODELS = ("A100", "H100", "V100")
PRICES = {"A100": 1250, "H100": 2100, "V100": 400}  # fen per GPU-hour: V100 is everyone's first choice
MIN = 60.0
HOUR = 3600.0


def pool(model: str, free: int) -> PoolView:
    return PoolView(
        id=model,
        site_id="s",
        site="s",
        name=model.lower(),
        accelerator=model,
        per_node=Vector(8, 64, 512 * 1024),
        free=(Vector(free, 64, 512 * 1024),),
        price=Money(Decimal(PRICES[model]) / 100, "CNY"),
    )


def job(id: str, gpus: int, *, org: str = "w", age_s: float = 2 * HOUR, ran_s: float = 0) -> PendingJob:
    """A waiting job that takes any model; `ran_s` of earlier attempts (8 GPUs × 1 h: 8 GPU-hours,
    more service than `narrow`'s 3, so it may not evict them for service). By default it has waited
    an hour."""
    return PendingJob(
        id=id,
        resources=Resources(tuple(AcceleratorOption(m, gpus) for m in MODELS), 1, 0, 0),
        created_at=T0 - timedelta(seconds=age_s),
        org_id=org,
        project_id=org,
        preemptible=True,
        ran_s=ran_s,
    )


def narrow(id: str, on: str, *, checkpoint_in_s: float = 0, moves: tuple[str, ...] = MODELS) -> Running:
    """A 1-GPU attempt of tenant n that has run 3 h (3 GPU-hours: past the first rung), checkpointing
    every 30 minutes; `checkpoint_in_s` 0: it passed one a moment ago, so it may be evicted now."""
    ran = 3 * HOUR + (30 * MIN - checkpoint_in_s if checkpoint_in_s else 30)
    started = T0 - timedelta(seconds=ran)
    return Running(
        attempt_id=f"{id}/1",
        job_id=id,
        pool_id=on,
        nodes=(0,),
        per_node=Vector(1, 0, 0),
        accelerator=on,
        org_id="n",
        project_id="n",
        preemptible=True,
        started_at=started,
        created_at=started,
        checkpoint_s=30 * MIN,
        moves=moves,
    )


def spread(**kw: object) -> tuple[list[PoolView], list[Running]]:
    """Three 8-GPU pools, each with three 1-GPU attempts and five GPUs free: 15 of 24 free, no pool
    with 8."""
    running = [narrow(f"{m[0].lower()}{k}", m, **kw) for m in MODELS for k in range(3)]  # type: ignore[arg-type]
    return [pool(m, 5) for m in MODELS], running


def cycle(pools: list[PoolView], jobs: list[PendingJob], running: list[Running], **kw: object) -> Plan:
    kw.setdefault("order", "las")
    return schedule(
        Snapshot(now=T0, pools=tuple(pools), jobs=tuple(jobs), running=tuple(running), **kw),  # type: ignore[arg-type]
        PROFILES,
    )


def test_a_wide_job_kept_out_only_by_where_narrow_jobs_sit_moves_them() -> None:
    pools, running = spread()
    plan = cycle(pools, [job("wide", 8, ran_s=HOUR)], running)
    # The three on one pool are moved (all three pools need three; the label breaks the tie), and
    # the room they leave is claimed for the wide job from now.
    assert sorted(p.attempt_id for p in plan.preemptions) == ["a0/1", "a1/1", "a2/1"]
    assert all(p.for_job == "wide" and "moved for job wide" in p.reason for p in plan.preemptions)
    (claim,) = plan.reservations
    assert (claim.job_id, claim.pool_id, claim.at, claim.claim) == ("wide", "A100", T0, True)
    assert sorted(claim.preempting) == ["a0/1", "a1/1", "a2/1"]


def test_attempts_that_may_not_move_stay() -> None:
    pools, running = spread(moves=())  # their specs tie them to a place (a region, a price cap, data)
    plan = cycle(pools, [job("wide", 8, ran_s=HOUR)], running)
    assert plan.preemptions == () and all(not r.claim for r in plan.reservations)


def test_nothing_moves_where_the_moved_would_find_no_room() -> None:
    # Their jobs take only the model they run on: the free room of the other pools is no room for
    # them, so moving them would leave them waiting.
    pools, running = spread()
    running = [replace(r, moves=(r.pool_id,)) for r in running]
    plan = cycle(pools, [job("wide", 8, ran_s=HOUR)], running)
    assert plan.preemptions == ()
    # Too little free anywhere (7 GPUs): nothing to gather in pieces either.
    pools = [pool("A100", 5), pool("H100", 2), pool("V100", 0)]
    assert cycle(pools, [job("wide", 8, ran_s=HOUR)], spread()[1]).preemptions == ()


def test_the_fair_order_moves_nothing() -> None:
    pools, running = spread()
    assert cycle(pools, [job("wide", 8, ran_s=HOUR)], running, order="fair").preemptions == ()  # type: ignore[arg-type]


def test_attempts_not_just_past_a_checkpoint_are_moved_as_each_passes_one() -> None:
    # One of A100's three passed a checkpoint a moment ago; the others pass theirs in 10 and 20
    # minutes. The first moves now; the room is claimed from an unknown start.
    pools = [pool(m, 5) for m in MODELS]
    running = [
        narrow("a0", "A100"),
        narrow("a1", "A100", checkpoint_in_s=10 * MIN),
        narrow("a2", "A100", checkpoint_in_s=20 * MIN),
        *(narrow(f"{m[0].lower()}{k}", m, checkpoint_in_s=5 * MIN) for m in MODELS[1:] for k in range(3)),
    ]
    plan = cycle(pools, [job("wide", 8, ran_s=HOUR)], running)
    assert [p.attempt_id for p in plan.preemptions] == ["a0/1"]
    (claim,) = plan.reservations
    assert (claim.pool_id, claim.at, claim.claim) == ("A100", None, True)


def test_a_claim_holds_the_room_for_its_job_against_jobs_ahead_of_it() -> None:
    # Next cycle: "a0" has gone (A100 has 6 free). A new 1-GPU job of a tenant with nothing running
    # goes first in the queue and would take the cheapest pool with room, A100 is not it (V100 is
    # cheaper), so make V100 full: then it would take A100, the claimed pool, were the claim not held.
    pools = [pool("A100", 6), pool("H100", 5), pool("V100", 0)]
    running = [narrow("a1", "A100", checkpoint_in_s=10 * MIN), narrow("a2", "A100", checkpoint_in_s=20 * MIN)]
    jobs = [job("wide", 8, age_s=80 * MIN, ran_s=HOUR), job("new", 1, org="x", age_s=MIN)]
    claims = {"wide": ("A100", (0,))}
    held = cycle(pools, jobs, running, claims=claims)
    assert [(p.job_id, p.pool_id) for p in held.placements] == [("new", "H100")]
    assert any(r.job_id == "wide" and r.pool_id == "A100" and r.claim for r in held.reservations)
    unheld = cycle(pools, jobs, running)
    assert ("new", "A100") in [(p.job_id, p.pool_id) for p in unheld.placements]


def test_a_job_takes_its_claimed_room_once_it_is_whole() -> None:
    pools = [pool("A100", 8), pool("H100", 5), pool("V100", 0)]
    jobs = [job("new", 1, org="x", age_s=MIN), job("wide", 8, age_s=2 * HOUR, ran_s=HOUR)]
    plan = cycle(pools, jobs, [], claims={"wide": ("A100", (0,))})
    assert sorted((p.job_id, p.pool_id) for p in plan.placements) == [("new", "H100"), ("wide", "A100")]
    assert plan.reservations == ()


def test_a_claim_lapses_when_the_move_is_no_longer_worth_making() -> None:
    # The room elsewhere is gone and nothing on the claimed pool may move: the claim is not made again.
    pools = [pool("A100", 5), pool("H100", 0), pool("V100", 0)]
    running = [replace(narrow(f"a{k}", "A100"), moves=()) for k in range(3)]
    plan = cycle(pools, [job("wide", 8, ran_s=HOUR)], running, claims={"wide": ("A100", (0,))})
    assert not any(r.claim for r in plan.reservations)


def test_a_wide_job_with_less_service_than_every_holder_gathers_without_ageing() -> None:
    # "wide" has had no service; all A100 holders have had 3 GPU-hours. They pass their checkpoints
    # at different minutes, so no instant offers all three: it evicts the one it may now, claims
    # the room, and takes the others at their checkpoints (before ADR 0028 only an aged job did).
    pools = [pool("A100", 5), pool("H100", 0), pool("V100", 0)]
    running = [
        narrow("a0", "A100"),
        narrow("a1", "A100", checkpoint_in_s=10 * MIN),
        narrow("a2", "A100", checkpoint_in_s=20 * MIN),
    ]
    plan = cycle(pools, [job("wide", 8, age_s=MIN)], running)
    assert [p.attempt_id for p in plan.preemptions] == ["a0/1"]
    assert "less service" in plan.preemptions[0].reason
    (claim,) = plan.reservations
    assert (claim.pool_id, claim.at, claim.claim) == ("A100", None, True)


def test_a_job_that_has_only_just_come_moves_nothing() -> None:
    # Room in pieces often comes whole within minutes as jobs end: a job moves others only once it
    # has waited `Snapshot.preempt_after_s` (2 minutes by default).
    pools, running = spread()
    assert cycle(pools, [job("wide", 8, age_s=HOUR + MIN, ran_s=HOUR)], running).preemptions == ()
    assert len(cycle(pools, [job("wide", 8, age_s=HOUR + 3 * MIN, ran_s=HOUR)], running).preemptions) == 3
