"""Which server process leads: the one that runs the scheduling loop and the money duties.

Several API replicas may serve one database; one of them schedules (ARCHITECTURE: "one scheduler
leader"). The lead is a lock the database's host releases when the holder dies, so a crashed leader
needs no clean-up and no timeout before another replica takes over:

- **PostgreSQL**: a session-level advisory lock (`pg_try_advisory_lock`) held on a connection of its
  own, outside the pool. The server drops it the moment that connection ends (process killed, network
  cut long enough for the server to notice). `hold()` checks the connection on every call, so a
  leader whose connection died stops leading at its next cycle.
- **SQLite**: an exclusive `flock` on a file beside the database (`<db>.<name>.leader`); the kernel drops it
  when the process exits. An in-memory database has one process by construction: it always leads.

Leading is about not doing the work twice, not about correctness: every write of a cycle is checked
again under row locks and fencing tokens, so two leaders for a moment (a partition the old one has not
noticed yet) place nothing twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

__all__ = ["Leadership", "lock_key"]


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for `name` (the same in every replica)."""
    return int.from_bytes(hashlib.sha256(f"suanli:{name}".encode()).digest()[:8], "big", signed=True)


class Leadership:
    """Take, keep and give up the lead named `name` on the database at `url` (module docstring)."""

    def __init__(self, engine: Any, url: str, name: str = "scheduler") -> None:
        self._engine, self._name = engine, name
        self._key = lock_key(name)
        self._conn: Connection | None = None
        self._fd: int | None = None
        self._path = _sqlite_file(url, name)
        self._postgres = url.startswith("postgresql")
        self._always = not self._postgres and self._path is None

    def hold(self) -> bool:
        """Whether this process leads now: keeps a lead it has (if still alive), else tries to take it."""
        if self._always:
            return True
        if self._postgres:
            return self._hold_postgres()
        return self._hold_file()

    def release(self) -> None:
        """Give the lead up (a clean shutdown: another replica may take it at once)."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
                conn.close()
            except DBAPIError:
                conn.invalidate()
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor drops the flock

    def _hold_postgres(self) -> bool:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1"))
                return True
            except DBAPIError:  # the session is gone, and with it the lock
                self._conn.invalidate()
                self._conn = None
        try:
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except DBAPIError:
            return False
        try:
            taken = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar())
        except DBAPIError:
            conn.invalidate()
            return False
        if not taken:
            conn.close()
            return False
        self._conn = conn
        return True

    def _hold_file(self) -> bool:
        if self._fd is not None:
            return True
        assert self._path is not None
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True


def _sqlite_file(url: str, name: str) -> Path | None:
    """The lock file beside a SQLite database file; None for an in-memory one (or not SQLite)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if not path or path == ":memory:" or path.startswith("file::memory:"):
        return None
    return Path(f"{path.split('?', 1)[0]}.{name}.leader")
