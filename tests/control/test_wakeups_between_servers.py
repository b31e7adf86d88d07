"""Wake-ups between servers on one PostgreSQL database (LISTEN/NOTIFY): a topic notified in one
server wakes the waiters of another; within one process, `Signals` behave as before."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from suanli.control.plane import ControlPlane
from suanli.control.settings import Settings
from suanli.control.signals import Signals, job_topic
from suanli.store import Database
from suanli.store.broadcast import MAX_PAYLOAD, Broadcast, payloads


@pytest.mark.parametrize(
    ("topics", "batches"),
    [
        ([], 0),
        (["schedule"], 1),
        (["job:1", "job:1", "site:a"], 1),  # each topic once
        ([f"job:{'x' * 60}{i:04d}" for i in range(400)], 4),  # 26,000 bytes: split under the limit
    ],
)
def test_payloads_carry_every_topic_once_under_the_size_limit(topics: list[str], batches: int) -> None:
    out = payloads("abc123", topics)
    assert len(out) == batches
    assert all(len(p.encode()) < MAX_PAYLOAD and p.startswith("abc123|") for p in out)
    carried = [t for p in out for t in p.partition("|")[2].split(",")]
    assert carried == list(dict.fromkeys(topics))


def test_signals_relay_what_is_notified_here_but_not_what_arrives() -> None:
    sent: list[Sequence[str]] = []
    signals = Signals()
    signals.relay = sent.append
    signals.notify("schedule", "job:1")
    signals.notify_local(["site:a"])
    assert sent == [("schedule", "job:1")]
    assert signals.version("site:a") == 1 and signals.version("job:1") == 1


@pytest.fixture
def pg_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no channel between server processes")
    Database(database_url).migrate()
    return database_url


def test_a_broadcast_reaches_the_other_listener_and_not_its_sender(pg_url: str) -> None:
    got: dict[str, list[str]] = {"a": [], "b": []}
    arrived = threading.Event()

    def deliver(name: str) -> Any:
        def take(topics: Sequence[str]) -> None:
            got[name].extend(topics)
            arrived.set()

        return take

    a, b = Broadcast(pg_url, deliver("a")), Broadcast(pg_url, deliver("b"))
    a.start()
    b.start()
    try:
        assert a.listening.wait(10) and b.listening.wait(10)
        a.publish(["job:1", "site:x"])
        assert arrived.wait(10), "the other server heard nothing"
        assert got["b"] == ["job:1", "site:x"] and got["a"] == []
    finally:
        a.stop()
        b.stop()


def test_a_waiter_on_one_server_wakes_when_another_server_notifies(pg_url: str, tmp_path: Any) -> None:
    planes = [
        ControlPlane(Database(pg_url), Settings(data_dir=tmp_path / name, schedule_interval=60))
        for name in ("one", "two")
    ]
    for plane in planes:
        plane.start()
    try:
        one, two = planes
        assert one.broadcast is not None and two.broadcast is not None
        assert one.broadcast.listening.wait(10) and two.broadcast.listening.wait(10)
        topic = job_topic("job_waited_on")
        seen = two.signals.version(topic)
        one.signals.notify(topic)
        assert two.signals.wait(topic, seen, timeout=10), "the second server's waiter was not woken"
    finally:
        for plane in planes:
            plane.stop()
            plane.db.close()


def test_an_async_waiter_wakes_when_another_thread_notifies_and_holds_no_thread() -> None:
    import asyncio

    signals = Signals()

    async def main() -> tuple[bool, bool, bool, int]:
        seen = signals.version("job:1")
        waiters = [asyncio.create_task(signals.wait_async("job:1", seen, 10)) for _ in range(200)]
        await asyncio.sleep(0.05)
        threads_waiting = threading.active_count()
        threading.Thread(target=signals.notify, args=("job:1",)).start()
        woken = await asyncio.wait_for(asyncio.gather(*waiters), 5)
        quiet = await signals.wait_async("job:2", signals.version("job:2"), 0.05)  # times out
        signals.close()
        closed = await signals.wait_async("job:3", signals.version("job:3"), 10)  # at once
        return all(woken), quiet, closed, threads_waiting

    woken, quiet, closed, threads_waiting = asyncio.run(main())
    assert woken and not quiet and not closed
    assert threads_waiting < 20  # 200 waiters, no thread each
    assert not signals._wakers  # every waiter took its waker back
