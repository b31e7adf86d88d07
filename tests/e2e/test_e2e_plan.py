"""Capacity planning from the network's own history, as an operator does it: run jobs on a real
site, `suanli sim-export` them with the network's pools, and replay the files with `suanli sim`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from e2e_net import SUANLI, Network, wait_for


def cli(network: Network, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**network.env, "SUANLI_SERVER": network.url, "SUANLI_TOKEN": network.operator}
    return subprocess.run([*SUANLI, *args], env=env, capture_output=True, text=True, timeout=120)


def test_the_networks_jobs_and_pools_replay_in_the_simulator(network: Network, tmp_path: Path) -> None:
    network.start_agent("sh1", network.add_site("sh1"), "A100:2", "cpu:2")
    tenant = network.add_tenant("acme", "ada")
    with network.client() as op:
        op.set_pool_price("sh1", "a100", "12.50")
        op.topup("acme", "default", "1000.00")
    with network.client(tenant) as c:
        jobs = [
            c.submit_job({"name": f"train-{i}", "run": "sleep 1", "resources": {"accelerators": f"A100:{i}"}})
            for i in (1, 2)
        ]
        cpu_only = c.submit_job({"name": "etl", "run": "true"})
        for job in (*jobs, cpu_only):
            wait_for("the job to end", lambda j=job: c.get_job(j["id"])["state"] == "SUCCEEDED", timeout=60)

    plan = tmp_path / "plan"
    exported = cli(network, "sim-export", str(plan))
    assert exported.returncode == 0, exported.stderr
    assert "wrote 2 jobs of 1 tenant" in exported.stderr and "1 without accelerators" in exported.stderr
    assert f"suanli sim {plan / 'trace.csv'} --network {plan / 'network.yaml'}" in exported.stderr
    rows = (plan / "trace.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("timestamp,duration,num_gpus")
    assert 'price_per_gpu_hour: "12.50"' in (plan / "network.yaml").read_text()

    replay = cli(
        network,
        "sim",
        str(plan / "trace.csv"),
        "--network",
        str(plan / "network.yaml"),
        "--policy",
        "suanli-las",
        "--json",
    )
    assert replay.returncode == 0, replay.stderr
    [run] = json.loads(replay.stdout)["runs"]
    assert run["policy"] == "suanli-las" and run["jobs"] == 2

    empty = cli(network, "sim-export", str(tmp_path / "none"), "--until", "2000-01-01")
    assert empty.returncode == 1 and "no jobs to export" in empty.stderr
    assert not (tmp_path / "none").exists()  # nothing half-written
