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


def test_a_job_slurm_refuses_fails_with_slurms_reason_and_the_agent_goes_on(network: Network) -> None:
    # suanli places it (a runtime of 10 days is allowed and the pool has no limit of its own), but
    # the partition's MaxTime is 7 days and EnforcePartLimits=ALL (scripts/ensure-slurm.sh).
    network.start_agent("hpc", network.add_site("hpc"), backend="slurm", options=SLURM)
    tenant = network.add_tenant("acme", "ada")
    with network.client(tenant) as c:
        job = c.submit_job({"name": "long", "run": "true", "resources": {"max_runtime": "10d"}})
    ended = terminal(network, tenant, job["id"])
    assert (ended["state"], ended["site"]) == ("FAILED", "hpc")
    (attempt,) = ended["attempts"]  # type: ignore[misc]
    assert attempt["reason"] == (
        "Slurm did not take it: Requested time limit is invalid (missing or exceeds some limit)"
    )
    shown = network.cli(tenant, "job", job["id"])
    assert shown.returncode == 0 and "Requested time limit is invalid" in shown.stdout, shown.stdout
    assert network.agents["hpc"].poll() is None
    with network.client(tenant) as c:  # the site still runs what Slurm takes
        fine = c.submit_job({"name": "short", "run": "echo fine", "resources": {"max_runtime": "1h"}})
    assert terminal(network, tenant, fine["id"])["state"] == "SUCCEEDED"
