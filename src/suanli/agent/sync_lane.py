"""A sync lane: one `POST /agent/sync` at a time, on its own thread and HTTP client.

The runtime keeps two lanes so that a long poll never stands in the way of news: the *long* lane
holds a call open while nothing happens, the *quick* lane reports a change (`wait=0`) the moment
it happens. Each lane hands its outcome to a callback, which must only queue it: all decisions stay
on the runtime's thread.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from suanli.client import Client

__all__ = ["SyncLane", "SyncOutcome"]

# A sync may take its `wait` plus this long before the lane gives up on it.
ANSWER_GRACE_S = 10.0


@dataclass(frozen=True)
class SyncOutcome:
    """How one sync ended: a reply, or the error it raised. `sent_at` is time.monotonic()."""

    lane: SyncLane
    sent_at: float
    context: Any  # what the sender needs to know about what it sent
    reply: dict[str, Any] | None = None
    error: Exception | None = None


class SyncLane:
    """Sends one sync at a time; `busy` is owned by the caller (set here on send, cleared by the caller)."""

    def __init__(self, name: str, client: Client, done: Callable[[SyncOutcome], None]) -> None:
        self.name = name
        self.busy = False
        self._client = client
        self._done = done
        self._requests: queue.Queue[tuple[dict[str, Any], Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name=f"sync-{name}", daemon=True)
        self._thread.start()

    def send(self, body: dict[str, Any], context: Any) -> None:
        """Start one sync with `body` (its `wait` included); the outcome goes to `done`."""
        if self.busy:
            raise RuntimeError(f"sync lane {self.name} is busy")
        self.busy = True
        self._requests.put((body, context))

    def close(self) -> None:
        """Stop after the call in flight, if any (not waited for: it may be a long poll)."""
        self._requests.put(None)

    def _serve(self) -> None:
        try:
            while (request := self._requests.get()) is not None:
                body, context = request
                sent_at = time.monotonic()
                timeout = float(body.get("wait") or 0) + ANSWER_GRACE_S
                try:
                    reply = self._client.agent_sync(body, timeout=timeout)
                except Exception as exc:  # a lane must outlive any error; the runtime judges it
                    self._done(SyncOutcome(self, sent_at, context, error=exc))
                else:
                    self._done(SyncOutcome(self, sent_at, context, reply=reply))
        finally:
            self._client.close()
