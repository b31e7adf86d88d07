"""The local site's agent `suanli up` runs beside its server: its command line, its child process, its lock.

Nothing here loads the server, so it is outside the one module (`serve.py`) allowed to import it.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from suanli.cli.context import fail
from suanli.cli.exit_codes import ExitCode
from suanli.cli.listen import refuse_if_port_taken

__all__ = ["LocalAgent", "agent_command", "refuse_if_running", "wait_until_healthy"]


def agent_command(server_url: str, site: str, state_dir: Path, pools: list[str]) -> list[str]:
    """`python -m suanli agent …` for the local site, with its state dir and `--pool`s."""
    cmd = [sys.executable, "-m", "suanli", "agent", "--server", server_url, "--site", site]
    cmd += ["--state-dir", str(state_dir)]
    for spec in pools:
        cmd += ["--pool", spec]
    return cmd


def wait_until_healthy(server_url: str, tries: int = 300) -> None:
    """Wait (up to `tries` × 0.1 s) until the server answers /healthz."""
    for _ in range(tries):
        try:
            if httpx.get(f"{server_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)


def refuse_if_running(port: int, state_dir: Path, data_dir: Path) -> None:
    """Stop (exit 2) before anything is written when the port is taken, or when another `suanli up`
    (its local agent) is running on this data dir: a second one would take over the CLI profiles
    and then fail."""
    refuse_if_port_taken(
        "127.0.0.1", port, "is suanli already up? Start another with PORT=… (make up) or --port"
    )
    lock = state_dir / "agent.lock"
    if not lock.exists():
        return
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fail(
            f"a network is already up on {data_dir} (its local agent holds {lock}); stop it first, "
            "or start another with DATA_DIR=… (make up) or --data-dir",
            ExitCode.USAGE,
        )
    finally:
        os.close(fd)


class LocalAgent:
    """The embedded site's agent, a child process in its own session so that Ctrl-C reaches only `up`,
    which stops it. `exit_code` is set when it exits without being asked to (`stop`)."""

    def __init__(self, site: str, cmd: list[str], env: dict[str, str]) -> None:
        self.site, self.cmd, self.env = site, cmd, env
        self.proc: subprocess.Popen[bytes] | None = None
        self.exit_code: int | None = None
        self._stopping = False
        self._lock = threading.Lock()

    def run(self, wait_ready: Callable[[], None], on_exit: Callable[[], None]) -> None:
        """Start the agent when `wait_ready` returns and wait for it; `on_exit` if it exits unasked."""
        wait_ready()
        with self._lock:
            if self._stopping:
                return
            self.proc = subprocess.Popen(
                self.cmd, env=self.env, start_new_session=True, preexec_fn=_die_with_parent
            )
            proc = self.proc
        # PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, so this one waits.
        code = proc.wait()
        with self._lock:
            if self._stopping:
                return
            self.exit_code = code
        on_exit()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _die_with_parent() -> None:
    """In the child: get SIGTERM if `up` dies, even by SIGKILL (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except OSError:
        pass
