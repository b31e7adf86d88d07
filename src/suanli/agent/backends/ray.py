"""The Ray backend: runs each attempt as one Ray job through the Jobs API, over HTTP only.

The submission id is the attempt id, and the job's metadata carries the launch and this agent's owner
id (`<state_dir>/ray-owner`), so a new agent on the same state dir finds the attempts of the one
before in Ray itself (`adopted`), with no shared file system, including those that ended meanwhile
(a job is deleted from Ray once the server has its end). Ray keeps each job's output; the
backend keeps the offsets (Ray returns whole logs).

One watcher thread does all the talking to Ray after a submission: it lists the cluster's jobs with
a single `GET /api/jobs/` every `poll_interval` while any attempt is live, reads the output of the
running ones (and the whole output of an ended one before it reports the end), stops what must be
stopped (cancel, `max_runtime`), deletes forgotten jobs, re-reads the pools, and calls `notify` when
something changed. `poll`, `read_logs`, `capacity` and `cancel` only read or record, so a slow
dashboard never holds up the agent's loop (and its lease). While Ray does not answer, states
stay as last seen (logged once) and nothing is failed; submissions fail with Ray's reason.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from suanli.agent.backends.base import (
    LOG_CHUNK_BYTES,
    TERMINAL,
    AttemptState,
    AttemptStatus,
    BackendError,
    Launch,
    PoolOffer,
    Usage,
)
from suanli.agent.backends.ray_api import RayApi, RayJob, RayUnreachable, Submission
from suanli.agent.backends.ray_translate import (
    Accelerator,
    RayPool,
    job_output,
    launch_of,
    outcome,
    parse_accelerators,
    pools_from_nodes,
    submission,
)
from suanli.agent.backends.text import ATTEMPT_ID, decoder

if TYPE_CHECKING:
    from suanli.agent.backends.registry import BackendSettings

__all__ = ["RayBackend", "make_backend"]

log = logging.getLogger(__name__)
_POOL_REFRESH_S = 30.0


@dataclass
class _Job:
    """The backend's record of one attempt's Ray job; guarded by the backend's lock."""

    launch: Launch
    entrypoint: str
    status: AttemptStatus
    intent: tuple[AttemptState, str] | None = None  # why we are stopping it, once we are
    stop_sent: bool = False
    usage: Usage | None = None
    forgotten: bool = False
    output: str = ""  # the job's output as last read from Ray
    output_final: bool = False  # read after the job ended: nothing more will come
    submitted_here: bool = True  # False: found again after a restart
    pending: Submission | None = None  # not sent to Ray yet (the watcher sends it)
    sending: bool = False  # the watcher is sending it now


class RayBackend:
    """Runs attempts as Ray jobs; see the module docstring. Thread-safe."""

    def __init__(
        self,
        api: RayApi,
        state_dir: Path,
        *,
        accelerators: Sequence[Accelerator] = (Accelerator("GPU"),),
        gpu_model: str | None = None,
        declared: Mapping[str, str | None] | None = None,
        notify: Callable[[], None] | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        self._api = api
        self._owner = _owner_id(Path(state_dir))
        self._accelerators = tuple(accelerators)
        self._gpu_model = gpu_model
        self._declared = dict(declared or {})
        self._notify = notify or (lambda: None)
        self._interval = poll_interval
        self._jobs: dict[str, _Job] = {}
        self._forgotten: set[str] = set()  # so that a job Ray still lists is not adopted again
        self._to_delete: set[str] = set()  # ended and forgotten: the watcher deletes them in Ray
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._wake = threading.Event()
        self._unreachable = False
        try:
            self._pools = self._load_pools()
        except BackendError as exc:
            raise BackendError(f"cannot read the Ray cluster's resources: {exc}") from exc
        if not self._pools:
            raise BackendError(f"Ray at {api.address} has no alive nodes")
        self.refresh()
        self._watcher = threading.Thread(target=self._watch, name="ray-watcher", daemon=True)
        self._watcher.start()

    # -- the Backend Protocol --------------------------------------------------------------------

    def capacity(self) -> list[PoolOffer]:
        return [pool.offer for pool in self._pools.values()]

    def submit(self, launch: Launch) -> None:
        if not ATTEMPT_ID.match(launch.attempt_id):
            raise BackendError(f"attempt id {launch.attempt_id!r} is not a safe Ray submission id")
        with self._lock:
            if launch.attempt_id in self._jobs:
                return
        pool = self._pools.get(launch.pool)
        if pool is None:
            raise BackendError(f"this site has no pool {launch.pool!r}; it has {sorted(self._pools)}")
        if len(launch.allocation.nodes) > 1:
            raise BackendError("the Ray backend runs single-node entrypoints; use Ray itself across nodes")
        wanted = submission(launch, pool, self._owner)
        job = _Job(launch, wanted.entrypoint, AttemptStatus(launch.attempt_id, AttemptState.STARTING))
        job.pending = wanted  # Ray's POST can take seconds on a busy cluster: the watcher sends it
        with self._lock:
            self._jobs.setdefault(launch.attempt_id, job)
        self._wake.set()

    def poll(self) -> list[AttemptStatus]:
        with self._lock:
            return [job.status for job in self._jobs.values() if not job.forgotten]

    def cancel(self, attempt_id: str, reason: str) -> None:
        self._stop(attempt_id, AttemptState.CANCELLED, reason)

    def read_logs(self, attempt_id: str, offset: int) -> str:
        with self._lock:
            job = self._jobs.get(attempt_id)
            if job is None:
                return ""
            text, final = job.output, job.output_final
        if not final and text.endswith("\ufffd"):
            text = text[:-1]  # maybe a character Ray has only half of yet
        data = text.encode()
        chunk = data[offset : offset + LOG_CHUNK_BYTES]
        complete = offset + len(chunk) >= len(data)
        decoded: str = decoder().decode(chunk, final=complete)
        return decoded

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
            self._forgotten.add(attempt_id)
            ended = job.status.terminal
            if ended:
                del self._jobs[attempt_id]
        if ended:
            with self._lock:
                self._to_delete.add(attempt_id)
        else:  # the watcher drops it once Ray says it has ended
            self.cancel(attempt_id, "forgotten by the agent")

    def adopted(self) -> list[Launch]:
        """The launches of every attempt held, including those found again after an agent restart."""
        with self._lock:
            return [job.launch for job in self._jobs.values() if not job.forgotten]

    def close(self) -> None:
        with self._lock:
            live = [job for job in self._jobs.values() if not job.status.terminal]
        for job in live:
            self.cancel(job.launch.attempt_id, "agent shutting down")
        self._closed.set()
        self._watcher.join(timeout=self._interval + 15.0)
        for job in live:  # the watcher may not have got to them
            if not job.stop_sent:
                self._send_stop(job)
        with self._lock:
            deletes, self._to_delete = self._to_delete, set()
        for attempt_id in deletes:
            self._delete(attempt_id)
        self._api.close()

    # -- beyond the Protocol -----------------------------------------------------------------------

    def refresh(self) -> bool:
        """Send pending submissions, then ask Ray once about every job; True when a state changed."""
        with self._lock:
            pending = [
                job for job in self._jobs.values() if job.pending is not None and not job.status.terminal
            ]
        changed = any([self._send(job) for job in pending])
        try:
            rows = {job.submission_id: job for job in self._api.jobs()}
        except BackendError as exc:
            if not self._unreachable:
                log.warning("Ray does not answer (keeping the last known states): %s", exc)
            self._unreachable = True
            return False
        if self._unreachable:
            log.info("Ray answers again")
            self._unreachable = False
        changed |= self._adopt(rows.values())
        with self._lock:
            jobs = [job for job in self._jobs.values() if not job.status.terminal and job.pending is None]
        for job in jobs:
            changed |= self._observe(job, rows.get(job.launch.attempt_id))
        return changed

    # -- internals ---------------------------------------------------------------------------------

    def _send(self, job: _Job) -> bool:
        """Submit a job to Ray (or take over the one this owner submitted before); True when the
        attempt failed because Ray refused it. While Ray does not answer it stays pending."""
        with self._lock:
            wanted, attempt_id = job.pending, job.launch.attempt_id
            job.sending = wanted is not None
        if wanted is None:
            return False
        try:
            existing = self._api.job(attempt_id)
            if existing is None:
                self._api.submit(wanted)
            elif launch_of(existing.metadata, self._owner) is None:
                raise BackendError(f"Ray already has a job {attempt_id} that another agent submitted")
        except RayUnreachable as exc:
            log.warning("cannot submit attempt %s to Ray yet (will retry): %s", attempt_id, exc)
            with self._lock:
                job.sending = False
            return False
        except BackendError as exc:
            log.warning("Ray did not take attempt %s: %s", attempt_id, exc)
            now = datetime.now(UTC)
            failed = AttemptStatus(
                attempt_id, AttemptState.FAILED, None, f"Ray did not take it: {exc}", None, now
            )
            with self._lock:
                job.pending, job.sending, job.status = None, False, failed
                if job.forgotten:
                    self._jobs.pop(attempt_id, None)
            return True
        with self._lock:
            job.pending, job.sending = None, False  # a stop asked for meanwhile is sent by _observe
        return False

    def _load_pools(self) -> dict[str, RayPool]:
        nodes = self._api.nodes()
        pools = pools_from_nodes(nodes, self._accelerators, self._gpu_model, self._declared)
        return {pool.offer.name: pool for pool in pools}

    def _adopt(self, rows: Any) -> bool:
        """Take on this agent's jobs found in Ray that it does not hold (after a restart). Ended
        ones too: a job is deleted from Ray only once the server has its end, so one still there
        may have ended while no agent was running, and its end and output are still to report."""
        adopted = False
        for row in rows:
            launch = launch_of(row.metadata, self._owner)
            with self._lock:
                known = row.submission_id in self._jobs or row.submission_id in self._forgotten
            if known or launch is None or launch.attempt_id != row.submission_id:
                continue
            job = _Job(launch, row.entrypoint, AttemptStatus(launch.attempt_id, AttemptState.STARTING))
            job.submitted_here = False
            with self._lock:
                self._jobs.setdefault(launch.attempt_id, job)
            log.info("found attempt %s again as a Ray job (%s)", launch.attempt_id, row.status)
            adopted = True
        return adopted

    def _observe(self, job: _Job, row: RayJob | None) -> bool:
        now = datetime.now(UTC)
        started: datetime | None = job.status.started_at
        ended: datetime | None = None
        reason: str | None
        if row is None:
            state, code, ended = AttemptState.FAILED, None, now
            reason = f"Ray no longer knows job {job.launch.attempt_id}"
        else:
            state, code, reason = outcome(row.status, row.message, row.exit_code)
            if started is None and state == AttemptState.RUNNING:
                # Ray's start_time is when the job was submitted: seen starting here, now is closer.
                started = now if job.submitted_here else row.started_at
            elif started is None and state in TERMINAL:
                started = row.started_at
            ended = (row.ended_at or now) if state in TERMINAL else None
        if state in TERMINAL and job.intent is not None:
            state, reason = job.intent
        if state in TERMINAL and row is not None and not self._read_output(job, final=True):
            return False  # report the end once its whole output is here
        if state == AttemptState.RUNNING:
            self._read_output(job, final=False)
        status = AttemptStatus(job.launch.attempt_id, state, code, reason, started, ended)
        with self._lock:
            if status == job.status:
                changed = False
            else:
                changed, job.status = True, status
                if status.terminal:
                    job.usage = _usage(job.launch, status)
                    if job.forgotten:
                        self._jobs.pop(job.launch.attempt_id, None)
        if changed and status.terminal and job.forgotten:
            self._delete(job.launch.attempt_id)  # on the watcher's thread
        if not status.terminal:
            self._enforce_max_runtime(job, now)
            if job.intent is not None and not job.stop_sent:
                self._send_stop(job)
        return changed

    def _enforce_max_runtime(self, job: _Job, now: datetime) -> None:
        limit = _max_runtime(job.launch.spec)
        started = job.status.started_at
        if limit is not None and started is not None and (now - started).total_seconds() > limit:
            self._stop(job.launch.attempt_id, AttemptState.FAILED, f"max_runtime exceeded ({limit:g}s)")

    def _stop(self, attempt_id: str, state: AttemptState, reason: str) -> None:
        with self._lock:
            job = self._jobs.get(attempt_id)
            if job is None or job.status.terminal or job.intent is not None:
                return
            job.intent = (state, reason)
            if job.pending is not None and not job.sending:  # never reached Ray: it ends here
                job.pending = None
                job.status = AttemptStatus(attempt_id, state, None, reason, None, datetime.now(UTC))
                if job.forgotten:
                    self._jobs.pop(attempt_id, None)
                self._notify()
                return
        self._wake.set()  # the watcher sends the stop

    def _send_stop(self, job: _Job) -> None:
        try:
            self._api.stop(job.launch.attempt_id)
        except BackendError as exc:
            log.warning("cannot stop Ray job %s yet (will retry): %s", job.launch.attempt_id, exc)
            return
        job.stop_sent = True

    def _delete(self, attempt_id: str) -> None:
        try:
            self._api.delete(attempt_id)
        except BackendError as exc:  # Ray keeps the job's record; nothing of ours depends on it
            log.info("cannot delete Ray job %s: %s", attempt_id, exc)

    def _read_output(self, job: _Job, *, final: bool) -> bool:
        try:
            logs = self._api.logs(job.launch.attempt_id)
        except BackendError as exc:
            log.debug("cannot read the output of %s yet: %s", job.launch.attempt_id, exc)
            return False
        text = job_output(logs or "", job.launch.attempt_id, job.entrypoint)
        with self._lock:
            grew = len(text) > len(job.output)
            if grew or final:
                job.output, job.output_final = text, final
        if grew and not final:
            self._notify()
        return True

    def _watch(self) -> None:
        pools_at = time.monotonic()
        while not self._closed.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._closed.is_set():
                return
            if time.monotonic() - pools_at > _POOL_REFRESH_S:
                pools_at = time.monotonic()
                self._refresh_pools()
            with self._lock:
                deletes, self._to_delete = self._to_delete, set()
                live = any(not job.status.terminal for job in self._jobs.values())
            for attempt_id in deletes:
                self._delete(attempt_id)
            if live and self.refresh():
                self._notify()

    def _refresh_pools(self) -> None:
        try:
            self._pools = self._load_pools() or self._pools
        except BackendError as exc:
            log.warning("cannot refresh Ray pools (keeping the last ones): %s", exc)


def _usage(launch: Launch, status: AttemptStatus) -> Usage | None:
    if status.started_at is None:
        return None
    ended = status.ended_at or status.started_at
    wall = max(0.0, (ended - status.started_at).total_seconds())
    alloc = launch.allocation
    return Usage(
        launch.attempt_id,
        status.started_at,
        ended,
        wall * alloc.accelerators_per_node,
        wall * alloc.cpus_per_node,
        wall,
    )


def _max_runtime(spec: Mapping[str, Any]) -> float | None:
    resources = spec.get("resources") or {}
    limit = resources.get("max_runtime_s") if isinstance(resources, Mapping) else None
    return float(limit) if limit is not None else None


def _owner_id(state_dir: Path) -> str:
    """This agent's id in Ray's job metadata, kept in the state dir so that a restart keeps it."""
    path = state_dir / "ray-owner"
    try:
        owner = path.read_text().strip()
    except FileNotFoundError:
        owner = ""
    if not owner:
        state_dir.mkdir(parents=True, exist_ok=True)
        owner = f"agent-{uuid.uuid4().hex}"
        path.write_text(owner + "\n")
    return owner


def make_backend(settings: BackendSettings) -> RayBackend:
    """The registry's factory. Options: `address` (the dashboard, default http://127.0.0.1:8265),
    `accelerator` (resources that count as accelerators, default `GPU`; see ray_translate),
    `gpu_model` (model of GPUs Ray does not type), `poll_interval` (s, default 1), `timeout` (s, 10)."""
    options = settings.options
    api = RayApi(
        options.get("address") or "http://127.0.0.1:8265", timeout=float(options.get("timeout", "10"))
    )
    return RayBackend(
        api,
        settings.state_dir,
        accelerators=parse_accelerators(options.get("accelerator")),
        gpu_model=options.get("gpu_model") or None,
        declared={pool.name: pool.accelerator for pool in settings.pools},
        notify=settings.notify,
        poll_interval=float(options.get("poll_interval", "1.0")),
    )
