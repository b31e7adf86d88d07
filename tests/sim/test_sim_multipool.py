"""Replays on networks of several pools: each policy's pool rule, worked out by hand, and the engine's
rules about pools."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sim_builders import jcts, network_of, on_network, pools_used, trace_of

from suanli.domain.money import Money
from suanli.sim import Decision, Pool, PoolState, SimulationError, simulate

# Pool 0 has 4 GPUs, pool 1 has 2.
TWO = network_of(4, 2)


def test_fifo_takes_the_first_pool_that_fits_and_blocks_when_none_does() -> None:
    # A fills pool 0, B takes pool 1, C (2 GPUs) fits nowhere until both end at 10 s: then pool 0.
    trace = trace_of((0, 10, 4), (0, 10, 2), (0, 10, 2))
    run = on_network("fifo", trace, TWO)
    assert pools_used(trace, run) == {"A": 0, "B": 1, "C": 0}
    assert jcts(trace, run) == {"A": 10, "B": 10, "C": 20}


# A (3 GPUs) on pool 0 leaves 1 free; B (2) fills pool 1. C (4 GPUs) can only ever run on pool 0: its
# reservation is there at A's end (100 s), with no extra GPUs. D (1 GPU, 200 s) would pass the shadow
# time on pool 0; E (1 GPU, 50 s) ends before it.
RESERVED = trace_of((0, 100, 3), (0, 50, 2), (1, 10, 4), (2, 200, 1), (3, 50, 1))


def test_easy_backfills_the_reserved_pool_only_within_the_shadow_and_elsewhere_freely() -> None:
    # E backfills pool 0 at 3 s. D waits until B frees pool 1 at 50 s: there it delays no one.
    run = on_network("easy", RESERVED, TWO)
    assert pools_used(RESERVED, run) == {"A": 0, "B": 1, "C": 0, "D": 1, "E": 0}
    assert jcts(RESERVED, run) == {"A": 100, "B": 50, "C": 109, "D": 248, "E": 50}


def test_fifo_on_the_same_trace_waits_behind_the_head() -> None:
    run = on_network("fifo", RESERVED, TWO)
    assert jcts(RESERVED, run) == {"A": 100, "B": 50, "C": 109, "D": 298, "E": 147}


def test_las_starts_a_newcomer_on_idle_gpus_rather_than_preempting() -> None:
    # A (4 GPUs) drops to Q1 at 812.5 s. B arrives in Q0 at 1,000 s: pool 0's budget would take it by
    # preempting A, but pool 1 has 2 idle GPUs, so B runs there and A is left alone.
    trace = trace_of((0, 10_000, 4), (1000, 100, 2))
    run = on_network("las", trace, TWO)
    assert pools_used(trace, run) == {"A": 0, "B": 1}
    assert jcts(trace, run) == {"A": 10_000, "B": 100}
    assert [o.preemptions for o in run.outcomes] == [0, 0]


def test_las_preempts_on_the_pool_whose_budget_fits_when_none_is_idle() -> None:
    # As above, but B needs 4 GPUs: only pool 0 can hold it, so A is preempted there (restart 30 s).
    trace = trace_of((0, 10_000, 4), (1000, 100, 4))
    run = on_network("las", trace, TWO)
    assert jcts(trace, run) == {"A": 10_130, "B": 100}
    assert [o.preemptions for o in run.outcomes] == [1, 0]


def priced(site: str, price: str, pue: str, carbon: int) -> Pool:
    minor = int(Decimal(price) * 100)
    return Pool(site, "a100", "A100", 4, 1, 4, "r", Money(minor, "CNY"), Decimal(pue), carbon)


def test_the_production_scheduler_takes_the_cheap_green_pool_first() -> None:
    # Pool 0 is dear and dirty, pool 1 cheap and clean. A goes to pool 1; B (4 GPUs) no longer fits
    # there and takes pool 0; C waits for pool 1 (A ends at 10 s), not pool 0 (B ends at 20 s).
    network = network_of(priced("dear", "20.00", "1.5", 800), priced("cheap", "5.00", "1.1", 300))
    trace = trace_of((0, 10, 2), (0, 20, 4), (1, 10, 4))
    run = on_network("suanli", trace, network)
    assert pools_used(trace, run) == {"A": 1, "B": 0, "C": 1}
    assert jcts(trace, run) == {"A": 10, "B": 20, "C": 19}


@pytest.mark.parametrize("policy", ["fifo", "easy", "sjf", "las", "suanli"])
def test_every_policy_keeps_each_pool_within_its_size(policy: str) -> None:
    trace = trace_of(*[(i % 7, 5 + (i * 37) % 50, 1 + i % 4) for i in range(60)])
    network = network_of(4, 6, 3)
    run = on_network(policy, trace, network)
    for pool, size in enumerate(network.sizes):
        events = sorted(
            [(o.finish, -j.gpus) for j, o in zip(trace.jobs, run.outcomes, strict=True) if o.pool == pool]
            + [
                (o.first_start, j.gpus)
                for j, o in zip(trace.jobs, run.outcomes, strict=True)
                if o.pool == pool
            ]
        )
        busy = 0
        for _, delta in events:
            busy += delta
            if policy != "las":  # LAS restarts jobs, so first start to finish is not one hold
                assert busy <= size


class OnPool:
    """Starts job 0 on the pool it is given."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision

    def arrive(self, job: int, now: float) -> None: ...

    def depart(self, job: int, now: float) -> None: ...

    def decide(self, now: float, pool: PoolState) -> Decision:
        decision, self.decision = self.decision, Decision()
        return decision


@pytest.mark.parametrize(
    ("decision", "says"),
    [
        (Decision((0,), on=(1,)), "with 2 free on pool 1"),
        (Decision((0,), on=(2,)), "on pool 2, which does not exist"),
        (Decision((0,), on=(0, 1)), "named 2 pools for 1 starts"),
    ],
)
def test_the_engine_refuses_starts_on_pools_that_cannot_take_them(decision: Decision, says: str) -> None:
    with pytest.raises(SimulationError, match=says):
        simulate(trace_of((0, 10, 4)), TWO, OnPool(decision))


def test_a_job_wider_than_every_pool_is_refused_naming_the_largest() -> None:
    with pytest.raises(SimulationError, match="job A needs 5 GPUs; the largest pool, s0/p0, has 4"):
        on_network("fifo", trace_of((0, 1, 5)), TWO)
