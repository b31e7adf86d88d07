"""The evictable attempts' ranks kept across cycles (`scheduler.evictable`) are the ones asking every
attempt gives, cycle after cycle, as attempts start, end and are told to leave, at random instants
and at the instants an answer changes (a checkpoint window opening or closing, a rung, the end of a
protection) and a microsecond either side of them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.resources import Vector
from suanli.scheduler import service
from suanli.scheduler.evictable import EvictableRanks, evictable_ranks
from suanli.scheduler.snapshot import Running, RunningChanges

T0 = datetime(2026, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)


@st.composite
def attempts(draw: st.DrawFn, n: int) -> Running:
    started = draw(st.one_of(st.none(), st.integers(0, 7200)))
    return Running(
        attempt_id=f"a{n}",
        job_id=f"j{n}",
        pool_id="p",
        nodes=tuple(range(draw(st.integers(1, 2)))),
        per_node=Vector(draw(st.sampled_from([1, 2, 8])), 4, 1024),
        accelerator="A100",
        preemptible=draw(st.booleans()) or draw(st.booleans()),
        leaving=draw(st.integers(0, 5)) == 0,
        started_at=None if started is None else T0 + timedelta(seconds=started),
        created_at=T0 - timedelta(seconds=draw(st.integers(0, 30_000))),
        ran_s=draw(st.sampled_from([0.0, 600.0, 5000.0, 40_000.0])),
        expected_s=draw(st.sampled_from([None, 300.0, 3600.0, 20_000.0])),
        checkpoint_s=draw(st.sampled_from([None, 600.0, 1800.0])),
    )


def _fresh(running: list[Running]) -> list[Running]:
    return [replace(r) for r in running]  # no answers kept from earlier asks


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_kept_ranks_are_the_ones_asked_afresh(data: st.DataObject) -> None:
    """Cycle after cycle, told what changed (as the simulator tells it) or not, asked every cycle or
    only now and then (most cycles block no job), the book answers as asking every attempt does."""
    every_band = data.draw(st.booleans(), label="every_band")
    told = data.draw(st.booleans(), label="told what changed")
    running = [data.draw(attempts(n)) for n in range(data.draw(st.integers(1, 8)))]
    book, now, made = EvictableRanks(), T0 + timedelta(seconds=7300), len(running)
    listed: tuple[Running, ...] | None = None
    gone: list[Running] = []
    added: list[Running] = []
    for _ in range(data.draw(st.integers(1, 40), label="cycles")):
        step = data.draw(st.sampled_from(["wait", "edge", "start", "end", "leave"]))
        if step == "wait":
            now += timedelta(
                seconds=data.draw(st.integers(0, 4000)), microseconds=data.draw(st.integers(0, 999_999))
            )
        elif step == "edge":  # to the next instant some answer may change, or a microsecond either side
            edges = [service.evictable_until(r, now, every_band)[1] for r in _fresh(running)]
            edges = [e for e in edges if now < e < datetime.max.replace(tzinfo=UTC)]
            if edges:
                now = max(
                    now, data.draw(st.sampled_from(edges)) + data.draw(st.sampled_from([-US, US * 0, US]))
                )
        elif step == "start":
            running.append(replace(data.draw(attempts(made)), started_at=now))
            added.append(running[-1])
            made += 1
        elif running and step == "end":
            gone.append(running.pop(data.draw(st.integers(0, len(running) - 1))))
        elif running:  # told to leave: the same attempt, as a new object
            k = data.draw(st.integers(0, len(running) - 1))
            gone.append(running[k])
            running[k] = replace(running[k], leaving=True)
            added.append(running[k])
        now_listed = tuple(running)
        changes = RunningChanges(listed, tuple(gone), tuple(added)) if told and listed is not None else None
        book.note(now_listed, changes)
        listed, gone, added = now_listed, [], []
        if data.draw(st.booleans(), label="a job is blocked"):
            assert book.update(now_listed, now, every_band) == evictable_ranks(
                _fresh(running), now, every_band
            )


def test_changes_that_do_not_fit_are_not_trusted() -> None:
    """A snapshot whose changes do not describe its attempts (an attempt gone that was never
    listed, one added twice) is read by comparing, not by the changes."""
    now = T0 + timedelta(hours=3)
    a = Running("a1", "j1", "p", (0,), Vector(1, 0, 0), preemptible=True, started_at=T0, created_at=T0)
    b = replace(a, attempt_id="a2", job_id="j2")
    ghost = replace(a, attempt_id="a9", job_id="j9")
    first, second, third = (a,), (a, b), (b,)
    book = EvictableRanks()
    book.note(first, None)
    assert book.update(first, now, False) == {"a1": 3}
    book.note(second, RunningChanges(first, gone=(ghost,), added=(b,)))  # `ghost` was never there
    assert book.update(second, now, False) == {"a1": 3, "a2": 3}
    book.note(third, RunningChanges(second, gone=(a,), added=(b,)))  # `b` added again
    assert book.update(third, now, False) == {"a2": 3}


def test_an_attempt_listed_twice_is_ranked_as_listed() -> None:
    r = Running("a1", "j1", "p", (0,), Vector(1, 0, 0), preemptible=True, started_at=T0, created_at=T0)
    book, now = EvictableRanks(), T0 + timedelta(hours=3)
    for listed in ((r,), (r, r), (r, replace(r)), (r,)):
        assert book.update(listed, now, False) == evictable_ranks(listed, now, False) == {"a1": 3}
        now += timedelta(seconds=1)
