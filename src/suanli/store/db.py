"""The database handle: engine set-up for SQLite and PostgreSQL, transactions, migrations."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from suanli.store.broadcast import Broadcast
from suanli.store.errors import Conflict, StoreError, Unavailable
from suanli.store.leader import Leadership
from suanli.store.tx import Tx

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger("suanli.store")


class Database:
    """One engine and its transactions. `transaction()` is the only way to read or write."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        try:
            self.engine = _make_engine(url, echo)
        except ArgumentError as exc:  # a URL SQLAlchemy cannot read
            raise StoreError(f"unreadable database URL: {exc}") from exc
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        # SQLite allows one writer; serialising writers here avoids busy-wait storms under load.
        self._write_lock = threading.Lock() if self.is_sqlite else None
        # Readers need neither the writer lock nor BEGIN IMMEDIATE: in WAL mode they see a consistent
        # snapshot while a writer works. On PostgreSQL both kinds share one engine.
        self._read_engine = _make_engine(url, echo, immediate=False) if self.is_sqlite else self.engine
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False, autoflush=False)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A read-write transaction: commit on success, roll back on any exception."""
        lock = self._write_lock
        if lock is not None:
            lock.acquire()
        try:
            with self._translated(), self._sessions() as session, session.begin():
                yield Tx(session, sqlite=self.is_sqlite)
        finally:
            if lock is not None:
                lock.release()

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A read-only transaction on one consistent snapshot; whatever it writes is rolled back."""
        with self._translated(), self._read_sessions() as session:
            session.begin()
            try:
                yield Tx(session, sqlite=self.is_sqlite)
            finally:
                session.rollback()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Driver errors become store errors at this boundary."""
        try:
            yield
        except IntegrityError as exc:
            # The driver's text names tables and constraints: for the log, not for the caller.
            log.info("write refused by the database: %s", exc.orig)
            raise Conflict("a concurrent request changed the same record first; send it again") from exc
        except OperationalError as exc:
            raise Unavailable(f"database unavailable: {exc.orig}") from exc

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            raise Unavailable(f"database unavailable: {exc.orig}") from exc

    def leadership(self, name: str) -> Leadership:
        """The lead named `name` among the processes sharing this database (`store/leader.py`)."""
        return Leadership(self.engine, self.url, name)

    def broadcast(self, deliver: Callable[[Sequence[str]], None]) -> Broadcast | None:
        """Wake-ups shared with the other servers on this database (`store/broadcast.py`); None on
        SQLite, which has no channel between processes (a second server's waiters wake at their
        timeouts)."""
        return None if self.is_sqlite else Broadcast(self.url, deliver)

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to the newest (or the given) Alembic revision."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
        except OperationalError as exc:  # cannot connect: no such database, refused, bad password
            raise Unavailable(" ".join(str(exc.orig or exc).split())) from exc

    def close(self) -> None:
        self.engine.dispose()
        self._read_engine.dispose()


def shown_url(url: str) -> str:
    """`url` with its password hidden, to show in a message."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.partition("@")[2] or url


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'suanli.db'}"


def _make_engine(url: str, echo: bool, *, immediate: bool = True) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=8,
        )
        _sqlite_pragmas(engine, "BEGIN IMMEDIATE" if immediate else "BEGIN")
        return engine
    if url.startswith("postgresql+psycopg://"):
        return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)
    raise StoreError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://…")


def _sqlite_pragmas(engine: Engine, begin: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin() emit BEGIN itself (the driver's implicit transactions are off).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: no deadlock when a reader later writes.
        conn.exec_driver_sql(begin)


__all__ = ["Database", "Session", "sqlite_url"]
