"""Wake-ups shared by every server on one PostgreSQL database: LISTEN/NOTIFY on channel `suanli`.

A server's `Signals` wake the waiters of its own process (the scheduling loop, agents' and CLIs'
long polls). With several API replicas, the work that should wake a waiter often happens in another
process: the leader places an attempt while the site's agent long-polls a standby replica; a tenant
submits to a standby while the leader's loop sleeps. `Broadcast` carries topic names between them:

- `publish(topics)` queues them; one thread sends them as `NOTIFY suanli, '<origin>|t1,t2,…'`
  (batched, in payloads under PostgreSQL's 8,000-byte limit), so a request never waits on it.
- one thread `LISTEN`s and hands every topic from another origin to `deliver` (the local
  `Signals.notify_local`). Its own messages come back too and are dropped by their origin.
- Either connection that fails is opened again after a pause: a lost wake-up costs only latency,
  because every waiter also wakes at its timeout (level-triggered syncs, ADR 0002).
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence

import psycopg

__all__ = ["CHANNEL", "Broadcast", "payloads"]

CHANNEL = "suanli"
MAX_PAYLOAD = 7_900  # bytes; PostgreSQL refuses payloads of 8,000 or more
RETRY_S = 1.0

log = logging.getLogger("suanli.store")


def payloads(origin: str, topics: Iterable[str]) -> list[str]:
    """`origin|t1,t2,…` strings, each under `MAX_PAYLOAD` bytes, carrying every topic once."""
    out: list[str] = []
    batch: list[str] = []
    size = len(origin) + 1
    for topic in dict.fromkeys(topics):
        cost = len(topic.encode()) + 1
        if batch and size + cost > MAX_PAYLOAD:
            out.append(f"{origin}|{','.join(batch)}")
            batch, size = [], len(origin) + 1
        batch.append(topic)
        size += cost
    if batch:
        out.append(f"{origin}|{','.join(batch)}")
    return out


class Broadcast:
    """Topic wake-ups between the servers of one PostgreSQL database (module docstring)."""

    def __init__(self, url: str, deliver: Callable[[Sequence[str]], None]) -> None:
        self._url = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self._deliver = deliver
        self.origin = secrets.token_hex(6)
        self._outbox: queue.SimpleQueue[tuple[str, ...] | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.listening = threading.Event()  # set once LISTEN is in place (tests wait for it)

    def start(self) -> None:
        for target, name in ((self._listen, "suanli-listen"), (self._send, "suanli-notify")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._outbox.put(None)
        for thread in self._threads:
            thread.join(timeout=5)

    def publish(self, topics: Sequence[str]) -> None:
        if topics and not self._stop.is_set():
            self._outbox.put(tuple(topics))

    def _send(self) -> None:
        conn: psycopg.Connection | None = None
        while not self._stop.is_set():
            first = self._outbox.get()
            if first is None:
                break
            topics = list(first)
            while True:  # everything queued meanwhile goes in the same NOTIFY
                try:
                    more = self._outbox.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._stop.set()
                    break
                topics.extend(more)
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
                for payload in payloads(self.origin, topics):
                    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
            except psycopg.Error as exc:
                log.warning("could not broadcast wake-ups (%s); waiters wake at their timeouts", exc)
                conn = None
                self._stop.wait(RETRY_S)
        if conn is not None:
            conn.close()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._take(note.payload)
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("lost the wake-up channel (%s); listening again in %.0f s", exc, RETRY_S)
                self._stop.wait(RETRY_S)

    def _take(self, payload: str) -> None:
        origin, _, topics = payload.partition("|")
        if origin != self.origin and topics:
            self._deliver(topics.split(","))
