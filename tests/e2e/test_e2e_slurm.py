"""The job path through a real Slurm: the server, an agent with the Slurm backend, the local cluster."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from e2e_net import Network, wait_for
from test_e2e_jobs import terminal


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
    network.start_agent("hpc", token, backend="slurm", options=SLURM)
    tenant = network.add_tenant("acme", "ada")
    with network.client(tenant) as c:
        job = c.submit_job({"name": "long", "run": "echo started; sleep 6; echo finished"})
        wait_for("running on slurm", lambda: c.get_job(job["id"])["state"] == "RUNNING", timeout=60)
    network.kill_agent("hpc")
    network.start_agent("hpc", token, backend="slurm", options=SLURM)
    ended = terminal(network, tenant, job["id"])
    assert ended["state"] == "SUCCEEDED"
    assert [a["state"] for a in ended["attempts"]] == ["SUCCEEDED"]  # type: ignore[union-attr]
    with network.client(tenant) as c:
        logs = c.job_logs(job["id"], offset=0)["data"]
    assert logs.count("started") == 1 and "finished" in logs
