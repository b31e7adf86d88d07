"""Wake-ups: the scheduling loop, and long polls waiting per site or job.

`Signals` wake waiters in this process. With a `relay` (the server sets `store.Broadcast.publish`
on PostgreSQL), every `notify` also goes to the other servers on the same database, which hand it
to their own `notify_local`."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence


class Signals:
    """Versioned conditions: a waiter returns as soon as its topic's version moves on, or at timeout.

    Threads wait with `wait` (the scheduling loop); requests with `wait_async`, which holds no thread,
    so a thousand long polls and log follows do not use up the server's worker threads."""

    def __init__(self) -> None:
        self.relay: Callable[[Sequence[str]], None] | None = None
        self._cond = threading.Condition()
        self._versions: defaultdict[str, int] = defaultdict(int)
        self._wakers: defaultdict[str, set[Callable[[], None]]] = defaultdict(set)
        self._closed = False

    def close(self) -> None:
        """Release every waiter now and make later waits return at once (server shutdown)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            for wakers in self._wakers.values():
                for wake in wakers:
                    wake()

    def version(self, topic: str) -> int:
        with self._cond:
            return self._versions[topic]

    def notify(self, *topics: str) -> None:
        """Wake this process's waiters on `topics`, and the other servers' through the relay."""
        self.notify_local(topics)
        relay = self.relay
        if relay is not None and topics:
            relay(topics)

    def notify_local(self, topics: Sequence[str]) -> None:
        """Wake only this process's waiters (what arrives from other servers)."""
        with self._cond:
            for topic in topics:
                self._versions[topic] += 1
                for wake in self._wakers.get(topic, ()):
                    wake()
            self._cond.notify_all()

    def wait(self, topic: str, since: int, timeout: float) -> bool:
        """True if `topic` moved past version `since` within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._versions[topic] == since and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return self._versions[topic] != since

    async def wait_async(self, topic: str, since: int, timeout: float) -> bool:
        """`wait` for a coroutine: the event loop is woken from whichever thread notifies."""
        loop = asyncio.get_running_loop()
        moved = asyncio.Event()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # its loop has closed (server shutdown): nobody waits
                loop.call_soon_threadsafe(moved.set)

        with self._cond:
            if self._versions[topic] != since or self._closed:
                return self._versions[topic] != since
            self._wakers[topic].add(wake)
        try:
            await asyncio.wait_for(moved.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._cond:
                wakers = self._wakers.get(topic)
                if wakers is not None:
                    wakers.discard(wake)
                    if not wakers:
                        del self._wakers[topic]
        return self.version(topic) != since

    @property
    def closed(self) -> bool:
        return self._closed


def site_topic(site_id: str) -> str:
    return f"site:{site_id}"


def job_topic(job_id: str) -> str:
    return f"job:{job_id}"


SCHEDULE = "schedule"
