"""The job path with real processes: `suanli server`, `suanli agent` (local backend) and the CLI."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from e2e_net import Network, wait_for


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def terminal(net: Network, token: str, job_id: str) -> dict[str, object]:
    return wait_for(
        f"job {job_id} to end",
        lambda: (j := net.job(token, job_id))["state"] in ("SUCCEEDED", "FAILED", "CANCELLED") and j,
        timeout=60,
    )


def test_a_job_runs_and_its_output_is_in_its_logs(network: Network, tmp_path: Path) -> None:
    network.start_agent("sh1", network.add_site("sh1"), "cpu:2")
    tenant = network.add_tenant("acme", "ada")
    spec = write(
        tmp_path / "hello.yaml",
        """
        name: hello
        setup: echo preparing
        run: |
          echo "hello from $SUANLI_JOB_ID attempt $SUANLI_ATTEMPT"
          echo oops >&2
          exit 3
    """,
    )
    done = network.cli(tenant, "submit", str(spec), "--wait")
    assert done.returncode == 3, done.stderr  # --wait exits with the job's exit code
    job_id = done.stdout.strip().splitlines()[0]
    assert job_id.startswith("job_")
    logs = network.cli(tenant, "logs", job_id)
    assert logs.returncode == 0
    assert (
        "preparing" in logs.stdout
        and f"hello from {job_id} attempt 1" in logs.stdout
        and "oops" in logs.stdout
    )
    view = json.loads(network.cli(tenant, "job", job_id, "--json").stdout)
    assert (view["state"], view["exit_code"], view["site"]) == ("FAILED", 3, "sh1")


def test_a_running_job_is_cancelled(network: Network, tmp_path: Path) -> None:
    network.start_agent("sh1", network.add_site("sh1"), "cpu:2")
    tenant = network.add_tenant("acme", "ada")
    marker = tmp_path / "still-running"
    with network.client(tenant) as c:
        job = c.submit_job({"name": "sleepy", "run": f"sleep 1000; touch {marker}"})
        wait_for("running", lambda: c.get_job(job["id"])["state"] == "RUNNING")
    assert network.cli(tenant, "cancel", job["id"]).returncode == 0
    assert terminal(network, tenant, job["id"])["state"] == "CANCELLED"
    assert not marker.exists()


def test_max_runtime_kills_a_job(network: Network) -> None:
    network.start_agent("sh1", network.add_site("sh1"), "cpu:2")
    tenant = network.add_tenant("acme", "ada")
    with network.client(tenant) as c:
        job = c.submit_job({"name": "long", "run": "sleep 1000", "resources": {"max_runtime": "2s"}})
    ended = terminal(network, tenant, job["id"])
    assert ended["state"] == "FAILED"
    assert "max_runtime" in str(ended["reason"])


@pytest.mark.lease(3)  # short, so the lost attempt shows fast
def test_a_killed_agent_loses_its_attempt_and_the_job_reruns_on_another_site(
    network: Network, tmp_path: Path
) -> None:
    network.start_agent("sh1", network.add_site("sh1"), "cpu:2")
    tenant = network.add_tenant("acme", "ada")
    runs = tmp_path / "runs"
    runs.mkdir()
    with network.client(tenant) as c:
        job = c.submit_job(
            {
                "name": "moves",
                "retries": 1,
                # the first attempt outlives however long a busy machine takes to start sh2
                "run": f"touch {runs}/$SUANLI_ATTEMPT; [ $SUANLI_ATTEMPT = 1 ] && sleep 120; "
                "echo done-$SUANLI_ATTEMPT",
            }
        )
        wait_for(
            "running on sh1", lambda: (j := c.get_job(job["id"]))["state"] == "RUNNING" and j["site"] == "sh1"
        )
    network.start_agent("sh2", network.add_site("sh2"), "cpu:2")
    network.kill_agent("sh1")
    ended = terminal(network, tenant, job["id"])
    assert ended["state"] == "SUCCEEDED"
    attempts = ended["attempts"]
    assert isinstance(attempts, list)
    assert [(a["site"], a["state"]) for a in attempts] == [("sh1", "LOST"), ("sh2", "SUCCEEDED")]
    with network.client(tenant) as c:
        assert "done-1" not in c.job_logs(job["id"], offset=0)["data"]  # the orphan died with its agent


@pytest.mark.lease(20)  # the restarted agent comes back before the attempt's lease runs out
def test_an_agent_killed_and_restarted_reports_the_attempt_it_lost_and_its_usage(
    network: Network, tmp_path: Path
) -> None:
    token = network.add_site("sh1")
    network.start_agent("sh1", token, "cpu:2")
    tenant = network.add_tenant("acme", "ada")
    with network.client(tenant) as c:
        job = c.submit_job(
            {
                "name": "again",
                "retries": 1,
                "run": "echo run $SUANLI_ATTEMPT; [ $SUANLI_ATTEMPT = 1 ] && sleep 120; true",
            }
        )
        wait_for("running", lambda: c.get_job(job["id"])["state"] == "RUNNING")
        wait_for("its output", lambda: "run 1" in c.job_logs(job["id"], offset=0)["data"])
    network.kill_agent("sh1")
    network.start_agent("sh1", token, "cpu:2")  # the same state dir
    ended = terminal(network, tenant, job["id"])
    assert ended["state"] == "SUCCEEDED"
    first, second = ended["attempts"]  # type: ignore[misc]
    assert (first["state"], second["state"]) == ("FAILED", "SUCCEEDED")
    assert first["reason"] == "its agent ended while it ran (killed by SIGTERM)"
    with network.client() as c:  # both attempts were metered: the provider is paid for the first too
        [site] = c.usage(by="site")["items"]
    assert (site["key"], site["records"]) == ("sh1", 2)


def test_an_agent_stopped_on_purpose_takes_its_site_offline_at_once_and_its_job_runs_again(
    network: Network,
) -> None:
    token = network.add_site("sh1")
    network.start_agent("sh1", token, "cpu:2")
    tenant = network.add_tenant("acme", "ada")
    with network.client(tenant) as c:
        job = c.submit_job(
            {"name": "patient", "run": "echo run $SUANLI_ATTEMPT; [ $SUANLI_ATTEMPT = 1 ] && sleep 120; true"}
        )
        wait_for("running", lambda: c.get_job(job["id"])["state"] == "RUNNING")
    network.stop_agent("sh1")
    # Its last sync said so: the site is not left "online" for a lease after it.
    assert network.site_state("sh1") == "stopped"
    with network.client(tenant) as c:
        waiting = c.get_job(job["id"])
    assert waiting["state"] == "PENDING" and waiting["retries_left"] == 0  # no retry spent
    network.start_agent("sh1", token, "cpu:2")  # back online (start_agent waits for it)
    ended = terminal(network, tenant, job["id"])
    assert ended["state"] == "SUCCEEDED"
    assert [a["state"] for a in ended["attempts"]] == ["FAILED", "SUCCEEDED"]  # type: ignore[index]


@pytest.mark.lease(20)  # the agent must not fence itself while the server restarts
def test_a_server_killed_mid_job_loses_nothing_and_the_job_runs_once(
    network: Network, tmp_path: Path
) -> None:
    network.start_agent("sh1", network.add_site("sh1"), "cpu:2")
    tenant = network.add_tenant("acme", "ada")
    runs = tmp_path / "runs.txt"
    with network.client(tenant) as c:
        job = c.submit_job({"name": "survivor", "run": f"echo run >> {runs}; sleep 3; echo finished"})
        queued = c.submit_job({"name": "queued", "run": "echo second", "resources": {"cpus": 2}})
        wait_for("running", lambda: c.get_job(job["id"])["state"] == "RUNNING")
    network.kill_server()
    network.start_server()
    ended = terminal(network, tenant, job["id"])
    assert ended["state"] == "SUCCEEDED"
    assert [a["state"] for a in ended["attempts"]] == ["SUCCEEDED"]  # type: ignore[union-attr]
    assert runs.read_text() == "run\n"
    assert terminal(network, tenant, queued["id"])["state"] == "SUCCEEDED"
    with network.client(tenant) as c:
        assert c.job_logs(job["id"], offset=0)["data"].count("finished") == 1


def test_tenants_get_404_on_each_others_jobs(network: Network) -> None:
    a = network.add_tenant("acme", "ada")
    b = network.add_tenant("rival", "bob")
    with network.client(a) as c:
        job = c.submit_job({"name": "secret", "run": "true"})
    result = network.cli(b, "job", job["id"])
    assert result.returncode == 3  # not found
    assert network.cli(b, "cancel", job["id"]).returncode == 3
    assert json.loads(network.cli(b, "jobs", "--json").stdout)["items"] == []


def test_an_idempotent_resubmit_creates_one_job(network: Network) -> None:
    tenant = network.add_tenant("acme", "ada")
    with network.client(tenant) as c:
        first = c.submit_job({"name": "once", "run": "true"}, idempotency_key="k-1")
        again = c.submit_job({"name": "once", "run": "true"}, idempotency_key="k-1")
        assert first["id"] == again["id"]
        assert len(c.list_jobs()["items"]) == 1


@pytest.mark.lease(20)  # both sites must stay online throughout, even on a loaded machine
def test_two_sites_with_different_prices_and_carbon_get_the_jobs_their_profiles_choose(
    network: Network,
) -> None:
    network.start_agent("coal", network.add_site("coal"), "A100:2")
    network.start_agent("hydro", network.add_site("hydro"), "A100:2")
    with network.client() as op:
        op.update_site("coal", pue="1.6", carbon_g_per_kwh=900)
        op.update_site("hydro", pue="1.1", carbon_g_per_kwh=40)
        op.set_pool_price("coal", "a100", "8.00")
        op.set_pool_price("hydro", "a100", "20.00")
    tenant = network.add_tenant("acme", "ada")
    with network.client() as op:
        op.topup("acme", "default", "100.00")  # priced pools charge: each job holds an hour's price
    spec = {"name": "train", "run": "echo $CUDA_VISIBLE_DEVICES", "resources": {"accelerators": "A100:1"}}
    with network.client(tenant) as c:
        cheap = c.submit_job({**spec, "objective": "cheapest"})
        green = c.submit_job({**spec, "objective": "greenest"})
    assert terminal(network, tenant, cheap["id"])["site"] == "coal"
    assert terminal(network, tenant, green["id"])["site"] == "hydro"
