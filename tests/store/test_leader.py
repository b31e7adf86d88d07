"""One scheduler leader among the servers sharing a database: a PostgreSQL advisory lock, or a file
lock beside a SQLite database; taken by one holder at a time, given back on release, and lost when
the holder's session dies."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from suanli.store import Database
from suanli.store.leader import Leadership, lock_key


@pytest.fixture
def two(database_url: str) -> Iterator[tuple[Database, Database]]:
    first, second = Database(database_url), Database(database_url)  # as two server processes would
    first.migrate()
    yield first, second
    first.close()
    second.close()


def test_one_holder_at_a_time_and_the_next_takes_over_on_release(two: tuple[Database, Database]) -> None:
    a, b = (db.leadership("scheduler") for db in two)
    assert a.hold() and a.hold()  # taken, then kept
    assert not b.hold()
    a.release()
    assert b.hold()
    assert not a.hold()
    b.release()


def test_leads_of_different_names_do_not_block_each_other(two: tuple[Database, Database]) -> None:
    first, second = two
    scheduler, reports = first.leadership("scheduler"), second.leadership("reports")
    assert scheduler.hold() and reports.hold()
    assert lock_key("scheduler") != lock_key("reports")
    scheduler.release()
    reports.release()


def test_an_in_memory_database_always_leads() -> None:
    assert Leadership(None, "sqlite://").hold()
    assert Leadership(None, "sqlite:///:memory:").hold()


def test_a_postgres_leader_whose_session_dies_loses_the_lead(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite lead is the process's own file lock: it dies only with the process")
    a_db, b_db = Database(database_url), Database(database_url)
    try:
        a, b = a_db.leadership("scheduler"), b_db.leadership("scheduler")
        assert a.hold() and not b.hold()
        with psycopg.connect(database_url, autocommit=True) as admin:  # the server ends a's session
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                (lock_key("scheduler") & 0xFFFFFFFF,),
            )
        deadline = time.monotonic() + 10  # the backend ends, and drops the lock, a moment later
        while not b.hold():
            assert time.monotonic() < deadline, "the lead was not free after its holder's session ended"
            time.sleep(0.05)
        assert not a.hold()  # a notices its session is gone and cannot take the lead back
        b.release()
        assert a.hold()
        a.release()
    finally:
        a_db.close()
        b_db.close()
