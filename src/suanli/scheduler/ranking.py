"""Ranking a job's pools: cost scores normalised over the pools it could run on, weighted sums, ties.

`framework.rank` (what `explain` and `suanli quote` show) and the scheduling cycle both rank through
these functions, so a plan and an explanation cannot disagree on arithmetic or ties. A pool's score
is its weighted scores summed in plugin order. A cost score (price, carbon, transfer time) is
100 × (dearest − cost) / (dearest − cheapest), where the cheapest and dearest are taken over the
job's *domain*: the pools that pass every filter that does not read free capacity, the pools it could
run on whenever they have room (ADR 0027). It is 100 when they all cost the same, and 50 when the
cost is unknown. So a pool's score for a job does not depend on which other pools are full at the
moment: whether A is ranked above B never turns on a third pool's free capacity, and a job class
keeps one ranking for the whole cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from operator import add
from typing import cast

UNKNOWN_COST_SCORE = 50.0


def spread(costs: Sequence[float | None]) -> tuple[float, float] | None:
    """The cheapest and dearest known cost of a domain; None when no cost is known."""
    known = [c for c in costs if c is not None]
    return (min(known), max(known)) if known else None


def weighted(
    weight: float, raw: Sequence[float | None], is_cost: bool, extremes: tuple[float, float] | None = None
) -> list[float]:
    """One plugin's column: weight × its score per pool; for a cost plugin, the cost normalised by
    the cheapest and dearest known cost of the domain (`extremes`, `spread`)."""
    if not is_cost:
        return [weight * v for v in cast("Sequence[float]", raw)]  # a plain score is never None
    if extremes is None:  # no known cost in the domain
        return [weight * UNKNOWN_COST_SCORE] * len(raw)
    return scaled(weight, raw, *extremes)


def scaled(weight: float, raw: Sequence[float | None], lo: float, hi: float) -> list[float]:
    """A cost column, weighted, given the domain's cheapest (`lo`) and dearest (`hi`) known cost: a
    pool's value depends on its own cost and these two alone."""
    unknown = weight * UNKNOWN_COST_SCORE
    if hi == lo:
        return [unknown if c is None else weight * 100.0 for c in raw]
    span = hi - lo
    return [unknown if c is None else weight * (100.0 * (hi - c) / span) for c in raw]


def constant(weight: float, raw: float | None, is_cost: bool) -> float:
    """`weighted` of a column whose raw value is the same on every pool of the domain, as one number."""
    if not is_cost:
        return weight * cast(float, raw)
    return weight * (UNKNOWN_COST_SCORE if raw is None else 100.0)


def totals(columns: Sequence[float | list[float]], pools: int) -> list[float]:
    """Each pool's score: its weighted scores summed in plugin order (float addition is not
    associative, so the order is part of the result). A column may be one number for every pool."""
    if not columns:
        return [0.0] * pools
    out = columns[0]
    for column in columns[1:]:
        if not isinstance(out, list):
            out = [out + v for v in column] if isinstance(column, list) else out + column
        else:
            out = list(map(add, out, column)) if isinstance(column, list) else [v + column for v in out]
    return out if isinstance(out, list) else [out] * pools


def best(scores: Sequence[float], label: Callable[[int], str]) -> int:
    """The position of the highest score; a tie goes to the alphabetically first label, then the
    earlier position."""
    top = max(scores)
    if scores.count(top) == 1:  # the common case, without a pass in Python
        return scores.index(top)
    tied = [k for k, s in enumerate(scores) if s == top]
    return min((label(k), k) for k in tied)[1]


def best_first(
    scores: list[float], pools: Sequence[int], labels: Sequence[str], by_label: list[int] | None = None
) -> list[int]:
    """Positions by score, highest first; equal scores by label, then position (the order `best`
    picks in). Two sorts with keys read in C (by label, then by score with `reverse`, which keeps
    equal scores in label order) instead of one with a key tuple made per position: this sorts
    rankings of hundreds of pools. `by_label`: the first sort's result, when the caller keeps it
    for these pools (`label_order`: it depends on the pools alone). A NaN among the scores (or +inf
    meeting -inf) compares with nothing, so those take the plain key."""
    total = sum(scores)
    if total != total:
        return sorted(range(len(pools)), key=lambda k: (-scores[k], labels[pools[k]], k))
    order = list(by_label) if by_label is not None else label_order(pools, labels)
    order.sort(key=scores.__getitem__, reverse=True)
    return order


def label_order(pools: Sequence[int], labels: Sequence[str]) -> list[int]:
    """Positions of `pools` by label, then position."""
    return sorted(range(len(pools)), key=list(map(labels.__getitem__, pools)).__getitem__)


class Ranking:
    """A domain's pools with their scores for one set of score memos: what every job class that
    reads those memos over that domain ranks by. Nothing in it reads free capacity, so it is shared
    by those classes and kept from cycle to cycle while the pools' static keys are (`carry.Carry`).
    It is never changed once made; its order is sorted when first asked."""

    def __init__(
        self, pools: list[int], scores: list[float], labels: Sequence[str], by_label: list[int] | None = None
    ) -> None:
        self.pools, self.scores, self.labels = pools, scores, labels
        self._by_label = by_label  # `label_order(pools, labels)`, shared with rankings of these pools
        self._order: list[int] | None = None

    def order(self) -> list[int]:
        """Positions, best first (`best_first`)."""
        if self._order is None:
            self._order = best_first(self.scores, self.pools, self.labels, self._by_label)
        return self._order


class Ranked:
    """One job class's `Ranking`, as the class walks it in one cycle.

    A pool's score depends only on the pool and the domain, never on free capacity, so the ranking
    holds for every job of the class all cycle; what changes is which pools may take the next job.
    Within a cycle a pool the class's filters refuse stays refused (capacity only shrinks; the other
    filters are fixed per pool), so a cursor skips the pools at the head of the domain's order (sorted
    once per ranking, and shared) that no job of the class may take again, and one cursor per
    `narrowed` key those that are refused or not allowed for jobs with that key (a reservation that
    jobs with this max_runtime may not backfill into stays so: a pool holds one reservation a cycle
    and its guarded capacity only shrinks). The pool that took the last job is at the cursor, so the
    next job asks it first: the best pool for a job is the first one in order that takes it, found
    in a step or a few.
    """

    def __init__(self, ranking: Ranking) -> None:
        self.ranking = ranking
        self.pools, self.scores = ranking.pools, ranking.scores
        self._order = ranking.order()  # positions, best first
        self._next = 0  # positions in `_order` before it: refused by the class for the cycle
        self._cursors: dict[Hashable, int] = {}  # narrowed key → the same, refused or not allowed

    def pick(
        self,
        feasible: Callable[[int], bool],
        allowed: Callable[[int], bool] | None = None,
        narrowed: Hashable = None,
    ) -> tuple[int, float] | None:
        """The best pool that is `feasible` (a no is for the rest of the cycle) and `allowed` for
        this job, with its score; None if none is. A pool `allowed` refuses is skipped for this job;
        with a `narrowed` key, for every later job with that key too (the refusal is as lasting)."""
        pools, order = self.pools, self._order
        at = (
            self._next
            if allowed is None or narrowed is None
            else max(self._next, self._cursors.get(narrowed, 0))
        )
        while at < len(order):
            k = order[at]
            if not feasible(pools[k]):
                if at == self._next:  # refused for the class now: for the rest of the cycle
                    self._next += 1
            elif allowed is None or allowed(pools[k]):
                break
            at += 1
        if allowed is not None and narrowed is not None:
            self._cursors[narrowed] = at
        if at == len(order):
            return None
        return pools[order[at]], self.scores[order[at]]
