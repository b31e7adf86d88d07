"""The job path through a real Ray: the server, an agent with the Ray backend, the local cluster
(scripts/ensure-ray.sh: 2 CPUs and 4 fake GPUs that Ray hands out as CUDA_VISIBLE_DEVICES)."""

from __future__ import annotations

import os

import httpx
import pytest
from e2e_net import Network, wait_for
from test_e2e_jobs import terminal

ADDRESS = f"http://127.0.0.1:{os.environ.get('SUANLI_RAY_DASHBOARD_PORT', '8265')}"


def _ray_answers() -> bool:
    try:
        return httpx.get(f"{ADDRESS}/api/jobs/", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


pytestmark = pytest.mark.skipif(
    not _ray_answers(), reason=f"no Ray Jobs API answers at {ADDRESS} (scripts/ensure-ray.sh)"
)
RAY = (f"address={ADDRESS}", "gpu_model=A100", "poll_interval=0.3")
# A Ray job's start (its supervisor actor and driver) takes seconds, more on a busy 2-core machine.
START_S = 120


def _ray_job(submission_id: str) -> dict[str, object] | None:
    response = httpx.get(f"{ADDRESS}/api/jobs/{submission_id}", timeout=10)
    return response.json() if response.status_code == 200 else None  # type: ignore[no-any-return]


def _running(network: Network, tenant: str, job_id: str) -> dict[str, object]:
    return wait_for(  # type: ignore[no-any-return]
        "running on Ray",
        lambda: (j := network.job(tenant, job_id))["state"] == "RUNNING" and j,
        timeout=START_S,
    )


@pytest.mark.lease(10)  # a busy 2-core machine can delay a sync past the default 3 s lease's margin
def test_a_gpu_job_runs_on_ray_with_its_gpus_and_logs(network: Network) -> None:
    network.start_agent("lab", network.add_site("lab"), backend="ray", options=RAY)
    tenant = network.add_tenant("acme", "ada")
    with network.client(tenant) as c:
        job = c.submit_job(
            {
                "name": "gpu",
                "setup": "echo preparing",
                "run": "echo gpus=$CUDA_VISIBLE_DEVICES job=$SUANLI_JOB_ID",
                "resources": {"accelerators": "A100:2"},
            }
        )
    ended = wait_for(
        "the job to end",
        lambda: (j := network.job(tenant, job["id"]))["state"] in ("SUCCEEDED", "FAILED", "CANCELLED") and j,
        timeout=START_S,
    )
    assert (ended["state"], ended["site"]) == ("SUCCEEDED", "lab"), ended
    with network.client(tenant) as c:
        logs = wait_for("the logs", lambda: c.job_logs(job["id"], offset=0)["data"], timeout=30)
    assert logs == f"preparing\ngpus=0,1 job={job['id']}\n"


@pytest.mark.lease(10)
def test_a_running_ray_job_is_cancelled(network: Network) -> None:
    network.start_agent("lab", network.add_site("lab"), backend="ray", options=RAY)
    tenant = network.add_tenant("acme", "ada")
    with network.client(tenant) as c:
        job = c.submit_job({"name": "sleepy", "run": "echo started; sleep 1000"})
    running = _running(network, tenant, job["id"])
    assert network.cli(tenant, "cancel", job["id"]).returncode == 0
    assert terminal(network, tenant, job["id"])["state"] == "CANCELLED"
    (attempt,) = running["attempts"]  # type: ignore[misc]
    ray_job = wait_for(
        "Ray to stop it", lambda: (r := _ray_job(attempt["id"])) is None or r["status"] != "RUNNING"
    )
    assert ray_job is True or ray_job["status"] == "STOPPED"  # deleted once acked, else stopped


# The lease must outlast a new agent's start on a busy 2-core machine (tens of seconds), or the
# server rightly declares the attempt lost before the new agent reports it.
@pytest.mark.lease(60)
def test_a_ray_job_survives_an_agent_restart_without_rerunning(network: Network) -> None:
    token = network.add_site("lab")
    network.start_agent("lab", token, backend="ray", options=RAY)
    tenant = network.add_tenant("acme", "ada")
    with network.client(tenant) as c:
        job = c.submit_job({"name": "long", "run": "echo started; sleep 8; echo finished"})
    _running(network, tenant, job["id"])
    network.kill_agent("lab")
    network.start_agent("lab", token, backend="ray", options=RAY)
    ended = terminal(network, tenant, job["id"])
    assert ended["state"] == "SUCCEEDED", [(a["state"], a.get("reason")) for a in ended["attempts"]]  # type: ignore[union-attr]
    assert [a["state"] for a in ended["attempts"]] == ["SUCCEEDED"]  # type: ignore[union-attr]
    with network.client(tenant) as c:
        logs = c.job_logs(job["id"], offset=0)["data"]
    assert logs.count("started") == 1 and "finished" in logs
