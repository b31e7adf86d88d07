"""Preemption with real processes: a low-priority job is signalled, requeued, and resumes from its
checkpoint after a high-priority job took its place; its logs show both attempts and where each begins."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from e2e_net import Network, wait_for

# A job that counts steps, saves each to a checkpoint file and, started again, carries on from it;
# SIGTERM makes it say so and stop at once (a background sleep + wait lets bash run the trap now).
RESUMABLE = textwrap.dedent(
    """
    step=0
    if [ -f "$CKPT" ]; then step=$(cat "$CKPT"); echo "resuming from step $step"; fi
    trap 'echo "got TERM at step $step"; exit 143' TERM
    while [ "$step" -lt 40 ]; do
      step=$((step + 1)); echo "$step" > "$CKPT"
      sleep 0.25 & wait $!
    done
    echo "finished at step $step"
    """
)


@pytest.mark.server_env(SUANLI_PREEMPT_AFTER="0")
def test_a_preemptible_job_is_signalled_requeued_and_resumes(network: Network, tmp_path: Path) -> None:
    network.start_agent("sh1", network.add_site("sh1"), "cpu:2")
    tenant = network.add_tenant("acme", "ada")
    with network.client() as op:
        op.set_quota("acme", max_priority="high")
    checkpoint = tmp_path / "ckpt"
    with network.client(tenant) as c:
        low = c.submit_job(
            {
                "name": "batch",
                "run": RESUMABLE,
                "env": {"CKPT": str(checkpoint)},
                "priority": "low",
                "retries": 0,
                "resources": {"cpus": 2},
            }
        )
        wait_for("a few steps done", lambda: checkpoint.exists() and int(checkpoint.read_text() or 0) >= 4)
        urgent = c.submit_job(
            {"name": "urgent", "run": "echo urgent done", "priority": "high", "resources": {"cpus": 2}}
        )
        done = wait_for(
            "the urgent job to finish",
            lambda: (j := c.get_job(urgent["id"]))["state"] in ("SUCCEEDED", "FAILED") and j,
            timeout=90,
        )
        assert done["state"] == "SUCCEEDED"
        ended = wait_for(
            "the low job to finish",
            lambda: (j := c.get_job(low["id"]))["state"] in ("SUCCEEDED", "FAILED", "CANCELLED") and j,
            timeout=120,
        )
        assert ended["state"] == "SUCCEEDED"  # retries 0, yet it ran again: a preemption is not a failure
        why = c.why_job(low["id"])
        assert why["preemptions"] == 1
        shown = network.cli(tenant, "logs", low["id"])
        logs = shown.stdout
        first = network.cli(tenant, "logs", low["id"], "--attempt", "1").stdout
        second = network.cli(tenant, "logs", low["id"], "--attempt", "2").stdout
        seams = c.job_logs(low["id"])["attempts"]
        said = " ".join(network.cli(tenant, "why", low["id"]).stdout.split())
    assert "was preempted 1 time, each time queued again with its retries untouched" in said
    assert f"preempted for job {urgent['id']} of a higher priority" in said
    assert "got TERM at step" in logs and "resuming from step" in logs and "finished at step 40" in logs
    stopped = int(logs.split("got TERM at step ")[1].split()[0])
    resumed = int(logs.split("resuming from step ")[1].split()[0])
    assert resumed >= stopped >= 4  # it carried on from where it was stopped, not from the start
    # Its two attempts' output, one after the other on stdout; on stderr, where the second begins.
    assert shown.stderr.strip() == "── attempt 2 on site sh1, pool cpu ──", shown.stderr
    assert "got TERM at step" in first and "resuming" not in first and "finished" not in first
    assert (
        second.startswith("resuming from step") and "finished at step 40" in second and "TERM" not in second
    )
    assert logs == first + second
    assert [(a["number"], a["offset"], a["site"], a["pool"]) for a in seams] == [
        (1, 0, "sh1", "cpu"),
        (2, len(first.encode()), "sh1", "cpu"),
    ]
