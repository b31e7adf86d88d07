"""The agent's sync loop against a fake control plane, with real local processes."""

from __future__ import annotations

import itertools
import logging
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fake_control_plane import AGENT_TOKEN, ENROLL_TOKEN, FakeControlPlane, launch

from suanli.agent.errors import AgentError, AgentUnauthorized
from suanli.agent.pools import LocalPool, Machine, parse_pools
from suanli.agent.runtime import LEASE_LOST, SHUT_DOWN, AgentConfig, run_agent
from suanli.domain.resources import POOL_NAME_RULE

POOLS = parse_pools(["cpu:4", "gpu=A100:2"], Machine(cpus=4, memory_mib=4096))


@dataclass
class RunningAgent:
    thread: threading.Thread
    stop: threading.Event
    errors: list[BaseException] = field(default_factory=list)

    def shut_down(self, timeout: float = 15.0) -> None:
        self.stop.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "agent did not stop"
        assert not self.errors, self.errors


def config(tmp_path: Path, cp: FakeControlPlane, **overrides: Any) -> AgentConfig:
    values: dict[str, Any] = {
        "server": "http://control.test",
        "token": AGENT_TOKEN,
        "site": "lab",
        "pools": POOLS,
        "state_dir": tmp_path / "state",
        "kill_grace": 0.5,
        "max_backoff": 0.2,
        "transport": cp.transport(),
    }
    return AgentConfig(**(values | overrides))


def start(cfg: AgentConfig) -> RunningAgent:
    stop = threading.Event()
    agent = RunningAgent(threading.Thread(target=lambda: None), stop)

    def main() -> None:
        try:
            run_agent(cfg, stop)
        except BaseException as exc:
            agent.errors.append(exc)

    agent.thread = threading.Thread(target=main, daemon=True)
    agent.thread.start()
    return agent


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_launch_is_reported_running_then_succeeded_with_its_output_and_usage(tmp_path: Path) -> None:
    cp = FakeControlPlane(auto_ack=False)
    agent = start(config(tmp_path, cp))
    cp.add_launch(launch("att_1", "echo hello; echo oops >&2; sleep 0.3", pool="gpu", gpus=1))
    cp.wait_for(lambda cp: cp.state("att_1") == "SUCCEEDED" and "oops" in cp.logs.get("att_1", ""))
    agent.shut_down()

    assert ("att_1", "RUNNING") in cp.state_seen_at
    # Only its last report says the agent is stopping (the server takes the site offline at once).
    assert cp.syncs[-1].get("stopping") is True and not any(b.get("stopping") for b in cp.syncs[:-1])
    final = cp.states["att_1"]
    assert final["fencing_token"] == 7 and final["exit_code"] == 0 and final["reason"] is None
    assert final["started_at"].endswith("Z") and final["ended_at"].endswith("Z")
    assert cp.logs["att_1"] == "hello\noops\n"
    [record] = cp.usage.values()
    assert record["seq"] == 1 and record["attempt_id"] == "att_1"
    started = datetime.fromisoformat(final["started_at"].replace("Z", "+00:00"))
    ended = datetime.fromisoformat(final["ended_at"].replace("Z", "+00:00"))
    elapsed = (ended - started).total_seconds()  # 0.3 s of sleep, more on a busy machine
    # whole seconds (rounded), matching the run the attempt reported
    assert isinstance(record["wall_seconds"], int) and abs(record["wall_seconds"] - elapsed) <= 1
    assert cp.syncs[0]["pools"] == [
        {"name": "cpu", "accelerator": None, "accelerators_per_node": 0, "nodes": 1, "cpus_per_node": 4,
         "memory_mib_per_node": 4096},
        {"name": "gpu", "accelerator": "A100", "accelerators_per_node": 2, "nodes": 1, "cpus_per_node": 4,
         "memory_mib_per_node": 4096},
    ]  # fmt: skip


def test_an_attempt_is_reported_ended_only_once_all_its_output_is_sent(tmp_path: Path) -> None:
    """A sync carries at most a chunk of each attempt's output: an attempt that ends with more still
    to send is reported running until the rest is in, so a reader told the job ended and its log is
    complete (`suanli logs -f`) has all of it. Its last usage record comes with its end, not before:
    the server takes a record of an ended attempt as the final capture of its hold."""
    cp = FakeControlPlane()
    agent = start(config(tmp_path, cp))
    cp.add_launch(launch("att_1", "head -c 3000000 /dev/zero | tr '\\0' x", pool="cpu"))
    cp.wait_for(lambda cp: cp.state("att_1") == "SUCCEEDED", timeout=30)
    agent.shut_down()
    assert cp.output_when_ended["att_1"] == 3_000_000 == len(cp.logs["att_1"])
    last = max(seq for seq, r in cp.usage.items() if r["attempt_id"] == "att_1")
    assert cp.state_at_usage[last] == "SUCCEEDED"


def test_a_running_attempt_is_metered_in_intervals_that_add_up_to_its_run(tmp_path: Path) -> None:
    cp = FakeControlPlane()
    agent = start(config(tmp_path, cp, meter_every=1.0))
    cp.add_launch(launch("att_1", "sleep 3.5", pool="gpu", gpus=2))
    cp.wait_for(lambda cp: cp.state("att_1") == "RUNNING" and len(cp.usage) >= 2, timeout=15)
    assert cp.state("att_1") == "RUNNING"  # charged while it runs, not only at its end
    cp.wait_for(
        lambda cp: (
            cp.state("att_1") == "SUCCEEDED"
            and any(r["ended_at"] == cp.states["att_1"]["ended_at"] for r in cp.usage.values())
        ),
        timeout=15,
    )
    agent.shut_down()
    records = [cp.usage[seq] for seq in sorted(cp.usage)]
    assert len(records) >= 3
    for before, after in itertools.pairwise(records):
        assert after["started_at"] == before["ended_at"]  # one after the other, never overlapping
    for interim in records[:-1]:
        wall = interim["wall_seconds"]
        assert wall >= 1 and (interim["accelerator_seconds"], interim["cpu_seconds"]) == (2 * wall, wall)
    final = cp.states["att_1"]
    assert records[0]["started_at"] == final["started_at"] and records[-1]["ended_at"] == final["ended_at"]
    started = datetime.fromisoformat(final["started_at"].replace("Z", "+00:00"))
    ended = datetime.fromisoformat(final["ended_at"].replace("Z", "+00:00"))
    assert abs(sum(r["wall_seconds"] for r in records) - (ended - started).total_seconds()) <= 1


def test_the_agent_says_what_it_offers_and_each_attempt_it_starts_and_ends(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="suanli.agent")
    cp = FakeControlPlane(auto_ack=False)
    agent = start(config(tmp_path, cp))
    cp.add_launch(launch("att_1", "true", pool="gpu", gpus=1))
    cp.wait_for(lambda cp: cp.state("att_1") == "SUCCEEDED")
    said = len(caplog.records)
    synced = len(cp.syncs)
    cp.wait_for(lambda cp: len(cp.syncs) >= synced + 3)
    assert len(caplog.records) == said  # quiet between changes: no line per sync
    agent.shut_down()
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("suanli.agent")]
    assert any(
        line.startswith("site ") and line.endswith("offers cpu (1 node x 4 CPUs), gpu (1 node x 2 A100)")
        for line in lines
    ), lines
    assert any("started attempt att_1" in line for line in lines)
    assert any(line.startswith("attempt att_1 SUCCEEDED") for line in lines)


def test_a_pool_no_job_can_use_is_offered_with_a_warning_that_says_how_to_name_its_model(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="suanli.agent")
    untyped = LocalPool(name="gpu", accelerator="GPU", devices=(0, 1), cpus=1, memory_mib=64)
    small = LocalPool(name="cpu", accelerator=None, devices=(), cpus=1, memory_mib=64)
    cp = FakeControlPlane()
    agent = start(config(tmp_path, cp, pools=(untyped, small)))
    cp.wait_for(lambda cp: len(cp.syncs) >= 3)
    agent.shut_down()
    assert [p["name"] for p in cp.syncs[0]["pools"]] == ["gpu", "cpu"]  # offered all the same
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.endswith("offers gpu (1 node x 2 GPU), cpu (1 node x 1 CPU)") for line in lines), lines
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith("pool 'gpu' offers accelerator 'GPU', which is not a model the network knows")
    assert "A100, A100-40GB, H100" in warning and warning.endswith("--pool gpu=A100:2")


def test_a_pool_the_server_would_refuse_is_left_out_and_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="suanli.agent")
    odd = LocalPool(name="gpu@rack2", accelerator=None, devices=(), cpus=1, memory_mib=64)
    cp = FakeControlPlane()
    agent = start(config(tmp_path, cp, pools=(*POOLS, odd)))
    cp.wait_for(lambda cp: len(cp.syncs) >= 3)
    agent.shut_down()
    assert all([p["name"] for p in sync["pools"]] == ["cpu", "gpu"] for sync in cp.syncs if sync.get("pools"))
    said = [
        r.getMessage() for r in caplog.records if "gpu@rack2" in r.getMessage() and r.levelno == logging.ERROR
    ]
    assert said == ["pool 'gpu@rack2' is not offered: its name must be " + POOL_NAME_RULE]


def test_an_acknowledged_attempt_is_forgotten(tmp_path: Path) -> None:
    cp = FakeControlPlane(auto_ack=True)
    agent = start(config(tmp_path, cp))
    cp.add_launch(launch("att_1", "echo done"))
    cp.wait_for(lambda cp: cp.state("att_1") == "SUCCEEDED")
    syncs_at_end = len(cp.syncs)
    cp.wait_for(lambda cp: len(cp.syncs) > syncs_at_end and "att_1" not in cp.reported_ids())
    assert not (tmp_path / "state" / "attempts" / "att_1").exists()
    cp.add_launch(launch("att_1", "echo again"))  # launch is idempotent on attempt_id, even later
    cp.add_launch(launch("att_2", "true"))
    cp.wait_for(lambda cp: cp.state("att_2") == "SUCCEEDED")
    agent.shut_down()
    assert cp.logs["att_1"] == "done\n"


def test_an_attempt_end_is_reported_at_once_while_a_long_poll_is_held(tmp_path: Path) -> None:
    cp = FakeControlPlane(max_hold=20.0)
    agent = start(config(tmp_path, cp, sync_wait=20.0))
    cp.add_launch(launch("att_1", "sleep 1"))
    cp.wait_for(lambda cp: cp.state("att_1") == "SUCCEEDED")
    agent.shut_down()
    running_for = cp.state_seen_at[("att_1", "SUCCEEDED")] - cp.state_seen_at[("att_1", "RUNNING")]
    # Reported as soon as it ended: long before the 20 s long poll would have returned by itself.
    assert 1.0 <= running_for < 10.0


def test_a_cancelled_attempt_is_stopped_and_reported_cancelled(tmp_path: Path) -> None:
    cp = FakeControlPlane(auto_ack=False)
    agent = start(config(tmp_path, cp))
    cp.add_launch(launch("att_1", "sleep 100"))
    cp.wait_for(lambda cp: cp.state("att_1") == "RUNNING")
    cp.cancel("att_1")
    cp.wait_for(lambda cp: cp.state("att_1") == "CANCELLED")
    agent.shut_down()
    assert cp.states["att_1"]["reason"] == "cancelled"


def test_a_killed_attempt_is_stopped_and_no_longer_reported(tmp_path: Path) -> None:
    cp = FakeControlPlane()
    agent = start(config(tmp_path, cp))
    cp.add_launch(launch("att_1", "sleep 100 & echo $! > child.pid; wait"))
    pid_file = tmp_path / "state" / "attempts" / "att_1" / "child.pid"
    wait_until(lambda: pid_file.exists() and pid_file.read_text().strip())
    child = int(pid_file.read_text())
    cp.kill("att_1")
    wait_until(lambda: pid_gone(child))
    n = len(cp.syncs)
    cp.wait_for(lambda cp: len(cp.syncs) > n + 1)
    agent.shut_down()
    assert "att_1" not in cp.reported_ids()
    assert cp.state("att_1") == "RUNNING"  # never reported ended: the server had already let go


def test_a_launch_the_backend_refuses_is_reported_failed(tmp_path: Path) -> None:
    cp = FakeControlPlane(auto_ack=False)
    agent = start(config(tmp_path, cp))
    cp.add_launch(launch("att_1", "true", pool="tpu"))
    cp.add_launch(launch("att_2", "true", pool="gpu", gpus=3))
    cp.wait_for(lambda cp: cp.state("att_1") == "FAILED" and cp.state("att_2") == "FAILED")
    agent.shut_down()
    assert "no pool 'tpu'" in cp.states["att_1"]["reason"]
    assert "2 free accelerator slots" in cp.states["att_2"]["reason"]


def test_an_agent_cut_off_from_the_server_kills_its_attempts_and_reports_them_failed(tmp_path: Path) -> None:
    cp = FakeControlPlane(lease_ttl=1.0, auto_ack=False)
    agent = start(config(tmp_path, cp))
    cp.add_launch(launch("att_1", "sleep 100 & echo $! > child.pid; wait"))
    pid_file = tmp_path / "state" / "attempts" / "att_1" / "child.pid"
    wait_until(lambda: pid_file.exists() and pid_file.read_text().strip())
    child = int(pid_file.read_text())
    cut_off = time.monotonic()
    cp.set_down(True)
    wait_until(lambda: pid_gone(child))
    assert time.monotonic() - cut_off < 1.0 + 0.5 + 0.5  # lease, kill grace, slack
    cp.set_down(False)
    cp.wait_for(lambda cp: cp.state("att_1") == "FAILED")
    agent.shut_down()
    assert cp.states["att_1"]["reason"] == LEASE_LOST
    # the job may have caused it (a job that starves the agent): it spends a retry (ADR 0006, 0032)
    assert cp.states["att_1"]["interrupted"] is False


def test_an_agent_that_only_waits_on_long_polls_keeps_its_lease(tmp_path: Path) -> None:
    cp = FakeControlPlane(lease_ttl=1.0, max_hold=20.0)
    agent = start(config(tmp_path, cp, sync_wait=20.0))
    cp.add_launch(launch("att_1", "sleep 2"))
    cp.wait_for(lambda cp: cp.state("att_1") in ("SUCCEEDED", "FAILED"))
    agent.shut_down()
    assert cp.state("att_1") == "SUCCEEDED"
    assert max(b["wait"] for b in cp.syncs if b["attempts"]) < 1.0  # long polls end before the lease does


def test_usage_sequence_numbers_continue_across_restarts(tmp_path: Path) -> None:
    cp = FakeControlPlane(ack_usage=False)
    agent = start(config(tmp_path, cp))
    cp.add_launch(launch("att_1", "true"))
    cp.wait_for(lambda cp: 1 in cp.usage)
    agent.shut_down()

    cp.ack_usage = True
    cp.usage.clear()
    agent = start(config(tmp_path, cp))
    cp.add_launch(launch("att_2", "true"))
    cp.wait_for(lambda cp: 2 in cp.usage and 1 in cp.usage)
    agent.shut_down()
    assert {seq: r["attempt_id"] for seq, r in cp.usage.items()} == {1: "att_1", 2: "att_2"}


def test_enrollment_saves_the_agent_token_and_restarts_reuse_it(tmp_path: Path) -> None:
    cp = FakeControlPlane()
    for _ in range(2):
        before = len(cp.syncs)

        def synced_twice(cp: FakeControlPlane, before: int = before) -> bool:
            return len(cp.syncs) >= before + 2

        agent = start(config(tmp_path, cp, token=ENROLL_TOKEN))
        cp.wait_for(synced_twice)
        agent.shut_down()
    saved = tmp_path / "state" / "agent.token"
    assert saved.read_text().strip() == AGENT_TOKEN
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert cp.enrollments == 1


def test_a_refused_agent_token_stops_the_agent(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cp = FakeControlPlane(refuse_token=True)
    with pytest.raises(AgentUnauthorized):
        run_agent(config(tmp_path, cp))
    assert "refused the agent token" in caplog.text
    assert "could not report the final state" not in caplog.text  # no last sync to a server that refused it


def test_a_token_of_another_site_stops_the_agent_and_keeps_the_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="suanli.agent")
    cp = FakeControlPlane(site="elsewhere")
    with pytest.raises(AgentError, match="site elsewhere's") as raised:
        run_agent(config(tmp_path, cp, token=AGENT_TOKEN))
    assert not isinstance(raised.value, AgentUnauthorized)  # not taken for a revoked token
    # No last sync either: the server refused the agent, so it could only fail (and warn of it).
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    mine = FakeControlPlane(site="lab")  # the site the agent is started for: its syncs are answered
    agent = start(config(tmp_path / "again", mine))
    mine.wait_for(lambda cp: len(cp.syncs) >= 1)
    agent.shut_down()
    assert mine.syncs[0]["site"] == "lab"


def test_shutdown_stops_running_attempts_and_reports_them(tmp_path: Path) -> None:
    cp = FakeControlPlane(auto_ack=False)
    agent = start(config(tmp_path, cp))
    cp.add_launch(launch("att_1", "sleep 100 & echo $! > child.pid; wait"))
    pid_file = tmp_path / "state" / "attempts" / "att_1" / "child.pid"
    wait_until(lambda: pid_file.exists() and pid_file.read_text().strip())
    agent.shut_down()
    assert pid_gone(int(pid_file.read_text()))
    assert cp.states["att_1"]["state"] == "FAILED"
    assert cp.states["att_1"]["reason"] == SHUT_DOWN
    assert cp.states["att_1"]["interrupted"] is True


def test_an_attempt_acknowledged_at_shutdown_is_not_reported_again_by_the_next_agent(tmp_path: Path) -> None:
    cp = FakeControlPlane()  # acknowledges every ended attempt
    agent = start(config(tmp_path, cp))
    cp.add_launch(launch("att_1", "sleep 100"))
    cp.wait_for(lambda cp: cp.state("att_1") == "RUNNING")
    agent.shut_down()
    assert cp.states["att_1"]["reason"] == SHUT_DOWN and len(cp.usage) == 1
    assert not (tmp_path / "state" / "attempts" / "att_1").exists()  # forgotten with its files
    syncs = len(cp.syncs)
    again = start(config(tmp_path, cp))
    cp.wait_for(lambda cp: len(cp.syncs) >= syncs + 2)
    again.shut_down()
    assert all(not sync["attempts"] for sync in cp.syncs[syncs:]) and len(cp.usage) == 1


def test_attempts_stopped_at_shutdown_leave_nothing_behind_however_their_output_stands(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A job that writes as it runs, and once more when stopped, still has output unsent at the
    agent's last sync; what the server acknowledges then is forgotten with its files all the same,
    every time, and the next agent on the state dir finds nothing left behind."""
    caplog.set_level(logging.INFO, logger="suanli.agent")
    cp = FakeControlPlane()  # acknowledges every ended attempt
    attempts = tmp_path / "state" / "attempts"
    for n in range(3):
        attempt_id = f"att_{n}"
        agent = start(config(tmp_path, cp))
        cp.add_launch(
            launch(attempt_id, "trap 'echo stopped; exit 143' TERM; while :; do echo tick; sleep 0.02; done")
        )
        cp.wait_for(lambda cp, a=attempt_id: "tick" in cp.logs.get(a, ""))
        agent.shut_down()
        assert cp.states[attempt_id]["reason"] == SHUT_DOWN
        assert cp.logs[attempt_id].endswith("stopped\n")  # the last sync carried the rest
        assert not list(attempts.iterdir()), f"stop {n} left {[d.name for d in attempts.iterdir()]}"
    syncs = len(cp.syncs)
    again = start(config(tmp_path, cp))
    cp.wait_for(lambda cp: len(cp.syncs) >= syncs + 2)
    again.shut_down()
    assert all(not sync["attempts"] for sync in cp.syncs[syncs:])
    assert "left by the agent before this one" not in caplog.text


def test_an_unreachable_server_is_retried_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="suanli.agent")
    cp = FakeControlPlane(down=True)
    agent = start(config(tmp_path, cp))
    time.sleep(1.0)
    cp.set_down(False)
    cp.wait_for(lambda cp: len(cp.syncs) > 1)  # the second is sent after the first reply arrived
    agent.shut_down()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "unreachable" in r.message]
    assert len(warnings) == 1
    assert "reachable again" in caplog.text


def test_jobs_do_not_see_the_agent_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUANLI_TOKEN", AGENT_TOKEN)
    monkeypatch.setenv("SOME_SETTING", "kept")
    cp = FakeControlPlane()
    agent = start(config(tmp_path, cp))
    cp.add_launch(launch("att_1", 'echo "${SUANLI_TOKEN:-none} $SOME_SETTING"'))
    cp.wait_for(lambda cp: cp.state("att_1") == "SUCCEEDED")
    agent.shut_down()
    assert cp.logs["att_1"] == "none kept\n"


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"site": ""}, "site must not be empty"),
        ({"backend": "kubernetes"}, "unknown backend 'kubernetes'"),
        ({"sync_wait": 31.0}, "sync_wait must be between 0 and 30"),
        ({"lease_margin": 1.0}, "lease_margin must be a fraction"),
        ({"max_backoff": 0.0}, "max_backoff must be positive"),
        ({"pools": parse_pools(["A100:1"]) + parse_pools(["A100:2"])}, "pool names must be unique"),
    ],
)
def test_bad_configs_are_refused(overrides: dict[str, Any], complaint: str) -> None:
    values: dict[str, Any] = {"server": "http://control.test", "token": None, "site": "lab"}
    with pytest.raises(ValueError, match=complaint):
        AgentConfig(**(values | overrides))


def test_the_state_dir_defaults_to_the_home_directory_per_site() -> None:
    config = AgentConfig("http://control.test", None, "lab")
    assert config.resolved_state_dir == Path.home() / ".suanli" / "agent-lab"


def test_two_agents_cannot_share_a_state_dir(tmp_path: Path) -> None:
    cp = FakeControlPlane()
    first = start(config(tmp_path, cp))
    cp.wait_for(lambda cp: len(cp.syncs) > 0)
    with pytest.raises(AgentError, match="another agent is running"):
        run_agent(config(tmp_path, cp))
    first.shut_down()


def test_a_malformed_launch_is_reported_failed(tmp_path: Path) -> None:
    cp = FakeControlPlane(auto_ack=False)
    agent = start(config(tmp_path, cp))
    bad = launch("att_1", "true")
    bad["spec"]["env"] = ["NOT=A_MAPPING"]
    cp.add_launch(bad)
    cp.wait_for(lambda cp: cp.state("att_1") == "FAILED")
    agent.shut_down()
    assert cp.states["att_1"]["reason"].startswith("invalid launch: launch field 'spec.env'")


def test_an_attempt_being_cancelled_at_shutdown_is_still_reported_cancelled(tmp_path: Path) -> None:
    cp = FakeControlPlane(auto_ack=False)
    agent = start(config(tmp_path, cp))
    cp.add_launch(launch("att_1", "trap '' TERM; echo 1 > trapped; sleep 30"))  # takes kill_grace to stop
    wait_until(lambda: (tmp_path / "state" / "attempts" / "att_1" / "trapped").exists())
    cp.cancel("att_1")
    cp.wait_for(lambda cp: not cp.cancels)
    time.sleep(0.1)
    agent.shut_down()
    assert (cp.states["att_1"]["state"], cp.states["att_1"]["reason"]) == ("CANCELLED", "cancelled")
