"""Shared fixtures: a fresh database on SQLite and on PostgreSQL for every test that asks for one."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from suanli.store import Database

# Property tests: `.ci/run` loads the `ci` profile (the same examples every run, so a landing is
# never turned back by a draw no one can replay; failures print the blob to reproduce them);
# so does any CI that sets `CI`; elsewhere each run draws afresh, to keep finding new cases.
# `HYPOTHESIS_PROFILE` picks one.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

PG_ADMIN_URL = os.environ.get("SUANLI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:  # any failure means: no PostgreSQL to test against
        return str(exc)


@pytest.fixture(scope="session")
def pg_admin() -> str:
    why = _pg_available()
    if why is not None:
        if os.environ.get("SUANLI_REQUIRE_PG"):
            pytest.fail(f"PostgreSQL required but unavailable: {why}")
        pytest.skip(f"PostgreSQL unavailable: {why}")
    return PG_ADMIN_URL


def make_pg_database(admin_url: str) -> str:
    import psycopg

    name = f"suanli_t_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(admin_url: str, url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: SQLite in tmp_path, or a new PostgreSQL database dropped after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'suanli.db'}"
        return
    admin = request.getfixturevalue("pg_admin")
    url = make_pg_database(admin)
    try:
        yield url
    finally:
        drop_pg_database(admin, url)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A fresh database on each backend, migrated to the newest schema."""
    database = Database(database_url)
    database.migrate()
    yield database
    database.close()
