"""Fixtures: `network`, a real server process on each database (agents are started by the tests);
`slurm_controller`, to stop and start the local Slurm's controller."""

from __future__ import annotations

import os
import signal
import subprocess
import time
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


class SlurmController:
    """The local Slurm's controller (scripts/ensure-slurm.sh), to stop and start again in a test."""

    PID_FILE = Path("/run/slurmctld.pid")

    def stop(self) -> None:
        pid = int(self.PID_FILE.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
        if Path(f"/proc/{pid}").exists():
            raise AssertionError(f"slurmctld {pid} did not stop")

    def start(self) -> None:
        """As ensure-slurm.sh starts it (`slurmctld` daemonizes, with the same slurm.conf, so the
        cluster keeps its accounting mode), then wait until the node answers in a usable state."""
        subprocess.run(["slurmctld"], check=True, timeout=60)
        deadline = time.monotonic() + 60
        while not self.answers():
            if time.monotonic() > deadline:
                raise AssertionError("slurmctld did not answer within 60 s of its start")
            time.sleep(0.2)

    def running(self) -> bool:
        try:
            return Path(f"/proc/{int(self.PID_FILE.read_text().strip())}").exists()
        except (OSError, ValueError):
            return False

    def answers(self) -> bool:
        try:
            probe = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            return False
        states = probe.stdout.split() if probe.returncode == 0 else []
        return any(state in ("idle", "mixed", "allocated") for state in states)


@pytest.fixture
def slurm_controller() -> Iterator[SlurmController]:
    """Stop and start the local slurmctld; whatever the test does, it is running again afterwards."""
    if os.geteuid() != 0 or not SlurmController.PID_FILE.exists():
        pytest.skip("stopping the local slurmctld needs root and scripts/ensure-slurm.sh's cluster")
    controller = SlurmController()
    try:
        yield controller
    finally:
        if not controller.running():
            controller.start()
