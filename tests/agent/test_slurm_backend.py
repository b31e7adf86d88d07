"""Slurm backend against the real local Slurm (scripts/ensure-slurm.sh; `make test` starts it), and
the controller-down path with a stand-in for Slurm's commands."""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fake_control_plane import AGENT_TOKEN, FakeControlPlane

from suanli.agent.backends.base import Allocation, AttemptState, AttemptStatus, BackendError, Launch
from suanli.agent.backends.registry import BackendSettings, make_backend
from suanli.agent.backends.slurm import SlurmBackend
from suanli.agent.backends.slurm_cli import JobRow, NodeRow, SlurmCli, SlurmUnreachable
from suanli.agent.runtime import AgentConfig, run_agent


def _slurm_answers() -> bool:
    if shutil.which("sinfo") is None:
        return False
    done = subprocess.run(
        ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20, check=False
    )
    return done.returncode == 0 and bool(done.stdout.strip())


real_slurm = pytest.mark.skipif(
    not _slurm_answers(), reason="no Slurm answers `sinfo` here (run scripts/ensure-slurm.sh as root)"
)


def launch(run: str, *, gpus: int = 0, pool: str = "debug", **spec: Any) -> Launch:
    attempt_id = f"t{uuid.uuid4().hex[:10]}"
    return Launch(attempt_id, "job1", 1, 1, {"run": run, **spec}, pool, Allocation("GPU", gpus, 1, 256, (0,)))


def running(backend: SlurmBackend, attempt_id: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if [s.state for s in backend.poll() if s.attempt_id == attempt_id] == [AttemptState.RUNNING]:
            return
        time.sleep(0.1)
    raise AssertionError(f"attempt {attempt_id} is not running after {timeout}s: {backend.poll()}")


def settle(backend: SlurmBackend, attempt_id: str, timeout: float = 20.0) -> AttemptStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (status,) = [s for s in backend.poll() if s.attempt_id == attempt_id]
        if status.terminal:
            return status
        time.sleep(0.1)
    raise AssertionError(f"attempt {attempt_id} did not end in {timeout}s: {backend.poll()}")


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[SlurmBackend]:
    made = make_backend(
        "slurm",
        BackendSettings(
            pools=(),
            state_dir=tmp_path,
            kill_grace=1.0,
            notify=lambda: None,
            options={"poll_interval": "0.2"},
        ),
    )
    assert isinstance(made, SlurmBackend)
    yield made
    for held in made.adopted():  # no jobs left behind
        subprocess.run(["scancel", "--name", f"suanli-{held.attempt_id}"], check=False)
    made.close()


@real_slurm
def test_offers_the_partition_with_its_gpus(backend: SlurmBackend) -> None:
    (offer,) = backend.capacity()
    assert (offer.name, offer.accelerator, offer.accelerators_per_node, offer.nodes) == ("debug", "GPU", 4, 1)
    assert offer.max_runtime_s == 7 * 86400  # the partition's MaxTime=7-00:00:00


@real_slurm
@pytest.mark.parametrize(
    ("options", "warned"),
    [((), True), ((("gpu_model", "A100"),), False)],
)
def test_gpus_slurm_does_not_type_are_offered_with_a_warning_naming_the_fix(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, options: tuple[tuple[str, str], ...], warned: bool
) -> None:
    """The local Slurm lists its GPUs as `gpu:4`: without `gpu_model` the pool's accelerator is
    Slurm's `GPU`, which no job can ask for; the agent says so at start, and how to fix it."""
    caplog.set_level(logging.INFO, logger="suanli.agent")
    cp = FakeControlPlane()
    stop = threading.Event()
    config = AgentConfig(
        server="http://control.test",
        token=AGENT_TOKEN,
        site="lab",
        backend="slurm",
        state_dir=tmp_path,
        backend_options=options,
        transport=cp.transport(),
    )
    agent = threading.Thread(target=run_agent, args=(config, stop), daemon=True)
    agent.start()
    try:
        cp.wait_for(lambda cp: len(cp.syncs) >= 1, timeout=30)
    finally:
        stop.set()
        agent.join(30)
    assert [p["accelerator"] for p in cp.syncs[0]["pools"]] == ["A100" if options else "GPU"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    if warned:
        [warning] = warnings
        assert warning.startswith("pool 'debug' offers accelerator 'GPU', which is not a model")
        assert "--backend-opt gpu_model=A100" in warning
    else:
        assert warnings == []


@real_slurm
def test_job_runs_setup_then_run_and_output_is_read(backend: SlurmBackend) -> None:
    job = launch("echo run $SUANLI_ATTEMPT_ID; exit 3", setup="echo setup", env={"GREETING": "hé"})
    backend.submit(job)
    backend.submit(job)  # idempotent
    status = settle(backend, job.attempt_id)
    assert (status.state, status.exit_code, status.reason) == (AttemptState.FAILED, 3, "exit code 3")
    assert backend.read_logs(job.attempt_id, 0) == f"setup\nrun {job.attempt_id}\n"
    assert backend.usage(job.attempt_id) is not None
    assert len([s for s in backend.poll() if s.attempt_id == job.attempt_id]) == 1


@real_slurm
def test_setup_failure_fails_the_job(backend: SlurmBackend) -> None:
    job = launch("echo never", setup="exit 2")
    backend.submit(job)
    status = settle(backend, job.attempt_id)
    assert (status.state, status.reason) == (AttemptState.FAILED, "setup failed: exit code 2")


@real_slurm
def test_gpu_job_sees_the_gpus_slurm_gave_it(backend: SlurmBackend) -> None:
    job = launch("echo CVD=$CUDA_VISIBLE_DEVICES", gpus=2)
    backend.submit(job)
    assert settle(backend, job.attempt_id).state == AttemptState.SUCCEEDED
    assert backend.read_logs(job.attempt_id, 0) in ("CVD=0,1\n", "CVD=2,3\n", "CVD=1,2\n")


@real_slurm
@pytest.mark.parametrize(
    ("job", "message"),
    [
        (lambda: launch("true", gpus=9), "Requested node configuration is not available"),
        # ensure-slurm.sh: debug has MaxTime=7-00:00:00 and EnforcePartLimits=ALL
        (lambda: launch("true", resources={"max_runtime_s": 10 * 86400}), "Requested time limit is invalid"),
    ],
)
def test_slurm_refusal_fails_the_attempt_with_slurms_reason(
    backend: SlurmBackend, tmp_path: Path, job: Any, message: str
) -> None:
    refused = job()
    backend.submit(refused)
    status = settle(backend, refused.attempt_id)
    assert status.state == AttemptState.FAILED
    assert status.reason is not None and status.reason.startswith("Slurm did not take it: ")
    assert message in status.reason
    assert not (tmp_path / "attempts" / refused.attempt_id).exists()


def test_a_launch_for_an_unknown_pool_is_refused_at_once(tmp_path: Path) -> None:
    backend = SlurmBackend(_StandIn(), tmp_path, poll_interval=60)
    try:
        with pytest.raises(BackendError, match="no pool 'big'"):
            backend.submit(launch("true", pool="big"))
        assert backend.poll() == []
    finally:
        backend.close()


@real_slurm
def test_cancel_and_reattach_after_restart(backend: SlurmBackend, tmp_path: Path) -> None:
    job = launch("echo started; sleep 60")
    backend.submit(job)
    running(backend, job.attempt_id)  # in Slurm, so that the next agent can find it
    again = SlurmBackend(SlurmCli(), tmp_path, poll_interval=0.2)  # a new agent on the same state dir
    try:
        assert [held.attempt_id for held in again.adopted()] == [job.attempt_id]
        running(again, job.attempt_id)
        again.cancel(job.attempt_id, "cancelled by tenant")
        status = settle(again, job.attempt_id)
        assert (status.state, status.reason) == (AttemptState.CANCELLED, "cancelled by tenant")
    finally:
        again.close()


class _StandIn(SlurmCli):
    """Slurm's commands as a script: one node; the controller goes away when `down` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.state = "RUNNING"
        self.reason = "None"
        self.cancelled: list[str] = []
        self.submitted: list[Path] = []

    def nodes(self) -> list[NodeRow]:
        return [NodeRow("n1", "debug", 4, 4000, {None: 4}, "idle")]

    def jobs(self, name: str | None = None) -> list[JobRow]:
        if self.down:
            raise SlurmUnreachable(
                "slurm_load_jobs error: Unable to contact slurm controller (connect failure)"
            )
        return [JobRow("41", "suanli-a1", self.state, self.reason, None, None, None, 1)] if not name else []

    def submit(self, args: Sequence[str], script: Path, env: Any) -> str:
        if self.down:
            raise SlurmUnreachable("Batch job submission failed: Unable to contact slurm controller")
        self.submitted.append(script)
        return "41"

    def cancel(self, job_id: str) -> None:
        self.cancelled.append(job_id)
        self.state = "CANCELLED"


def test_submissions_and_cancels_wait_for_the_controller(tmp_path: Path) -> None:
    cli = _StandIn()
    cli.down = True
    backend = SlurmBackend(cli, tmp_path, poll_interval=60)
    try:
        started = time.monotonic()
        backend.submit(launch("echo hi", pool="debug"))
        backend.submit(later := launch("echo later", pool="debug"))
        assert time.monotonic() - started < 1.0  # never waits on Slurm in the agent's loop
        backend.refresh()
        assert cli.submitted == []
        assert {s.state for s in backend.poll()} == {AttemptState.STARTING}
        backend.cancel(later.attempt_id, "cancelled by tenant")
        cli.down = False
        backend.refresh()  # (or the watcher, woken by the cancel, got there first)
        assert len(cli.submitted) == 1  # the cancelled one never reached Slurm
        states = {s.attempt_id: (s.state, s.reason) for s in backend.poll()}
        assert states[later.attempt_id] == (AttemptState.CANCELLED, "cancelled by tenant")
    finally:
        backend.close()


def test_a_job_slurm_will_never_start_fails_and_is_cancelled(tmp_path: Path) -> None:
    cli = _StandIn()
    cli.state, cli.reason = "PENDING", "PartitionTimeLimit"
    backend = SlurmBackend(cli, tmp_path, poll_interval=60)
    try:
        backend.submit(Launch("a1", "j", 1, 1, {"run": "x"}, "debug", Allocation(None, 0, 1, 1, (0,))))
        backend.refresh()
        (status,) = backend.poll()
        assert (status.state, status.started_at) == (AttemptState.FAILED, None)
        assert status.reason is not None and "PartitionTimeLimit" in status.reason
        assert cli.cancelled == ["41"]
        assert backend.usage("a1") is None  # it never ran: nothing to charge
    finally:
        backend.close()


def test_controller_down_keeps_last_states_and_recovers(tmp_path: Path) -> None:
    cli = _StandIn()
    backend = SlurmBackend(cli, tmp_path, poll_interval=60)
    try:
        backend.submit(Launch("a1", "j", 1, 1, {"run": "x"}, "debug", Allocation(None, 0, 1, 1, (0,))))
        backend.refresh()
        assert backend.poll()[0].state == AttemptState.RUNNING
        cli.down = True
        assert backend.refresh() is False
        assert backend.poll()[0].state == AttemptState.RUNNING
        cli.down, cli.state = False, "PENDING"  # e.g. requeued while the controller was away
        backend.refresh()  # (the watcher, woken by submit, may be the one that sees it)
        assert backend.poll()[0].state == AttemptState.STARTING
    finally:
        backend.close()


def _accounting() -> bool:
    """Whether this cluster keeps accounting (slurmdbd): `sacct` answers instead of refusing."""
    if shutil.which("sacct") is None:
        return False
    done = subprocess.run(["sacct", "-n", "-X", "-j", "1"], capture_output=True, text=True, timeout=20)
    return done.returncode == 0


class _Forgetful(SlurmCli):
    """The real Slurm, but its controller has already forgotten every ended job (as it does after
    MinJobAge), so the backend must ask accounting."""

    def show_job(self, job_id: str) -> None:
        return None


@real_slurm
@pytest.mark.parametrize(
    ("run", "with_dbd"),
    [
        ("exit 3", (AttemptState.FAILED, 3, "exit code 3")),
        ("echo fine", (AttemptState.SUCCEEDED, 0, None)),
        ("kill -9 $$", (AttemptState.FAILED, 137, "killed by signal 9")),
    ],
)
def test_an_ended_job_the_controller_forgot_comes_from_accounting_or_fails_clearly(
    tmp_path: Path,
    run: str,
    with_dbd: tuple[AttemptState, int | None, str | None],
) -> None:
    """With slurmdbd (SUANLI_SLURM_DBD=1 scripts/ensure-slurm.sh) `sacct` gives the outcome; without
    it the attempt fails with a reason that says Slurm no longer knows the job."""
    backend = SlurmBackend(_Forgetful(), tmp_path, poll_interval=0.2)
    try:
        job = launch(run)
        backend.submit(job)
        status = settle(backend, job.attempt_id)
        if _accounting():
            assert (status.state, status.exit_code, status.reason) == with_dbd
            assert status.started_at is not None and status.ended_at is not None
        else:
            assert status.state == AttemptState.FAILED
            assert status.reason is not None and status.reason.startswith("Slurm no longer knows job ")
    finally:
        backend.close()
