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
    through the sync delays of a loaded 2-core machine; tests of lost attempts ask for a short one."""
    marker = request.node.get_closest_marker("lease")
    net = Network(tmp_path, database_url, lease_ttl=marker.args[0] if marker else 10.0)
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
    ENSURE = Path(__file__).resolve().parents[2] / "scripts" / "ensure-slurm.sh"

    def stop(self) -> None:
        pid = int(self.PID_FILE.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
        if Path(f"/proc/{pid}").exists():
            raise AssertionError(f"slurmctld {pid} did not stop")

    def start(self) -> None:
        """As ensure-slurm.sh starts it, and wait until the node answers idle again."""
        done = subprocess.run([str(self.ENSURE)], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"ensure-slurm.sh failed: {done.stderr}")

    def answers(self) -> bool:
        probe = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
        return probe.returncode == 0 and bool(probe.stdout.strip())


@pytest.fixture
def slurm_controller() -> Iterator[SlurmController]:
    """Stop and start the local slurmctld; whatever the test does, it is running again afterwards."""
    if os.geteuid() != 0 or not SlurmController.PID_FILE.exists():
        pytest.skip("stopping the local slurmctld needs root and scripts/ensure-slurm.sh's cluster")
    controller = SlurmController()
    try:
        yield controller
    finally:
        if not controller.answers():
            controller.start()
