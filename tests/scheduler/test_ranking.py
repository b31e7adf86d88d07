"""A kept ranking's order (`scheduler/ranking.py`): `best_first` sorts as (-score, label, position).

Scores and labels come from small domains so that ties, equal labels, -0.0 against 0.0 and
infinities are common; a NaN sends `best_first` to the plain key, whatever it gives.
"""

import math

from hypothesis import given
from hypothesis import strategies as st

from suanli.scheduler.ranking import best, best_first

scores = st.sampled_from([0.0, -0.0, 12.5, 50.0, 100.0, 1e308, math.inf, -math.inf, math.nan])
labels = st.lists(st.sampled_from(["s1/a", "s1/b", "s2/a"]), min_size=8, max_size=8)


@given(st.lists(scores, min_size=1, max_size=8), labels, st.data())
def test_best_first_is_the_plain_order(values: list[float], names: list[str], data: st.DataObject) -> None:
    pools = sorted(data.draw(st.sets(st.integers(0, 7), min_size=len(values), max_size=len(values))))
    plain = sorted(range(len(pools)), key=lambda k: (-values[k], names[pools[k]], k))
    assert best_first(values, pools, names) == plain


@given(st.lists(st.sampled_from([0.0, 12.5, 50.0, 100.0]), min_size=1, max_size=8), labels)
def test_the_first_in_order_is_the_best(values: list[float], names: list[str]) -> None:
    pools = list(range(len(values)))
    assert best_first(values, pools, names)[0] == best(values, lambda k: names[pools[k]])
