"""Fixture `network`: a real server process on each database; agents are started by the tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_net import Network


@pytest.fixture
def network(database_url: str, tmp_path: Path) -> Iterator[Network]:
    net = Network(tmp_path, database_url)
    net.start_server()
    try:
        yield net
    except BaseException:
        print(net.logs())
        raise
    finally:
        net.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
