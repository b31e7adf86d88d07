"""The local backend: runs each attempt as a process tree on this machine, under a `local_shim`.

Layout of an attempt, `<state_dir>/attempts/<attempt_id>/`: the directory is the job's working
directory; `.suanli/` inside it holds `launch.json` (the launch), `job.json` (what the shim runs),
`output.log` (stdout and stderr together), `shim.pid` and `exit.json` (how and when the job ended,
written by the shim).

An agent that dies (even `kill -9`) takes its jobs with it, but not their record: the next agent on
the same state dir finds each attempt left there and reports it ended, with the outcome and the
times its shim recorded, so the server learns how it ended and its usage is metered (`adopted`).

Threads: each attempt has one watcher thread that starts its shim and waits for it. Starting the
shim from that thread matters: PR_SET_PDEATHSIG fires when the *thread* that forked the shim exits,
and the watcher lives exactly as long as the shim does (and dies with the agent's process).

Accelerator slots: every pool has device indices; an attempt gets the lowest free ones as its
`CUDA_VISIBLE_DEVICES` and gives them back when it ends. CPUs and memory are offered, not enforced.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import suanli
from suanli.agent.backends.base import (
    LOG_CHUNK_BYTES,
    TERMINAL,
    AttemptState,
    AttemptStatus,
    BackendError,
    Launch,
    PoolOffer,
    Usage,
    launch_json,
)
from suanli.agent.backends.local_results import left_outcome, live_shim, outcome, read_exit, read_launch
from suanli.agent.backends.text import ATTEMPT_ID, decoder
from suanli.agent.pools import LocalPool

__all__ = ["LocalBackend"]

log = logging.getLogger("suanli.agent")

SHIM_MODULE = "suanli.agent.backends.local_shim"
# After SIGTERM the shim itself escalates to SIGKILL at `kill_grace`; the backend kills a shim that
# is still there this much later.
_SHIM_KILL_MARGIN = 5.0

if TYPE_CHECKING:
    from suanli.agent.backends.registry import BackendSettings


@dataclass
class _Run:
    """The backend's record of one attempt; guarded by the backend's lock."""

    launch: Launch
    directory: Path
    devices: tuple[int, ...]
    state: AttemptState = AttemptState.STARTING
    exit_code: int | None = None
    reason: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    intent: tuple[AttemptState, str] | None = None  # why we are stopping it, once we are
    proc: subprocess.Popen[bytes] | None = None
    usage: Usage | None = None
    forgotten: bool = False
    released: bool = False
    adopted: bool = False  # left by the agent before this one, ended
    spawn_error: OSError | None = None
    started: threading.Event = field(default_factory=threading.Event)

    @property
    def control(self) -> Path:
        return self.directory / ".suanli"

    def status(self) -> AttemptStatus:
        return AttemptStatus(
            attempt_id=self.launch.attempt_id,
            state=self.state,
            exit_code=self.exit_code,
            reason=self.reason,
            started_at=self.started_at,
            ended_at=self.ended_at,
        )


class LocalBackend:
    """Runs attempts as local processes; see the module docstring. Thread-safe."""

    def __init__(
        self,
        pools: Sequence[LocalPool],
        state_dir: Path,
        *,
        kill_grace: float = 10.0,
        notify: Callable[[], None] | None = None,
        base_env: Mapping[str, str] | None = None,
        python: str = sys.executable,
    ) -> None:
        self._pools = {pool.name: pool for pool in pools}
        self._free = {pool.name: sorted(pool.devices) for pool in pools}
        self._kill_grace = kill_grace
        self._notify = notify or (lambda: None)
        self._base_env = dict(base_env) if base_env is not None else None
        self._python = python
        self._runs: dict[str, _Run] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._root = Path(state_dir) / "attempts"
        self._root.mkdir(parents=True, exist_ok=True)
        self._adopt_leftovers()

    # -- the Backend Protocol --------------------------------------------------------------------

    def capacity(self) -> list[PoolOffer]:
        return [pool.offer() for pool in self._pools.values()]

    def submit(self, launch: Launch) -> None:
        if not ATTEMPT_ID.match(launch.attempt_id):
            raise BackendError(f"attempt id {launch.attempt_id!r} is not a safe directory name")
        with self._lock:
            if launch.attempt_id in self._runs:
                return
            run = _Run(launch, self._root / launch.attempt_id, self._reserve(launch))
            self._runs[launch.attempt_id] = run
        try:
            self._prepare(run)
            watcher = threading.Thread(target=self._watch, args=(run,), daemon=True)
            watcher.name = f"attempt-{launch.attempt_id}"
            watcher.start()
            run.started.wait()
            if run.spawn_error is not None:
                raise run.spawn_error
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            with self._lock:
                self._runs.pop(launch.attempt_id, None)
                self._release(run)
            shutil.rmtree(run.directory, ignore_errors=True)
            raise BackendError(f"cannot start attempt {launch.attempt_id}: {exc}") from exc
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [watcher]

    def poll(self) -> list[AttemptStatus]:
        with self._lock:
            return [run.status() for run in self._runs.values() if not run.forgotten]

    def cancel(self, attempt_id: str, reason: str) -> None:
        with self._lock:
            run = self._runs.get(attempt_id)
        if run is not None:
            self._terminate(run, AttemptState.CANCELLED, reason)

    def read_logs(self, attempt_id: str, offset: int) -> str:
        with self._lock:
            run = self._runs.get(attempt_id)
            live = run is not None and run.state not in TERMINAL
        if run is None:
            return ""
        try:
            with open(run.control / "output.log", "rb") as log:
                log.seek(offset)
                data = log.read(LOG_CHUNK_BYTES)
        except FileNotFoundError:
            return ""
        # A character cut by the end of the chunk completes later, unless nothing more can come.
        final = not live and len(data) < LOG_CHUNK_BYTES
        text: str = decoder().decode(data, final=final)
        return text

    def usage(self, attempt_id: str) -> Usage | None:
        with self._lock:
            run = self._runs.get(attempt_id)
            return run.usage if run is not None else None

    def adopted(self) -> list[Launch]:
        with self._lock:
            return [run.launch for run in self._runs.values() if run.adopted]

    def forget(self, attempt_id: str) -> None:
        with self._lock:
            run = self._runs.get(attempt_id)
            if run is None:
                return
            run.forgotten = True
            ended = run.state in TERMINAL
            if ended:
                del self._runs[attempt_id]
        if ended:
            shutil.rmtree(run.directory, ignore_errors=True)
        else:  # the watcher drops it once it has ended
            self._terminate(run, AttemptState.CANCELLED, "forgotten by the agent")

    def close(self) -> None:
        with self._lock:
            runs = list(self._runs.values())
            threads = list(self._threads)
        for run in runs:
            self._terminate(run, AttemptState.CANCELLED, "agent shutting down")
        for thread in threads:
            thread.join(timeout=self._kill_grace + _SHIM_KILL_MARGIN + 1.0)

    # -- what the agent before this one left -------------------------------------------------------

    def _adopt_leftovers(self) -> None:
        """Hold again, as ended, the attempts an agent on this state dir left when it died.

        Their jobs died with it (PR_SET_PDEATHSIG), or had ended before it could report them. Each
        is reported with the outcome its shim recorded and its usage from start to end, so the
        server learns how it ended and the provider is paid for what ran. A shim still stopping its
        job (the agent was restarted at once) is given the kill grace to finish first. A directory
        without a readable launch is removed.
        """
        found: list[tuple[Path, Launch]] = []
        for directory in sorted(self._root.iterdir()):
            launch = read_launch(directory / ".suanli" / "launch.json")
            if launch is None or launch.attempt_id != directory.name:
                shutil.rmtree(directory, ignore_errors=True)
            else:
                found.append((directory, launch))
        if not found:
            return
        self._await_shims([directory / ".suanli" for directory, _ in found])
        for directory, launch in found:
            run = _Run(launch, directory, (), released=True, adopted=True)
            run.state, run.exit_code, run.reason, run.started_at, run.ended_at = left_outcome(run.control)
            run.usage = _usage(
                run, launch.allocation.accelerators_per_node, read_exit(run.control / "exit.json")
            )
            self._runs[launch.attempt_id] = run
            log.warning(
                "attempt %s was left by the agent before this one: %s%s",
                launch.attempt_id,
                run.state.value,
                f" ({run.reason})" if run.reason else "",
            )

    def _await_shims(self, controls: list[Path]) -> None:
        """Wait (bounded by the kill grace) for the shims that are still stopping their jobs."""
        live = {control: pid for control in controls if (pid := live_shim(control)) is not None}
        if not live:
            return
        log.warning(
            "waiting up to %gs for %d job(s) of the previous agent to stop", self._kill_grace, len(live)
        )
        deadline = time.monotonic() + self._kill_grace + _SHIM_KILL_MARGIN
        while live and time.monotonic() < deadline:
            time.sleep(0.05)
            live = {control: pid for control, pid in live.items() if live_shim(control) is not None}
        for control, pid in live.items():  # past its own SIGKILL: it will not write a result
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            log.warning("the shim of %s did not stop in time: killed", control.parent.name)

    # -- one attempt's life ------------------------------------------------------------------------

    def _reserve(self, launch: Launch) -> tuple[int, ...]:
        pool = self._pools.get(launch.pool)
        if pool is None:
            raise BackendError(f"this site has no pool {launch.pool!r}; it has {sorted(self._pools)}")
        if len(launch.allocation.nodes) > 1:
            raise BackendError("the local backend runs single-node attempts only")
        wanted = launch.allocation.accelerators_per_node
        free = self._free[pool.name]
        if wanted > len(free):
            raise BackendError(
                f"pool {pool.name!r} has {len(free)} free accelerator slots; the attempt needs {wanted}"
            )
        taken, self._free[pool.name] = free[:wanted], free[wanted:]
        return tuple(taken)

    def _release(self, run: _Run) -> None:
        if not run.released:
            run.released = True
            self._free[run.launch.pool] = sorted(self._free[run.launch.pool] + list(run.devices))

    def _prepare(self, run: _Run) -> None:
        spec = run.launch.spec
        run.control.mkdir(parents=True, exist_ok=True)
        cwd = run.directory
        workdir = spec.get("workdir")
        if workdir:
            cwd = run.directory / str(workdir)  # an absolute workdir replaces the attempt directory
            cwd.mkdir(parents=True, exist_ok=True)
        job = {"setup": spec.get("setup"), "run": spec["run"], "env": self._job_env(run), "cwd": str(cwd)}
        _write_private(run.control / "job.json", job)
        _write_private(run.control / "launch.json", launch_json(run.launch))

    def _job_env(self, run: _Run) -> dict[str, str]:
        launch = run.launch
        env = dict(self._base_env if self._base_env is not None else os.environ)
        env.update({str(k): str(v) for k, v in (launch.spec.get("env") or {}).items()})
        env.update(
            SUANLI_JOB_ID=launch.job_id,
            SUANLI_ATTEMPT=str(launch.attempt),
            SUANLI_ATTEMPT_ID=launch.attempt_id,
            CUDA_VISIBLE_DEVICES=",".join(str(device) for device in run.devices),
        )
        return env

    def _watch(self, run: _Run) -> None:
        try:
            proc = self._spawn(run)
        except OSError as exc:
            run.spawn_error = exc
            run.started.set()
            return
        with self._lock:
            run.proc, run.state, run.started_at = proc, AttemptState.RUNNING, _now()
            intent = run.intent
        run.started.set()
        self._notify()
        if intent is not None:  # stopped while it was starting
            self._signal_shim(run, proc)
        limit = _max_runtime(run.launch.spec)
        if not _wait_exit(proc, limit):
            self._terminate(run, AttemptState.FAILED, f"max_runtime exceeded ({limit:g}s)")
            _wait_exit(proc, None)
        self._finish(run, proc)

    def _spawn(self, run: _Run) -> subprocess.Popen[bytes]:
        command = [self._python, "-m", SHIM_MODULE, "--control", str(run.control)]
        command += ["--grace", str(self._kill_grace), "--parent", str(os.getpid())]
        env = dict(os.environ)
        package_root = str(Path(suanli.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        with open(run.control / "output.log", "ab") as log:
            return subprocess.Popen(
                command,
                cwd=run.control,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _terminate(self, run: _Run, state: AttemptState, reason: str) -> None:
        """Record why the attempt is being stopped (first reason wins) and tell its shim."""
        with self._lock:
            if run.intent is not None or run.state in TERMINAL:
                return
            run.intent = (state, reason)
            proc = run.proc
        if proc is not None:  # else the watcher signals it as soon as it has started
            self._signal_shim(run, proc)

    def _signal_shim(self, run: _Run, proc: subprocess.Popen[bytes]) -> None:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            return
        timer = threading.Timer(self._kill_grace + _SHIM_KILL_MARGIN, _kill_if_running, args=(proc,))
        timer.daemon = True
        timer.start()

    def _finish(self, run: _Run, proc: subprocess.Popen[bytes]) -> None:
        result = read_exit(run.control / "exit.json")
        ended = _now()
        with self._lock:
            run.state, run.exit_code, run.reason = outcome(run.intent, result, proc.returncode)
            run.ended_at = ended
            run.usage = _usage(run, len(run.devices), result)
            self._release(run)
            forgotten = run.forgotten
            if forgotten:
                self._runs.pop(run.launch.attempt_id, None)
        if forgotten:
            shutil.rmtree(run.directory, ignore_errors=True)
        self._notify()


def _usage(run: _Run, accelerators: int, result: Mapping[str, Any] | None) -> Usage:
    """What an ended attempt used: its devices for its whole run, and its processes' CPU time."""
    ended = run.ended_at or _now()
    started = run.started_at or ended
    wall = max(0.0, (ended - started).total_seconds())
    cpu = float(result.get("cpu_seconds") or 0.0) if result else 0.0
    return Usage(run.launch.attempt_id, started, ended, wall * accelerators, cpu, wall)


def _write_private(path: Path, data: Any) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out)


def _max_runtime(spec: Mapping[str, Any]) -> float | None:
    resources = spec.get("resources") or {}
    limit = resources.get("max_runtime_s") if isinstance(resources, Mapping) else None
    return float(limit) if limit is not None else None


def _wait_exit(proc: subprocess.Popen[bytes], timeout: float | None) -> bool:
    """Wait for the process to exit; False when `timeout` passed first.

    A pidfd wakes us the moment the process exits; Popen.wait(timeout) would poll every 50 ms.
    """
    if timeout is None:
        proc.wait()
        return True
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        ready, _, _ = select.select([pidfd], [], [], max(0.0, timeout))
    finally:
        os.close(pidfd)
    if not ready:
        return False
    proc.wait()
    return True


def _kill_if_running(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()


def _now() -> datetime:
    return datetime.now(UTC)


def make_backend(settings: BackendSettings) -> LocalBackend:
    """The registry's factory: this machine's declared pools, or its GPUs, else all its CPUs."""
    from suanli.agent.pools import discover_pools

    return LocalBackend(
        settings.pools or discover_pools(),
        settings.state_dir,
        kill_grace=settings.kill_grace,
        notify=settings.notify,
        base_env=settings.base_env,
    )
