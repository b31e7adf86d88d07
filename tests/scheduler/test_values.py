"""A score memo's raw values (`carry.Values`): what a ranking reads of them, however they were added."""

import math

from hypothesis import given
from hypothesis import strategies as st

from suanli.scheduler.carry import NO_COST, Values

values = st.one_of(st.none(), st.floats(allow_nan=False), st.sampled_from([math.inf, -math.inf]))


@given(st.lists(st.lists(values, min_size=1, max_size=5), max_size=6))
def test_lows_and_highs_are_the_values_with_an_unknown_one_never_cheapest_or_dearest(
    batches: list[list[float | None]],
) -> None:
    memo, added, start = Values(), {}, 0
    for batch in batches:
        pools = list(range(start, start + len(batch)))
        memo.extend(pools, batch)
        added.update(zip(pools, batch, strict=True))
        start += len(batch)
    assert memo.by_pool == added
    assert memo.lows == {i: NO_COST if v is None else v for i, v in added.items()}
    assert memo.highs == {i: -NO_COST if v is None else v for i, v in added.items()}
    known = [v for v in added.values() if v is not None]
    assert memo.odd == (not all(map(math.isfinite, known)))
    assert memo.varies == (len(set(added.values())) > 1)
