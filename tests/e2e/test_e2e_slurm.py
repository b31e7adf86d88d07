"""The job path through a real Slurm: the server, an agent with the Slurm backend, the local cluster."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import time

import pytest
from e2e_net import Network, wait_for
from test_e2e_jobs import terminal

from conftest import SlurmController


def _slurm_answers() -> bool:
    if shutil.which("sinfo") is None:
        return False
    probe = subprocess.run(["sinfo", "-h"], capture_output=True, text=True, timeout=20)
    return probe.returncode == 0 and bool(probe.stdout.strip())


pytestmark = pytest.mark.skipif(
    not _slurm_answers(), reason="no Slurm cluster answers (scripts/ensure-slurm.sh)"
)
SLURM = ("gpu_model=A100", "poll_interval=0.2")


def test_a_gpu_job_runs_on_slurm_with_its_gpus_and_logs(network: Network) -> None:
    network.start_agent("hpc", network.add_site("hpc"), backend="slurm", options=SLURM)
    tenant = network.add_tenant("acme", "ada")
    with network.client(tenant) as c:
        job = c.submit_job(
            {
                "name": "gpu",
                "run": "echo gpus=$CUDA_VISIBLE_DEVICES job=$SUANLI_JOB_ID",
                "resources": {"accelerators": "A100:2"},
            }
        )
    ended = terminal(network, tenant, job["id"])
    assert (ended["state"], ended["site"]) == ("SUCCEEDED", "hpc")
    with network.client(tenant) as c:
        logs = c.job_logs(job["id"], offset=0)["data"]
    assert f"gpus=0,1 job={job['id']}" in logs


@pytest.mark.lease(20)
def test_a_slurm_job_survives_an_agent_restart_without_rerunning(network: Network) -> None:
    token = network.add_site("hpc")
    meter = ("--meter-every", "1")  # usage records while it runs, before and after the restart
    network.start_agent("hpc", token, backend="slurm", options=SLURM, extra=meter)
    tenant = network.add_tenant("acme", "ada")
    with network.client(tenant) as c:
        job = c.submit_job({"name": "long", "run": "echo started; sleep 6; echo finished"})
        wait_for("running on slurm", lambda: c.get_job(job["id"])["state"] == "RUNNING", timeout=60)
    network.kill_agent("hpc")
    network.start_agent("hpc", token, backend="slurm", options=SLURM, extra=meter)
    ended = terminal(network, tenant, job["id"])
    assert ended["state"] == "SUCCEEDED"
    assert [a["state"] for a in ended["attempts"]] == ["SUCCEEDED"]  # type: ignore[union-attr]
    with network.client(tenant) as c:
        logs = c.job_logs(job["id"], offset=0)["data"]
    assert logs.count("started") == 1 and "finished" in logs
    records = wait_for(
        "its usage records",
        lambda: (r := network.usage_of(job["id"])) and sum(x.wall_seconds for x in r) >= 6 and r,
    )
    assert len(records) >= 3  # interim records, then the last one
    for before, after in itertools.pairwise(records):  # metered on from where the killed agent stopped
        assert after.started_at == before.ended_at
    assert 6 <= sum(r.wall_seconds for r in records) <= 12


def test_a_job_longer_than_the_partition_allows_is_refused_before_it_reaches_slurm(network: Network) -> None:
    # The partition's MaxTime is 7 days (scripts/ensure-slurm.sh); the agent offers it with the pool,
    # so a 10-day job is refused at submission with the reason, instead of failing in sbatch later
    # (Slurm's own refusal is tested against the backend: tests/agent/test_slurm_backend.py).
    network.start_agent("hpc", network.add_site("hpc"), backend="slurm", options=SLURM)
    tenant = network.add_tenant("acme", "ada")
    wait_for("the partition's limit", lambda: network.cli(tenant, "sites").stdout.count("runs ≤ 7d") == 1)
    spec = network.root / "long.yaml"
    spec.write_text("name: long\nrun: 'true'\nresources: {max_runtime: 10d}\n")
    refused = network.cli(tenant, "submit", str(spec))
    assert refused.returncode != 0
    assert "max_runtime 10d above the pool's limit 7d" in refused.stderr, refused.stderr
    with network.client(tenant) as c:  # what fits the partition runs there
        fine = c.submit_job({"name": "short", "run": "echo fine", "resources": {"max_runtime": "1h"}})
    assert terminal(network, tenant, fine["id"])["state"] == "SUCCEEDED"


# Slurm's and the agent's behaviour does not depend on the server's database: SQLite only.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_jobs_survive_a_controller_outage(network: Network, slurm_controller: SlurmController) -> None:
    network.start_agent("hpc", network.add_site("hpc"), backend="slurm", options=SLURM)
    tenant = network.add_tenant("acme", "ada")
    agent_log = network.root / "agent-hpc.log"
    with network.client(tenant) as c:
        running = c.submit_job({"name": "running", "run": "echo started; sleep 12; echo finished"})
        wait_for("running on slurm", lambda: c.get_job(running["id"])["state"] == "RUNNING", timeout=60)
        slurm_controller.stop()
        down_at = time.monotonic()
        # Placed while the controller is down: sbatch waits for it, the attempt stays STARTING.
        waiting = c.submit_job({"name": "waiting", "run": "echo second"})
        wait_for("the agent to notice", lambda: "Slurm controller unreachable" in agent_log.read_text())
        while time.monotonic() - down_at < 25:  # the running job ends meanwhile on slurmd
            assert network.agents["hpc"].poll() is None, "the agent exited"
            assert c.get_job(running["id"])["state"] == "RUNNING"
            assert c.get_job(waiting["id"])["state"] in ("PENDING", "ASSIGNED", "STARTING")
            time.sleep(1)
    slurm_controller.start()
    for job in (running, waiting):
        ended = terminal(network, tenant, job["id"])
        assert ended["state"] == "SUCCEEDED", ended
        assert [a["state"] for a in ended["attempts"]] == ["SUCCEEDED"]  # type: ignore[union-attr]
    with network.client(tenant) as c:
        first = c.job_logs(running["id"], offset=0)["data"]
        second = c.job_logs(waiting["id"], offset=0)["data"]
    assert first == "started\nfinished\n" and second == "second\n"
    log = agent_log.read_text()
    assert "Slurm controller reachable again" in log
    assert "lease lost" not in log
