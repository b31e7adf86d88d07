"""Backfill's start estimate from releases split once a cycle (a pool's running attempts) and merged
with the cycle's placements gives the answer the whole list gives (`backfill.start_after`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.resources import Vector
from suanli.scheduler.backfill import Release, merged, split, start_after, start_after_split

NOW = datetime(2026, 11, 27, tzinfo=UTC)
NODES = 3

releases = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(0, 5).map(lambda h: NOW + timedelta(hours=h))),
        st.lists(st.integers(0, NODES - 1), min_size=1, max_size=2, unique=True).map(tuple),
        st.builds(Vector, st.integers(0, 4), st.integers(0, 2)),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(
    running=releases,
    placed=releases,
    need=st.builds(Vector, st.integers(1, 6), st.integers(0, 2)),
    count=st.integers(1, 2),
    free=st.lists(st.builds(Vector, st.integers(0, 2), st.integers(0, 2)),
                  min_size=NODES, max_size=NODES).map(tuple),
)  # fmt: skip
def test_splitting_once_and_merging_placements_gives_the_same_start(
    running: list[Release], placed: list[Release], need: Vector, count: int, free: tuple[Vector, ...]
) -> None:
    known, unknown = merged(split(running, NODES), placed, NODES)
    expected = start_after(need, count, NOW, free, [*running, *placed])
    got = start_after_split(need, count, NOW, free, known, unknown) if known or unknown is not None else None
    assert got == expected
