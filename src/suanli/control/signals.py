"""Wake-ups: the scheduling loop, and long polls waiting per site or job.

`Signals` wake waiters in this process. With a `relay` (the server sets `store.Broadcast.publish`
on PostgreSQL), every `notify` also goes to the other servers on the same database, which hand it
to their own `notify_local`."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence


class Signals:
    """Versioned conditions: a waiter returns as soon as its topic's version moves on, or at timeout."""

    def __init__(self) -> None:
        self.relay: Callable[[Sequence[str]], None] | None = None
        self._cond = threading.Condition()
        self._versions: defaultdict[str, int] = defaultdict(int)
        self._closed = False

    def close(self) -> None:
        """Release every waiter now and make later waits return at once (server shutdown)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

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

    @property
    def closed(self) -> bool:
        return self._closed


def site_topic(site_id: str) -> str:
    return f"site:{site_id}"


def job_topic(job_id: str) -> str:
    return f"job:{job_id}"


SCHEDULE = "schedule"
