"""`books.Holdings`, carried from cycle to cycle, must count what a fresh count of the same running
attempts counts: shares and quota checks read it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.resources import Vector
from suanli.scheduler import Snapshot
from suanli.scheduler.books import Books, Holdings
from suanli.scheduler.snapshot import Running, RunningChanges

NOW = datetime(2026, 1, 1, tzinfo=UTC)
MODELS = ("A100", "H100", "V100", None)


@st.composite
def attempts(draw: st.DrawFn) -> Running:
    n = draw(st.integers(0, 12))
    return Running(
        attempt_id=f"a{n}",
        job_id=f"j{n}",
        pool_id="p",
        nodes=tuple(range(draw(st.integers(1, 3)))),
        per_node=Vector(draw(st.integers(0, 8)), draw(st.integers(0, 64)), draw(st.integers(0, 4096))),
        accelerator=draw(st.sampled_from(MODELS)),
        org_id=draw(st.sampled_from(("o1", "o2", "shared"))),
        project_id=draw(st.sampled_from(("p1", "p2", "shared"))),
    )


def fresh(running: list[Running]) -> Holdings:
    return Holdings().update(running)


def counted(h: Holdings) -> tuple[dict[str, tuple[Decimal, int, int]], dict[str, Decimal]]:
    held = {
        k: (v.cu_exact, v.cpus, v.mib) for k, v in h.held.items() if (v.cu_exact, v.cpus, v.mib) != (0, 0, 0)
    }
    return held, {k: v for k, v in h.cu_by_org.items() if v != 0}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(attempts(), max_size=10), min_size=1, max_size=8))
def test_carried_holdings_count_what_a_fresh_count_does(cycles: list[list[Running]]) -> None:
    """Attempts start, end, change what they hold under the same id, or are listed twice."""
    carried = Holdings()
    for running in cycles:
        carried.update(running)
        assert counted(carried) == counted(fresh(running))


@settings(max_examples=150, deadline=None)
@given(st.lists(attempts(), min_size=1, max_size=12), st.data())
def test_holdings_told_what_changed_count_what_a_fresh_count_does(
    made: list[Running], data: st.DataObject
) -> None:
    """Told what changed since the last list (as the simulator tells it, `RunningChanges`), the
    carried holdings catch up by the changes, or compare where the changes do not fit (an attempt
    listed twice, one id for two attempts): either way they count what a fresh count does."""
    carried, listed = Holdings(), None
    for _ in range(data.draw(st.integers(1, 8))):
        now = tuple(made[k] for k in data.draw(st.lists(st.integers(0, len(made) - 1), max_size=10)))
        changes = None
        if listed is not None:
            before, after = {id(r) for r in listed}, {id(r) for r in now}
            changes = RunningChanges(
                listed,
                tuple(r for r in listed if id(r) not in after),
                tuple(r for r in now if id(r) not in before),
            )
        carried.update(now, changes)
        listed = now
        assert counted(carried) == counted(fresh(list(now)))


@settings(max_examples=60, deadline=None)
@given(st.lists(attempts(), max_size=10, unique_by=lambda r: r.attempt_id), st.randoms())
def test_a_share_does_not_depend_on_the_order_attempts_are_listed_in(running: list[Running], rng) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(running)
    rng.shuffle(shuffled)
    first = Books(Snapshot(now=NOW, pools=(), jobs=(), running=tuple(running)), (100.0, 1000.0, 10000.0))
    second = Books(Snapshot(now=NOW, pools=(), jobs=(), running=tuple(shuffled)), (100.0, 1000.0, 10000.0))
    for key in ("o1", "o2", "p1", "p2", "shared"):
        assert first.share(key) == second.share(key)
        assert first.cu_held(key) == second.cu_held(key)


def test_a_cycles_placements_do_not_leak_into_the_carried_holdings() -> None:
    held = Running("a1", "j1", "p", (0,), Vector(8, 0, 0), "A100", "o1", "p1")
    carried = Holdings()
    snapshot = Snapshot(now=NOW, pools=(), jobs=(), running=(held,))
    books = Books(snapshot, (64.0, 0.0, 0.0), carried)
    assert books.cu_held("o1") == Decimal(8)
    books._add("o1", "p1", "A100", Vector(8, 0, 0), 1)  # a placement of this cycle
    assert books.cu_held("o1") == Decimal(16)
    again = Books(snapshot, (64.0, 0.0, 0.0), carried)
    assert again.cu_held("o1") == Decimal(8)
    assert again.share("o1") == 8 / 64


def test_changes_naming_an_attempt_gone_twice_are_not_trusted() -> None:
    a = Running("a1", "j1", "p", (0,), Vector(8, 0, 0), "A100", "o1", "p1")
    b = Running("a2", "j2", "p", (0,), Vector(8, 0, 0), "A100", "o1", "p1")
    c = Running("a3", "j3", "p", (0,), Vector(8, 0, 0), "A100", "o1", "p1")
    first, second = (a, b), (c,)
    carried = Holdings().update(first)
    carried.update(second, RunningChanges(first, gone=(a, a), added=(c,)))  # `b` left, not `a` twice
    assert counted(carried) == counted(fresh([c]))
