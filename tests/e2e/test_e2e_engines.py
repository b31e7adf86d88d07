"""One network, three engines: the real server with a local, a Slurm and a Ray site at once; a job
pinned to each (`constraints.sites`) runs there, its output arrives, and each is cancelled."""

from __future__ import annotations

import subprocess

import pytest
from e2e_net import Network, wait_for
from test_e2e_jobs import terminal
from test_e2e_ray import ADDRESS, START_S, _ray_answers, _ray_job
from test_e2e_slurm import _slurm_answers

pytestmark = [
    pytest.mark.skipif(not _slurm_answers(), reason="no Slurm cluster answers (scripts/ensure-slurm.sh)"),
    pytest.mark.skipif(
        not _ray_answers(), reason=f"no Ray Jobs API answers at {ADDRESS} (scripts/ensure-ray.sh)"
    ),
]
ENGINES = {
    "loc": ("local", ()),
    "hpc": ("slurm", ("gpu_model=A100", "poll_interval=0.2")),
    "lab": ("ray", (f"address={ADDRESS}", "gpu_model=A100", "poll_interval=0.3")),
}


def _slurm_state(attempt_id: str) -> str:
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", f"--name=suanli-{attempt_id}", "-o", "%T"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return out.stdout.strip()


# Three agents and a Ray cluster on two cores: the engines are what is tested, not the database.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_job_on_each_engine_runs_logs_and_is_cancelled(network: Network) -> None:
    for site, (backend, options) in ENGINES.items():
        network.start_agent(site, network.add_site(site), backend=backend, options=options)
    tenant = network.add_tenant("acme", "ada")
    jobs: dict[str, str] = {}
    with network.client(tenant) as c:
        for site in ENGINES:
            spec = {
                "name": f"on-{site}",
                "run": f"echo hello from $SUANLI_JOB_ID on {site}; sleep 1000",
                "constraints": {"sites": [site]},
            }
            jobs[site] = c.submit_job(spec)["id"]
        for site, job_id in jobs.items():
            wait_for(
                f"{job_id} running on {site}",
                lambda job_id=job_id: c.get_job(job_id)["state"] == "RUNNING",  # type: ignore[misc]
                timeout=START_S,
            )
            assert c.get_job(job_id)["site"] == site
            wait_for(
                f"the output of {job_id}",
                lambda job_id=job_id, site=site: (  # type: ignore[misc]
                    f"hello from {job_id} on {site}\n" in c.job_logs(job_id, offset=0)["data"]
                ),
                timeout=60,
            )
    for job_id in jobs.values():
        assert network.cli(tenant, "cancel", job_id).returncode == 0
    ended = {site: terminal(network, tenant, job_id) for site, job_id in jobs.items()}
    assert {site: job["state"] for site, job in ended.items()} == dict.fromkeys(ENGINES, "CANCELLED")
    attempts = {site: job["attempts"][0]["id"] for site, job in ended.items()}  # type: ignore[index]
    # The engines stopped them too.
    wait_for("Slurm to cancel it", lambda: _slurm_state(attempts["hpc"]) in ("", "CANCELLED"))
    wait_for(
        "Ray to stop it",
        lambda: (r := _ray_job(attempts["lab"])) is None or r["status"] == "STOPPED",
    )
    assert all(network.agents[site].poll() is None for site in ENGINES)
