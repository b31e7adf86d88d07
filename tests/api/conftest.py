"""Fixture `net`: the in-process API harness from api_net.py on each database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from api_net import Net, running_net


@pytest.fixture
def net(database_url: str, tmp_path: Any) -> Iterator[Net]:
    with running_net(database_url, tmp_path) as harness:
        yield harness
