"""Fixture `network`: a real server process on each database; agents are started by the tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_net import Network


@pytest.fixture
def network(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Network]:
    """`@pytest.mark.lease(SECONDS)` sets the lease. The default (10 s) keeps a site's attempts alive
    through the sync delays of a loaded 2-core machine; tests of lost attempts ask for a short one.
    `@pytest.mark.server_env(NAME="value", ...)` adds settings to the server's environment."""
    marker = request.node.get_closest_marker("lease")
    net = Network(tmp_path, database_url, lease_ttl=marker.args[0] if marker else 10.0)
    settings = request.node.get_closest_marker("server_env")
    if settings is not None:
        net.env.update({k: str(v) for k, v in settings.kwargs.items()})
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
