"""`suanli up` as the README runs it: a real server and agent, the CLI profiles it writes, a job run
through them; a second network beside it, and the first one started again on another port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from e2e_net import free_port

from suanli.cli.config import load_config

REPO = Path(__file__).resolve().parents[2]


class Up:
    """One `suanli up` process, stopped with Ctrl-C (SIGINT) as a user would."""

    def __init__(self, data_dir: Path, port: int, env: dict[str, str], log: Path) -> None:
        self.port, self.log = port, log
        self._out = log.open("wb")
        cmd = [sys.executable, "-m", "suanli", "up", "--data-dir", str(data_dir), "--port", str(port)]
        self.proc = subprocess.Popen(
            [*cmd, "--pool", "cpu:1"], env=env, stdout=self._out, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"suanli up did not answer within 60 s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "suanli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_up_logs_the_cli_in_and_a_second_network_keeps_its_own_profiles(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")}
    env["SUANLI_CONFIG_DIR"] = str(tmp_path / "config")
    first_port, second_port, moved_port = free_port(), free_port(), free_port()

    first = Up(tmp_path / "first", first_port, env, tmp_path / "first.log")
    try:
        assert "'local' is current" in first.output()
        assert "try: suanli submit examples/hello.yaml" in first.output()
        ran = cli(env, "submit", "examples/hello.yaml", "--wait")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        job_id = ran.stdout.split()[0]
        logs = cli(env, "logs", job_id)
        assert f"hello from job {job_id}" in logs.stdout, logs.stdout + logs.stderr
        # A second `up` on the same data dir, or on a port in use, stops before it writes anything.
        before = (tmp_path / "config" / "config.toml").read_text()
        twice = cli(env, "up", "--data-dir", str(tmp_path / "first"), "--port", str(free_port()))
        assert twice.returncode == 2 and "a network is already up on" in twice.stderr, twice.stderr
        taken = cli(env, "up", "--data-dir", str(tmp_path / "other"), "--port", str(first_port))
        assert taken.returncode == 2 and f"port {first_port} is in use" in taken.stderr, taken.stderr
        # Another data dir over the same database would enroll its site 'local' again, revoking
        # the running agent's token: refused, with the way out.
        beside = ("--data-dir", str(tmp_path / "beside"), "--port", str(free_port()))
        shared = cli(env, "up", *beside, "--database-url", f"sqlite:///{tmp_path / 'first' / 'suanli.db'}")
        assert shared.returncode == 2, shared.stderr
        assert "site 'local' is online from another agent" in shared.stderr and "--site NAME" in shared.stderr
        assert (tmp_path / "config" / "config.toml").read_text() == before
        assert cli(env, "jobs", "--json").returncode == 0  # the CLI still reaches the first network
    finally:
        first.stop()

    second = Up(tmp_path / "second", second_port, env, tmp_path / "second.log")
    try:
        profiles = load_config(tmp_path / "config").profiles
        assert profiles["local"].server == f"http://127.0.0.1:{first_port}"
        assert profiles[f"local-{second_port}"].server == f"http://127.0.0.1:{second_port}"
        assert f"local-{second_port}-operator" in profiles
        assert load_config(tmp_path / "config").current == "local"  # the second one does not take over
        assert f"suanli profiles use local-{second_port}" in second.output()
        assert f"try: suanli --profile local-{second_port} submit" in second.output()
        jobs = cli(env, "--profile", f"local-{second_port}", "jobs", "--json")  # its tenant has no jobs yet
        assert jobs.returncode == 0 and job_id not in jobs.stdout, jobs.stdout + jobs.stderr
    finally:
        second.stop()

    again = Up(tmp_path / "first", moved_port, env, tmp_path / "again.log")
    try:
        assert f"'local' and 'local-operator' now point at http://127.0.0.1:{moved_port}" in again.output()
        jobs = cli(env, "jobs", "--json")  # the current profile reaches the first network again
        assert jobs.returncode == 0 and job_id in jobs.stdout, jobs.stdout + jobs.stderr
        assert load_config(tmp_path / "config").current == "local"
    finally:
        again.stop()


def test_up_stops_when_its_local_agent_exits(tmp_path: Path) -> None:
    """Once `up` ran on with no site after its agent exited, and a job submitted waited forever."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")}
    env["SUANLI_CONFIG_DIR"] = str(tmp_path / "config")
    state = tmp_path / "data" / "agent-local"
    state.mkdir(parents=True)
    (state / "agent.token").write_text("sla_revoked\n")  # the agent starts with it, and is refused
    port = free_port()
    up = cli(env, "up", "--data-dir", str(tmp_path / "data"), "--port", str(port), "--pool", "cpu:1")
    assert up.returncode == 1, up.stderr
    assert "the local agent (site 'local') exited with code 4 (its log is above" in up.stderr
    with pytest.raises(httpx.HTTPError):  # the server is gone with it
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
