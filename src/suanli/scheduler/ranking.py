"""Ranking a job's feasible pools: cost scores normalised across them, weighted sums, and the tie rule.

`framework.rank` (what `explain` shows) and the scheduling cycle both rank through these functions,
so a plan and an explanation cannot disagree on arithmetic or ties. A pool's score is its weighted
scores summed in plugin order; a cost score is 100 × (dearest − cost) / (dearest − cheapest) over
the job's feasible pools, 100 when they all cost the same, and 50 when the cost is unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import add
from typing import cast

UNKNOWN_COST_SCORE = 50.0


def normalise(costs: Sequence[float | None]) -> list[float]:
    """Costs → 0–100 across one job's feasible pools: the cheapest 100, the dearest 0, unknown 50."""
    return weighted(1.0, costs, is_cost=True)


def weighted(weight: float, raw: Sequence[float | None], is_cost: bool) -> list[float]:
    """One plugin's column: weight × its score per pool (for a cost plugin, the normalised cost)."""
    return column(weight, raw, is_cost)[0]


def column(weight: float, raw: Sequence[float | None], is_cost: bool) -> tuple[list[float], tuple[int, ...]]:
    """`weighted`, and for a cost column the positions of its lowest and highest known cost."""
    if not is_cost:
        return [weight * v for v in cast("Sequence[float]", raw)], ()  # a plain score is never None
    unknown = weight * UNKNOWN_COST_SCORE
    known = [c for c in raw if c is not None]
    if not known:
        return [unknown] * len(raw), ()
    lo, hi = min(known), max(known)
    return scaled(weight, raw, lo, hi), (raw.index(lo), raw.index(hi))


def scaled(weight: float, raw: Sequence[float | None], lo: float, hi: float) -> list[float]:
    """A cost column, weighted, given the cheapest (`lo`) and dearest (`hi`) known cost of the
    feasible pools: a pool's value depends on its own cost and these two alone."""
    unknown = weight * UNKNOWN_COST_SCORE
    if hi == lo:
        return [unknown if c is None else weight * 100.0 for c in raw]
    span = hi - lo
    return [unknown if c is None else weight * (100.0 * (hi - c) / span) for c in raw]


def constant(weight: float, raw: float | None, is_cost: bool) -> float:
    """`weighted` of a column whose raw value is the same on every pool, as one number."""
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


def best_first(scores: list[float], pools: Sequence[int], labels: Sequence[str]) -> list[int]:
    """Positions by score, highest first; equal scores by label, then position (the order `best`
    picks in). Two sorts with keys read in C (by label, then by score with `reverse`, which keeps
    equal scores in label order) instead of one with a key tuple made per position: this sorts
    rankings of hundreds of pools. A NaN among the scores (or +inf meeting -inf) compares with
    nothing, so those take the plain key."""
    total = sum(scores)
    if total != total:
        return sorted(range(len(pools)), key=lambda k: (-scores[k], labels[pools[k]], k))
    order = sorted(range(len(pools)), key=list(map(labels.__getitem__, pools)).__getitem__)
    order.sort(key=scores.__getitem__, reverse=True)
    return order


class Ranked:
    """One job class's feasible pools, ranked once and reused while that stays exact.

    Within a cycle a class's feasible set only shrinks (capacity only shrinks; the class's filters
    are fixed per pool or monotone). While every `witness` (a pool holding a cost column's lowest or
    highest known cost) is still feasible, every column's extremes are unchanged, so every pool
    still feasible has the same score, to the bit, as when it was ranked, and the best of them is the
    first feasible one in score order. The caller checks the witnesses and re-ranks when one is gone.
    """

    def __init__(
        self, pools: list[int], scores: list[float], labels: Sequence[str], witnesses: tuple[int, ...]
    ) -> None:
        self.pools, self.scores, self.witnesses = pools, scores, witnesses
        self._labels = labels
        self._first = best(scores, lambda k: labels[pools[k]])
        self._order: list[int] | None = None  # positions, best first; sorted once the first is gone
        self._next = 0

    def pick(
        self, feasible: Callable[[int], bool], allowed: Callable[[int], bool] | None = None
    ) -> tuple[int, float] | None:
        """The best pool still feasible, with its score; None if none is. `allowed` is a further
        check for this job only (a reservation it may not backfill into): a pool it refuses is
        skipped for this job but not forgotten for the class."""
        first = self.pools[self._first]
        if self._order is None:
            if feasible(first) and (allowed is None or allowed(first)):
                return first, self.scores[self._first]
            self._order = best_first(self.scores, self.pools, self._labels)
        at = self._next
        while at < len(self._order):
            k = self._order[at]
            if not feasible(self.pools[k]):
                if at == self._next:  # not feasible now: never again this cycle
                    self._next += 1
            elif allowed is None or allowed(self.pools[k]):
                return self.pools[k], self.scores[k]
            at += 1
        return None
