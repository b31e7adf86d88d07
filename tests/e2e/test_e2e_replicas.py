"""Two servers on one database: both serve the API, one leads the scheduler; when the leader is
killed, the other takes over and jobs keep being placed."""

from __future__ import annotations

import re

import httpx
from e2e_net import Network, wait_for

from suanli.client import Client


def leads(url: str) -> bool | None:
    """What a server's /metrics says of its scheduler: True leading, False standing by."""
    try:
        text = httpx.get(f"{url}/metrics", timeout=5).text
    except httpx.HTTPError:
        return None
    found = re.search(r"^suanli_scheduler_leader (\S+)$", text, re.M)
    return None if found is None else float(found.group(1)) == 1.0


def ran(url: str, token: str, name: str) -> str:
    with Client(url, token, timeout=30) as c:
        job = c.submit_job({"name": name, "run": f"echo {name}"})
    wait_for(
        f"{name} to succeed",
        lambda: Client(url, token, timeout=30).get_job(job["id"])["state"] == "SUCCEEDED",
        timeout=90,
    )
    return str(job["id"])


def test_one_server_leads_and_the_other_takes_over_when_it_is_killed(network: Network) -> None:
    replica, replica_url = network.start_replica()
    wait_for("one leader", lambda: (leads(network.url), leads(replica_url)) == (True, False), timeout=30)
    assert httpx.get(f"{replica_url}/healthz", timeout=5).json()["scheduler"] == "standby"
    # the agent and the tenant talk to the replica; the first server schedules
    network.start_agent("sh1", network.add_site("sh1"), "cpu:2", server=replica_url)
    tenant = network.add_tenant("acme", "ada")
    ran(replica_url, tenant, "before")

    # `suanli why` on the standby says where a waiting job stands, as the leader would: the
    # standby works out its own view of the queue (the leader's last cycle is in its memory)
    with Client(replica_url, tenant, timeout=30) as c:
        hog = c.submit_job({"name": "hog", "run": "sleep 120", "resources": {"cpus": 2}})
        wait_for("the hog to run", lambda: c.get_job(hog["id"])["state"] == "RUNNING", timeout=60)
        waiter = c.submit_job({"name": "waiter", "run": "true", "resources": {"cpus": 2}})
        why = c.why_job(waiter["id"])
        assert why["state"] == "PENDING"
        assert why["queue"] is not None and "no waiting job goes before it" in why["queue"]
        c.cancel_job(waiter["id"])
        c.cancel_job(hog["id"])

    network.kill_server()
    wait_for("the replica to lead", lambda: leads(replica_url) is True, timeout=30)
    job_id = ran(replica_url, tenant, "after")
    with Client(replica_url, tenant, timeout=30) as c:
        assert c.get_job(job_id)["site"] == "sh1"
    assert replica.poll() is None
