"""Fixture `net`: the in-process API harness from api_net.py on each database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from api_net import Clock, Net
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.control import bootstrap
from suanli.control.plane import ControlPlane
from suanli.control.settings import Settings
from suanli.store import Database


@contextmanager
def running_net(database_url: str, tmp_path: Any, **settings: Any) -> Iterator[Net]:
    """The harness on a fresh database, with `Settings` beyond the defaults the tests share."""
    db = Database(database_url)
    db.migrate()
    clock = Clock()
    config = Settings(data_dir=tmp_path, lease_ttl=30, lease_grace=10, start_timeout=120, **settings)
    cp = ControlPlane(db, config, clock)
    first = bootstrap.ensure_demo(db, clock())
    assert first is not None
    with TestClient(create_app(cp, manage_plane=False)) as http:
        yield Net(http, cp, clock, first.operator_token, first.tenant_token)
    db.close()


@pytest.fixture
def net(database_url: str, tmp_path: Any) -> Iterator[Net]:
    with running_net(database_url, tmp_path) as harness:
        yield harness
