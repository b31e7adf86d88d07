"""Ranking (`scheduler/ranking.py`): `best_first` sorts as (-score, label, position); cost scores are
normalised over the pools a job could run on, so which of two pools wins does not depend on a third.

Scores and labels come from small domains so that ties, equal labels, -0.0 against 0.0 and
infinities are common; a NaN sends `best_first` to the plain key, whatever it gives.
"""

import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.money import Money
from suanli.domain.resources import AcceleratorOption, Resources, Vector
from suanli.scheduler import PROFILES, PendingJob, PoolView, Snapshot, explain, schedule
from suanli.scheduler.ranking import best, best_first, label_order

T0 = datetime(2025, 1, 1, tzinfo=UTC)

scores = st.sampled_from([0.0, -0.0, 12.5, 50.0, 100.0, 1e308, math.inf, -math.inf, math.nan])
labels = st.lists(st.sampled_from(["s1/a", "s1/b", "s2/a"]), min_size=8, max_size=8)


@given(st.lists(scores, min_size=1, max_size=8), labels, st.data())
def test_best_first_is_the_plain_order(values: list[float], names: list[str], data: st.DataObject) -> None:
    pools = sorted(data.draw(st.sets(st.integers(0, 7), min_size=len(values), max_size=len(values))))
    plain = sorted(range(len(pools)), key=lambda k: (-values[k], names[pools[k]], k))
    assert best_first(values, pools, names) == plain
    kept = label_order(pools, names)  # what a cycle keeps per domain and hands every ranking over it
    assert best_first(values, pools, names, kept) == plain
    assert kept == label_order(pools, names)  # and it is left as it was


@given(st.lists(st.sampled_from([0.0, 12.5, 50.0, 100.0]), min_size=1, max_size=8), labels)
def test_the_first_in_order_is_the_best(values: list[float], names: list[str]) -> None:
    pools = list(range(len(values)))
    assert best_first(values, pools, names)[0] == best(values, lambda k: names[pools[k]])


# --- cost scores are normalised over the pools a job could run on, full or not (ADR 0027) -----------


def _priced(label: str, price: int, grid: int, free: bool = True) -> PoolView:
    site, name = label.split("/")
    node = Vector(8, 64, 512 * 1024)
    return PoolView(
        id=f"pool-{label}",
        site_id=f"site-{site}",
        site=site,
        name=name,
        accelerator="A100",
        per_node=node,
        free=(node if free else Vector(),),
        price=Money(price * 100),
        pue=Decimal("1.2"),
        carbon_g_per_kwh=grid,
    )


def _job() -> PendingJob:
    return PendingJob(
        id="j1", resources=Resources((AcceleratorOption("A100", 8),), 1, 8, 64 * 1024), created_at=T0
    )


@pytest.mark.parametrize("third_is_full", [False, True])
def test_the_choice_between_two_pools_does_not_turn_on_whether_a_third_is_full(third_is_full: bool) -> None:
    # a is cheapest, b cleaner; c dearest and cleanest. Normalised over the pools free now, a full c
    # would leave a and b at 100 points each (one wins cost, the other carbon) and the label would
    # pick a; over every pool the job could run on, b is ahead whether c is full or not.
    pools = (
        _priced("s1/a", 10, 100),
        _priced("s1/b", 12, 70),
        _priced("s2/c", 30, 50, free=not third_is_full),
    )
    plan = schedule(Snapshot(now=T0, pools=pools, jobs=(_job(),)), PROFILES)
    assert [p.pool_id for p in plan.placements] == ["pool-s1/b"]
    shown = {c.pool: c.score for c in explain(_job(), pools, PROFILES) if c.fits}
    assert shown["s1/b"] > shown["s1/a"]
    assert plan.placements[0].score == shown["s1/b"]  # the plan and `suanli why` agree to the bit


def test_scores_shown_for_the_free_pools_are_the_same_when_a_third_fills() -> None:
    free = (_priced("s1/a", 10, 100), _priced("s1/b", 12, 70), _priced("s2/c", 30, 50))
    full = (*free[:2], _priced("s2/c", 30, 50, free=False))
    before = {c.pool: c.score for c in explain(_job(), free, PROFILES) if c.fits}
    after = {c.pool: c.score for c in explain(_job(), full, PROFILES) if c.fits}
    assert set(after) == {"s1/a", "s1/b"}
    assert after == {k: before[k] for k in after}


def test_a_full_pool_shows_the_score_it_will_be_ranked_by_once_it_frees() -> None:
    free = (_priced("s1/a", 10, 100), _priced("s1/b", 12, 70), _priced("s2/c", 30, 50))
    full = (*free[:2], _priced("s2/c", 30, 50, free=False))
    when_free = {c.pool: c.score for c in explain(_job(), free, PROFILES)}
    shown = {c.pool: (c.fits, c.score) for c in explain(_job(), full, PROFILES)}
    assert shown["s2/c"] == (False, when_free["s2/c"])


def test_an_unpriced_pool_is_free_so_it_wins_the_cost_score_over_a_priced_one() -> None:
    """An unpriced pool charges nothing (ADR 0034): its cost is 0, the cheapest, not an unknown
    scored 50 (which once tied a free pool with a priced one at the same total)."""
    unpriced = PoolView(**{**_priced("s1/free", 10, 100).__dict__, "id": "pool-s1/free", "price": None})
    priced = _priced("s2/paid", 10, 100)
    costs = {c.pool: dict(c.scores)["cost"] for c in explain(_job(), (unpriced, priced), PROFILES) if c.fits}
    assert costs["s1/free"] > costs["s2/paid"]
    plan = schedule(Snapshot(now=T0, pools=(priced, unpriced), jobs=(_job(),)), PROFILES)
    assert [p.pool_id for p in plan.placements] == ["pool-s1/free"]
