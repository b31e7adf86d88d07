"""The per-attempt shim of the local backend: runs one job, ties its life to the agent's, records its end.

Started by `LocalBackend` as `python -m suanli.agent.backends.local_shim --control DIR --grace S
--parent PID`, with stdout and stderr on the attempt's `output.log`. It reads `DIR/job.json`
(`{"setup", "run", "env", "cwd"}`) and then:

- asks the kernel to send it SIGTERM when the thread that started it exits (PR_SET_PDEATHSIG), so a
  job never outlives its agent, even one killed with `kill -9`; if that parent is already gone when
  the shim starts, it behaves as if it had been told to stop;
- becomes a child subreaper, so the job's orphaned children are its own to find and reap;
- runs `setup` (with `set -e`) then `run`, each as `bash -c` in a new session, so one signal to the
  process group reaches the whole job;
- on SIGTERM (a cancel, a timeout, the agent's death) sends SIGTERM to the job's group and SIGKILL
  after `--grace` seconds;
- when the job's first process exits, stops what is left of its group the same way (an attempt owns
  nothing after it ends), then writes `DIR/exit.json`: `{"phase", "exit_code", "signal",
  "cpu_seconds", "started_at", "ended_at", "stopped"}` (exit_code or signal, never both; both null
  when no job was started; the times in seconds since the epoch; `stopped` when it was told to stop).

It writes its pid to `DIR/shim.pid` first, so that an agent started after its own died can tell
whether the job is still stopping (`LocalBackend` adopts what the agent before it left).

This module imports only the standard library: it starts once per job.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


class _Shim:
    """One job's supervision: the current process group and whether it was told to stop."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.pgid: int | None = None
        self.terminating = False

    def on_terminate(self, signum: int = signal.SIGTERM, frame: FrameType | None = None) -> None:
        if self.terminating:
            return
        self.terminating = True
        self._signal_group(signal.SIGTERM)
        signal.setitimer(signal.ITIMER_REAL, max(self.grace, 0.001))

    def on_grace_over(self, signum: int, frame: FrameType | None) -> None:
        self._signal_group(signal.SIGKILL)

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        env = {str(k): str(v) for k, v in job["env"].items()}
        cwd = str(job["cwd"])
        result: dict[str, Any] = {
            "phase": "setup",
            "exit_code": None,
            "signal": None,
            "started_at": time.time(),
        }
        phases = [("setup", "set -e\n" + job["setup"])] if job.get("setup") else []
        phases.append(("run", str(job["run"])))
        for phase, script in phases:
            if self.terminating:
                break
            result["phase"] = phase
            status = self._run_phase(script, env, cwd)
            if os.WIFSIGNALED(status):
                result.update(exit_code=None, signal=os.WTERMSIG(status))
            else:
                result.update(exit_code=os.waitstatus_to_exitcode(status), signal=None)
            if status != 0:
                break
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        result["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 3)
        result["ended_at"] = time.time()
        result["stopped"] = self.terminating
        return result

    def _run_phase(self, script: str, env: dict[str, str], cwd: str) -> int:
        proc = subprocess.Popen(
            ["bash", "-c", script], cwd=cwd, env=env, stdin=subprocess.DEVNULL, start_new_session=True
        )
        self.pgid = proc.pid
        if self.terminating:  # told to stop between the check and the start
            self._signal_group(signal.SIGTERM)
            signal.setitimer(signal.ITIMER_REAL, max(self.grace, 0.001))
        _, status, _ = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen never waits for it again
        self._stop_leftovers()
        return status

    def _stop_leftovers(self) -> None:
        """Stop the rest of the group after its first process exited, and reap every orphan."""
        if not self._group_alive():
            return
        if not self.terminating:
            self._signal_group(signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while self._group_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        self._signal_group(signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while self._group_alive() and time.monotonic() < deadline:
            time.sleep(0.01)

    def _group_alive(self) -> bool:
        _reap_orphans()
        if self.pgid is None:
            return False
        try:
            os.killpg(self.pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def _signal_group(self, signum: int) -> None:
        if self.pgid is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signum)


def _reap_orphans() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _prctl(option: int, value: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the agent's own shutdown still stops jobs
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="suanli-job-shim")
    parser.add_argument("--control", type=Path, required=True)
    parser.add_argument("--grace", type=float, default=10.0)
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)

    shim = _Shim(args.grace)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, shim.on_terminate)
    signal.signal(signal.SIGALRM, shim.on_grace_over)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    if os.getppid() != args.parent:  # the agent died before the death signal was armed
        shim.on_terminate()
    (args.control / "shim.pid").write_text(str(os.getpid()))

    job = json.loads((args.control / "job.json").read_text())
    try:
        result = shim.run(job)
    except OSError as exc:  # bash missing, cwd gone: the job could not start
        print(f"suanli: cannot start the job: {exc}", file=sys.stderr, flush=True)
        now = time.time()
        result = {"phase": "setup", "exit_code": 127, "signal": None, "cpu_seconds": 0.0}
        result.update(started_at=now, ended_at=now, stopped=shim.terminating)
    tmp = args.control / "exit.json.tmp"
    tmp.write_text(json.dumps(result))
    tmp.replace(args.control / "exit.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
