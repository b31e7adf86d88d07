"""End-to-end harness: real `suanli server` and `suanli agent` processes on loopback (test helper)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from suanli.client import Client
from suanli.store import Database

SUANLI = [sys.executable, "-m", "suanli"]
FAST = {
    "SUANLI_LEASE_GRACE": "2",
    "SUANLI_SCHEDULE_INTERVAL": "0.5",
}


@dataclass(frozen=True)
class Metered:
    """One usage record as the server keeps it."""

    seq: int
    started_at: datetime | None
    ended_at: datetime | None
    wall_seconds: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Network:
    """One control plane plus any number of agents, all real processes, torn down at the end."""

    def __init__(self, root: Path, database_url: str, *, lease_ttl: float = 3.0) -> None:
        self.root = root
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = root / "server"
        self.env = {
            **os.environ,
            **FAST,
            "SUANLI_LEASE_TTL": str(lease_ttl),
            "SUANLI_CONFIG_DIR": str(root / "cli"),
            "PYTHONUNBUFFERED": "1",
        }
        self.server: subprocess.Popen[bytes] | None = None
        self.agents: dict[str, subprocess.Popen[bytes]] = {}
        self.replicas: list[subprocess.Popen[bytes]] = []
        self.operator = ""

    # processes
    def start_server(self) -> None:
        self.server = self._server_process(self.port, self.data, "server.log")
        wait_for("the server", lambda: self._healthy(self.server, self.url), timeout=60)
        self.operator = (self.data / "operator.token").read_text().strip()

    def start_replica(self) -> tuple[subprocess.Popen[bytes], str]:
        """A second server on the same database (its own port and data dir): another API replica.
        Returns the process (stopped with the network) and its URL."""
        port = free_port()
        proc = self._server_process(port, self.root / f"replica-{port}", f"replica-{port}.log")
        self.replicas.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait_for("the replica", lambda: self._healthy(proc, url), timeout=60)
        return proc, url

    def _server_process(self, port: int, data: Path, log_name: str) -> subprocess.Popen[bytes]:
        log = open(self.root / log_name, "ab")  # noqa: SIM115  (closed with the process)
        return subprocess.Popen(
            [
                *SUANLI,
                "server",
                "--port",
                str(port),
                "--data-dir",
                str(data),
                "--database-url",
                self.database_url,
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill_server(self) -> None:
        assert self.server is not None
        self.server.send_signal(signal.SIGKILL)
        self.server.wait()

    def _healthy(self, proc: subprocess.Popen[bytes] | None, url: str) -> bool:
        assert proc is not None
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {self.logs()[-3000:]}")
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def start_agent(
        self,
        site: str,
        token: str,
        *pools: str,
        backend: str = "local",
        options: tuple[str, ...] = (),
        discover: bool = False,
        server: str | None = None,
        extra: tuple[str, ...] = (),
    ) -> subprocess.Popen[bytes]:
        """`discover=True` gives no `--pool`: the agent offers what it finds on this machine;
        `server` is the URL it syncs with (default: the first server); `extra`: more of `suanli
        agent`'s options."""
        log = open(self.root / f"agent-{site}.log", "ab")  # noqa: SIM115
        args = [
            *SUANLI,
            "agent",
            "--server",
            server or self.url,
            "--site",
            site,
            "--token",
            token,
            "--state-dir",
            str(self.root / f"agent-{site}"),
            "--sync-wait",
            "5",
        ]
        args += ["--backend", backend, *extra]
        for option in options:
            args += ["--backend-opt", option]
        for pool in pools or (("cpu:2",) if backend == "local" and not discover else ()):
            args += ["--pool", pool]
        proc = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.agents[site] = proc
        wait_for(f"site {site} online", lambda: self.site_state(site) == "online", timeout=90)
        return proc

    def stop_agent(self, site: str) -> None:
        """Ask the site's agent to stop (SIGTERM, as a service manager does) and wait till it has."""
        proc = self.agents.pop(site)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

    def kill_agent(self, site: str) -> None:
        proc = self.agents.pop(site)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop(self) -> None:
        for proc in self.agents.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.agents.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for server in (self.server, *self.replicas):
            if server is not None and server.poll() is None:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    server.kill()

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n{p.read_text()[-4000:]}" for p in sorted(self.root.glob("*.log")))

    # the network's people
    def client(self, token: str | None = None) -> Client:
        return Client(self.url, token or self.operator, timeout=30)

    def usage_of(self, job_id: str) -> list[Metered]:
        """The usage records the server keeps for a job, in sequence order."""
        db = Database(self.database_url)
        try:
            with db.read() as tx:
                rows = sorted(tx.jobs.usage(job_id), key=lambda r: r.seq)
                return [Metered(r.seq, r.started_at, r.ended_at, r.wall_seconds) for r in rows]
        finally:
            db.close()

    def site_state(self, site: str) -> str | None:
        try:
            with self.client() as c:
                return str(c.get_site(site)["state"])
        except Exception:
            return None

    def add_site(self, name: str) -> str:
        """Register a site under provider org `dc`; returns its enrollment token."""
        with self.client() as c:
            if not any(o["name"] == "dc" for o in c.list_orgs()["items"]):
                c.create_org("dc", "provider")
            return str(c.create_site(name, org="dc")["enrollment_token"])

    def add_tenant(self, org: str, user: str) -> str:
        with self.client() as c:
            c.create_org(org, "tenant")
            c.create_project(org, "default")
            c.add_member(org, user, role="owner")
            return str(c.create_token(name=f"{user}-token", user=user)["token"])

    def cli(self, token: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "SUANLI_SERVER": self.url, "SUANLI_TOKEN": token}
        return subprocess.run([*SUANLI, *args], env=env, capture_output=True, text=True, timeout=timeout)

    def job(self, token: str, job_id: str) -> dict[str, Any]:
        with self.client(token) as c:
            return c.get_job(job_id)
