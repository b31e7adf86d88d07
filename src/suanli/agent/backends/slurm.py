"""The Slurm backend: runs each attempt as one Slurm batch job and watches the cluster for its state.

Layout of an attempt, `<state_dir>/attempts/<attempt_id>/` (must be visible to the compute nodes:
a shared file system on a real cluster): the job's working directory; `.suanli/` in it holds
`launch.json` (the launch, for rediscovery), `job.sh` (the batch script), `output.log` (stdout and
stderr together, written by Slurm) and `phase` (how far the script got).

One watcher thread runs every Slurm command after start-up: it submits (`sbatch`), cancels
(`scancel`), asks about all of this agent's jobs with a single `squeue` every `poll_interval` while
any is live, then `scontrol show job` (or `sacct`) once for each job that has ended, for its exit
code, and re-reads the pools; it calls `notify` when something changed. `submit`, `cancel`, `poll`
and `capacity` only record or read, so a controller that is down (each command then takes seconds
to fail) never holds up the agent's loop and its lease. Jobs are named `suanli-<attempt_id>`, so a
new agent on the same state dir finds the attempts of the one before (`adopted`). While the
controller does not answer, states stay as last seen (logged once), submissions and cancels wait
and are retried, and nothing is failed; Slurm's refusal of a submission fails the attempt with
Slurm's message.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from suanli.agent.backends.base import (
    LOG_CHUNK_BYTES,
    TERMINAL,
    AttemptState,
    AttemptStatus,
    BackendError,
    Launch,
    PoolOffer,
    Usage,
    launch_from_json,
    launch_json,
)
from suanli.agent.backends.slurm_cli import JobDetail, JobRow, SlurmCli, SlurmUnreachable
from suanli.agent.backends.slurm_translate import (
    SlurmPool,
    attempt_of,
    batch_args,
    batch_script,
    job_name,
    never_runs,
    outcome,
    parse_gpu_models,
    pools_from_nodes,
)
from suanli.agent.backends.text import ATTEMPT_ID, decoder

if TYPE_CHECKING:
    from suanli.agent.backends.registry import BackendSettings

__all__ = ["SlurmBackend", "make_backend"]

log = logging.getLogger(__name__)
_POOL_REFRESH_S = 30.0


@dataclass
class _Job:
    """The backend's record of one attempt's Slurm job; guarded by the backend's lock."""

    launch: Launch
    job_id: str | None  # None until sbatch has taken it
    directory: Path
    status: AttemptStatus
    pool: SlurmPool | None = None  # where it goes, while it waits for sbatch
    cancel_reason: str | None = None
    cancel_sent: bool = False
    usage: Usage | None = None
    forgotten: bool = False

    @property
    def control(self) -> Path:
        return self.directory / ".suanli"


class SlurmBackend:
    """Runs attempts as Slurm batch jobs; see the module docstring. Thread-safe."""

    def __init__(
        self,
        cli: SlurmCli,
        state_dir: Path,
        *,
        partitions: Sequence[str] = (),
        gpu_models: Mapping[str | None, str] | None = None,
        declared: Mapping[str, str | None] | None = None,
        notify: Callable[[], None] | None = None,
        base_env: Mapping[str, str] | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        self._cli = cli
        self._root = Path(state_dir) / "attempts"
        self._root.mkdir(parents=True, exist_ok=True)
        self._partitions = tuple(partitions)
        self._gpu_models = dict(gpu_models or {})
        self._declared = dict(declared or {})
        self._notify = notify or (lambda: None)
        self._base_env = dict(base_env) if base_env is not None else None
        self._interval = poll_interval
        self._jobs: dict[str, _Job] = {}
        self._forgotten: set[str] = set()  # Slurm job ids, so a remembered job is not adopted again
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._wake = threading.Event()
        self._refreshing = threading.Lock()  # one conversation with Slurm at a time
        self._unreachable_since: float | None = None
        self._pools, self._pools_at = self._load_pools(), time.monotonic()
        if not self._pools:
            raise BackendError(f"Slurm offers no partitions {list(self._partitions) or ''}".strip())
        self.refresh()
        self._watcher = threading.Thread(target=self._watch, name="slurm-watcher", daemon=True)
        self._watcher.start()

    # -- the Backend Protocol --------------------------------------------------------------------

    def capacity(self) -> list[PoolOffer]:
        return [pool.offer for pool in self._pools.values()]

    def submit(self, launch: Launch) -> None:
        if not ATTEMPT_ID.match(launch.attempt_id):
            raise BackendError(f"attempt id {launch.attempt_id!r} is not a safe directory name")
        with self._lock:
            if launch.attempt_id in self._jobs:
                return
        pool = self._pools.get(launch.pool)
        if pool is None:
            raise BackendError(f"this site has no pool {launch.pool!r}; it has {sorted(self._pools)}")
        status = AttemptStatus(launch.attempt_id, AttemptState.STARTING)
        job = _Job(launch, None, self._root / launch.attempt_id, status, pool=pool)
        with self._lock:
            self._jobs.setdefault(launch.attempt_id, job)
        self._wake.set()  # the watcher runs sbatch

    def poll(self) -> list[AttemptStatus]:
        with self._lock:
            return [job.status for job in self._jobs.values() if not job.forgotten]

    def cancel(self, attempt_id: str, reason: str) -> None:
        with self._lock:
            job = self._jobs.get(attempt_id)
            if job is None or job.status.terminal:
                return
            job.cancel_reason = job.cancel_reason or reason
        self._wake.set()  # the watcher runs scancel (or drops a job that sbatch has not taken yet)

    def read_logs(self, attempt_id: str, offset: int) -> str:
        with self._lock:
            job = self._jobs.get(attempt_id)
            live = job is not None and not job.status.terminal
        if job is None:
            return ""
        try:
            with open(job.control / "output.log", "rb") as out:
                out.seek(offset)
                data = out.read(LOG_CHUNK_BYTES)
        except FileNotFoundError:
            return ""
        final = not live and len(data) < LOG_CHUNK_BYTES
        text: str = decoder().decode(data, final=final)
        return text

    def usage(self, attempt_id: str) -> Usage | None:
        with self._lock:
            job = self._jobs.get(attempt_id)
            return job.usage if job is not None else None

    def forget(self, attempt_id: str) -> None:
        with self._lock:
            job = self._jobs.get(attempt_id)
            if job is None:
                return
            job.forgotten = True
            if job.job_id is not None:
                self._forgotten.add(job.job_id)
            ended = job.status.terminal
            if ended:
                del self._jobs[attempt_id]
        if ended:
            shutil.rmtree(job.directory, ignore_errors=True)
        else:  # the watcher drops it once Slurm says it has ended
            self.cancel(attempt_id, "forgotten by the agent")

    def close(self) -> None:
        with self._lock:
            live = [job for job in self._jobs.values() if not job.status.terminal]
        for job in live:
            self.cancel(job.launch.attempt_id, "agent shutting down")
        self._closed.set()
        self._wake.set()
        self._watcher.join(timeout=self._interval + 35.0)
        for job in live:  # the watcher may not have got to them
            if job.job_id is not None and not job.cancel_sent:
                self._send_cancel(job)

    # -- beyond the Protocol -----------------------------------------------------------------------

    def adopted(self) -> list[Launch]:
        """The launches of every attempt held, including those found again after an agent restart."""
        with self._lock:
            return [job.launch for job in self._jobs.values() if not job.forgotten]

    def refresh(self) -> bool:
        """Send what waits for Slurm (submissions, cancels), then ask Slurm once about every job of
        this agent; True when an attempt's state changed."""
        with self._refreshing:
            return self._refresh()

    def _refresh(self) -> bool:
        changed = False
        try:
            changed |= self._send_waiting()
            rows = {row.job_id: row for row in self._cli.jobs()}
            changed |= self._adopt(rows.values())
            with self._lock:
                sent = [(j, j.job_id) for j in self._jobs.values() if not j.status.terminal]
            for job, job_id in sent:
                if job_id is not None:
                    changed |= self._observe(job, rows.get(job_id))
        except SlurmUnreachable as exc:
            if self._unreachable_since is None:
                self._unreachable_since = time.monotonic()
                log.warning(
                    "Slurm controller unreachable (keeping the last known states; submissions and"
                    " cancels wait): %s",
                    exc,
                )
            return changed
        if self._unreachable_since is not None:
            away = time.monotonic() - self._unreachable_since
            log.warning("Slurm controller reachable again (after %.0f s)", away)  # as loud as the loss
            self._unreachable_since = None
        return changed

    # -- internals ---------------------------------------------------------------------------------

    def _load_pools(self) -> dict[str, SlurmPool]:
        pools = pools_from_nodes(self._cli.nodes(), self._partitions, self._gpu_models, self._declared)
        return {pool.offer.name: pool for pool in pools}

    def _send_waiting(self) -> bool:
        """Submit the jobs sbatch has not taken yet and cancel what is to be cancelled; True when
        an attempt ended here (refused, or cancelled before it reached Slurm)."""
        with self._lock:
            jobs = [job for job in self._jobs.values() if not job.status.terminal]
        changed = False
        for job in jobs:
            if job.job_id is None and job.cancel_reason:
                changed |= self._end_unsent(job, AttemptState.CANCELLED, job.cancel_reason)
            elif job.job_id is None:
                changed |= self._send(job)
            elif job.cancel_reason and not job.cancel_sent:
                self._send_cancel(job)
        return changed

    def _send(self, job: _Job) -> bool:
        """Submit one job (or take over the one submitted before under its name); True when Slurm
        refused it. SlurmUnreachable propagates: it is sent again once the controller answers."""
        launch, pool = job.launch, job.pool
        assert pool is not None
        existing = self._cli.jobs(job_name(launch.attempt_id))
        if existing:  # submitted before (by us, or an agent before us): carry on with it
            job_id = max(existing, key=lambda row: int(row.job_id)).job_id
        else:
            try:
                job_id = self._sbatch(launch, pool, job.directory)
            except SlurmUnreachable:
                raise
            except BackendError as exc:
                log.warning("Slurm did not take attempt %s: %s", launch.attempt_id, exc)
                return self._end_unsent(job, AttemptState.FAILED, f"Slurm did not take it: {exc}")
        with self._lock:
            job.job_id = job_id
        log.info("attempt %s is Slurm job %s", launch.attempt_id, job_id)
        if job.cancel_reason:
            self._send_cancel(job)
        return False

    def _end_unsent(self, job: _Job, state: AttemptState, reason: str) -> bool:
        now = datetime.now(UTC)
        with self._lock:
            job.status = AttemptStatus(job.launch.attempt_id, state, None, reason, None, now)
            if job.forgotten:
                self._jobs.pop(job.launch.attempt_id, None)
        if job.forgotten:
            shutil.rmtree(job.directory, ignore_errors=True)
        return True

    def _sbatch(self, launch: Launch, pool: SlurmPool, directory: Path) -> str:
        control = directory / ".suanli"
        try:
            control.mkdir(parents=True, exist_ok=True)
            workdir = launch.spec.get("workdir")
            cwd = directory / str(workdir) if workdir else directory
            script = control / "job.sh"
            script.write_text(batch_script(launch, control, cwd))
            (control / "launch.json").write_text(json.dumps(launch_json(launch)))
            args = batch_args(launch, pool, directory, control / "output.log")
            return self._cli.submit(args, script, self._base_env)
        except SlurmUnreachable:
            raise  # sent again later; the files are written again then
        except BackendError:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        except (OSError, KeyError, TypeError, ValueError) as exc:
            shutil.rmtree(directory, ignore_errors=True)
            raise BackendError(f"cannot write the batch job: {exc}") from exc

    def _adopt(self, rows: Iterable[JobRow]) -> bool:
        """Take on this agent's jobs found in Slurm that it does not hold (after a restart)."""
        adopted = False
        for row in rows:
            attempt_id = attempt_of(row.name)
            with self._lock:
                known = attempt_id in self._jobs or row.job_id in self._forgotten
            if attempt_id is None or known:
                continue
            launch = _read_launch(self._root / attempt_id / ".suanli" / "launch.json")
            if launch is None or launch.attempt_id != attempt_id:
                continue  # not one of this state dir's attempts
            job = _Job(
                launch, row.job_id, self._root / attempt_id, AttemptStatus(attempt_id, AttemptState.STARTING)
            )
            with self._lock:
                self._jobs.setdefault(attempt_id, job)
            log.info("found attempt %s again as Slurm job %s", attempt_id, row.job_id)
            adopted = True
        return adopted

    def _observe(self, job: _Job, row: JobRow | None) -> bool:
        assert job.job_id is not None
        state, code, reason = (AttemptState.STARTING, None, None)
        started, ended = (row.started_at, row.ended_at) if row else (None, None)
        never = row is not None and never_runs(row.state, row.reason)
        if row is not None:
            state, code, reason = outcome(row.state, row.reason, None, None, None)
        if never:  # it never started: no start time (Slurm's is an estimate), ended now
            started, ended = None, datetime.now(UTC)
        elif row is None or state in TERMINAL:
            detail = self._ended(job.job_id)
            if detail is None:
                state, reason = AttemptState.FAILED, f"Slurm no longer knows job {job.job_id}"
            else:
                phase = _read_text(job.control / "phase")
                state, code, reason = outcome(
                    detail.state, detail.reason, detail.exit_code, detail.signal, phase
                )
                started, ended = detail.started_at or started, detail.ended_at or ended
                if detail.restarts:
                    reason = f"{reason or 'requeued'} (requeued {detail.restarts}x)"
        if state == AttemptState.CANCELLED or (state in TERMINAL and job.cancel_reason):
            state, reason = AttemptState.CANCELLED, job.cancel_reason or reason
        if state not in TERMINAL:
            ended = None
        status = AttemptStatus(job.launch.attempt_id, state, code, reason, started, ended)
        with self._lock:
            if status == job.status:
                return False
            job.status = status
            if status.terminal:
                job.usage = _usage(job.launch, status)
                if job.forgotten:
                    self._jobs.pop(job.launch.attempt_id, None)
        if status.terminal and job.forgotten:
            shutil.rmtree(job.directory, ignore_errors=True)
        if job.cancel_reason and not job.cancel_sent and not status.terminal:
            self._send_cancel(job)
        if never and status.terminal:
            log.warning("Slurm will not run job %s (%s): cancelling it", job.job_id, reason)
            self._send_cancel(job)
        return True

    def _ended(self, job_id: str) -> JobDetail | None:
        detail = self._cli.show_job(job_id)
        if detail is None:
            found = self._cli.accounting([job_id])
            detail = (found or {}).get(job_id)
        return detail

    def _send_cancel(self, job: _Job) -> None:
        assert job.job_id is not None
        try:
            self._cli.cancel(job.job_id)
        except BackendError as exc:
            log.warning("cannot cancel Slurm job %s yet (will retry): %s", job.job_id, exc)
            return
        job.cancel_sent = True

    def _watch(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._closed.is_set():
                return
            if time.monotonic() - self._pools_at > _POOL_REFRESH_S:
                self._refresh_pools()
            with self._lock:
                live = any(not job.status.terminal for job in self._jobs.values())
            if live and self.refresh():
                self._notify()

    def _refresh_pools(self) -> None:
        self._pools_at = time.monotonic()
        try:
            self._pools = self._load_pools() or self._pools
        except BackendError as exc:
            log.warning("cannot refresh Slurm pools (keeping the last ones): %s", exc)


def _usage(launch: Launch, status: AttemptStatus) -> Usage | None:
    if status.started_at is None:
        return None
    ended = status.ended_at or status.started_at
    wall = max(0.0, (ended - status.started_at).total_seconds())
    alloc = launch.allocation
    nodes = max(1, len(alloc.nodes))
    gpus = alloc.accelerators_per_node * nodes
    return Usage(
        launch.attempt_id, status.started_at, ended, wall * gpus, wall * alloc.cpus_per_node * nodes, wall
    )


def _read_launch(path: Path) -> Launch | None:
    try:
        return launch_from_json(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def make_backend(settings: BackendSettings) -> SlurmBackend:
    """The registry's factory. Options: `partition` (comma-separated, restricts), `bin_dir` (where
    Slurm's commands are; default PATH), `gpu_model` (see slurm_translate), `poll_interval` (s)."""
    options = settings.options
    partitions = [p.strip() for p in options.get("partition", "").split(",") if p.strip()]
    return SlurmBackend(
        SlurmCli(options.get("bin_dir") or None),
        settings.state_dir,
        partitions=partitions,
        gpu_models=parse_gpu_models(options.get("gpu_model")),
        declared={pool.name: pool.accelerator for pool in settings.pools},
        notify=settings.notify,
        base_env=settings.base_env or None,
        poll_interval=float(options.get("poll_interval", "1.0")),
    )
