"""The local backend with real processes: output, exit codes, env, slots, limits, and dying with the agent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from suanli.agent.backends.base import (
    LOG_CHUNK_BYTES,
    Allocation,
    AttemptState,
    AttemptStatus,
    BackendError,
    Launch,
    launch_json,
)
from suanli.agent.backends.local import LocalBackend
from suanli.agent.pools import Machine, parse_pools

POOLS = parse_pools(["cpu:2", "gpu=A100:4"], Machine(cpus=2, memory_mib=1024))


def make_launch(attempt_id: str, run: str, *, pool: str = "cpu", gpus: int = 0, **spec: Any) -> Launch:
    full = {"run": run, "setup": None, "env": {}, "resources": {"max_runtime_s": None}} | spec
    return Launch(
        attempt_id=attempt_id,
        job_id="job_" + attempt_id,
        attempt=2,
        fencing_token=1,
        spec=full,
        pool=pool,
        allocation=Allocation("A100" if gpus else None, gpus, 1, 64, (0,)),
    )


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[LocalBackend]:
    local = LocalBackend(POOLS, tmp_path, kill_grace=0.3)
    yield local
    local.close()


def wait_ended(backend: LocalBackend, attempt_id: str, timeout: float = 10.0) -> AttemptStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = next(s for s in backend.poll() if s.attempt_id == attempt_id)
        if status.terminal:
            return status
        time.sleep(0.01)
    raise AssertionError(f"{attempt_id} did not end")


def wait_for_file(path: Path, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.01)
    raise AssertionError(f"{path} never appeared")


def pid_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def logs(backend: LocalBackend, attempt_id: str) -> str:
    return backend.read_logs(attempt_id, 0)


@pytest.mark.parametrize(
    ("run", "setup", "state", "exit_code", "reason"),
    [
        ("echo out; echo err >&2", None, AttemptState.SUCCEEDED, 0, None),
        ("exit 3", None, AttemptState.FAILED, 3, "exit code 3"),
        ("kill -KILL $$", None, AttemptState.FAILED, 137, "killed by SIGKILL"),
        (
            "echo ran",
            "echo prepared; false; echo not-reached",
            AttemptState.FAILED,
            1,
            "setup failed: exit code 1",
        ),
        ("echo ran", "echo prepared", AttemptState.SUCCEEDED, 0, None),
    ],
)
def test_attempts_end_with_the_jobs_exit(
    backend: LocalBackend,
    run: str,
    setup: str | None,
    state: AttemptState,
    exit_code: int,
    reason: str | None,
) -> None:
    backend.submit(make_launch("att_1", run, setup=setup))
    status = wait_ended(backend, "att_1")
    assert (status.state, status.exit_code, status.reason) == (state, exit_code, reason)
    assert status.started_at is not None and status.ended_at is not None
    assert status.started_at <= status.ended_at
    assert "not-reached" not in logs(backend, "att_1")


def test_stdout_and_stderr_are_captured_together(backend: LocalBackend) -> None:
    backend.submit(make_launch("att_1", "echo one; echo two >&2; echo three", setup="echo zero"))
    wait_ended(backend, "att_1")
    assert logs(backend, "att_1") == "zero\none\ntwo\nthree\n"
    assert backend.read_logs("att_1", 5) == "one\ntwo\nthree\n"
    assert backend.read_logs("nobody", 0) == ""


def test_an_attempt_is_running_as_soon_as_submit_returns(backend: LocalBackend) -> None:
    backend.submit(make_launch("att_1", "sleep 5"))
    [status] = backend.poll()
    assert status.state is AttemptState.RUNNING
    backend.submit(make_launch("att_1", "exit 1"))  # idempotent on attempt id
    assert [s.attempt_id for s in backend.poll()] == ["att_1"]


def test_jobs_get_their_env_and_distinct_accelerator_slots(backend: LocalBackend) -> None:
    show = 'echo "$SUANLI_JOB_ID $SUANLI_ATTEMPT $SUANLI_ATTEMPT_ID [$CUDA_VISIBLE_DEVICES] $GREETING"; sleep 0.3'
    backend.submit(make_launch("att_a", show, pool="gpu", gpus=2, env={"GREETING": "hi"}))
    backend.submit(make_launch("att_b", show, pool="gpu", gpus=1, env={"GREETING": "yo"}))
    backend.submit(make_launch("att_c", show))
    for attempt_id in ("att_a", "att_b", "att_c"):
        wait_ended(backend, attempt_id)
    assert logs(backend, "att_a") == "job_att_a 2 att_a [0,1] hi\n"
    assert logs(backend, "att_b") == "job_att_b 2 att_b [2] yo\n"
    assert logs(backend, "att_c") == "job_att_c 2 att_c [] \n"


def test_a_full_pool_refuses_until_slots_come_back(backend: LocalBackend) -> None:
    backend.submit(make_launch("att_a", "sleep 0.2", pool="gpu", gpus=3))
    with pytest.raises(BackendError, match="1 free accelerator slots; the attempt needs 2"):
        backend.submit(make_launch("att_b", "true", pool="gpu", gpus=2))
    assert [s.attempt_id for s in backend.poll()] == ["att_a"]
    wait_ended(backend, "att_a")
    backend.submit(make_launch("att_b", "echo $CUDA_VISIBLE_DEVICES", pool="gpu", gpus=4))
    wait_ended(backend, "att_b")
    assert logs(backend, "att_b") == "0,1,2,3\n"


@pytest.mark.parametrize(
    ("attempt_id", "pool", "complaint"),
    [("../escape", "cpu", "not a safe directory name"), ("att_1", "tpu", "no pool 'tpu'")],
)
def test_bad_launches_are_refused(backend: LocalBackend, attempt_id: str, pool: str, complaint: str) -> None:
    with pytest.raises(BackendError, match=complaint):
        backend.submit(make_launch(attempt_id, "true", pool=pool))
    assert backend.poll() == []


def test_max_runtime_stops_the_job_even_one_that_ignores_sigterm(backend: LocalBackend) -> None:
    backend.submit(make_launch("att_1", "trap '' TERM; sleep 30", resources={"max_runtime_s": 0.5}))
    started = time.monotonic()
    status = wait_ended(backend, "att_1")
    assert 0.5 <= time.monotonic() - started < 0.5 + 0.3 + 3.0  # limit, kill grace, slack for a busy machine
    assert (status.state, status.reason) == (AttemptState.FAILED, "max_runtime exceeded (0.5s)")
    assert status.exit_code == 128 + signal.SIGKILL


def test_cancel_kills_the_whole_process_group(backend: LocalBackend, tmp_path: Path) -> None:
    backend.submit(make_launch("att_1", "sleep 30 & echo $! > child.pid; wait"))
    child = int(wait_for_file(tmp_path / "attempts" / "att_1" / "child.pid"))
    backend.cancel("att_1", "cancelled by the tenant")
    status = wait_ended(backend, "att_1")
    assert (status.state, status.reason) == (AttemptState.CANCELLED, "cancelled by the tenant")
    assert pid_gone(child)


def test_what_a_job_leaves_behind_is_stopped_when_it_ends(backend: LocalBackend, tmp_path: Path) -> None:
    backend.submit(make_launch("att_1", "sleep 30 & echo $! > child.pid"))
    child = int(wait_for_file(tmp_path / "attempts" / "att_1" / "child.pid"))
    assert wait_ended(backend, "att_1").state is AttemptState.SUCCEEDED
    assert pid_gone(child, timeout=0.1)


def test_usage_of_an_ended_attempt(backend: LocalBackend) -> None:
    busy = f"{sys.executable} -c 'import time; t = time.process_time()\nwhile time.process_time() - t < 0.3: pass'"
    backend.submit(make_launch("att_1", busy, pool="gpu", gpus=2))
    assert backend.usage("att_1") is None
    wait_ended(backend, "att_1")
    usage = backend.usage("att_1")
    assert usage is not None
    assert usage.cpu_seconds >= 0.3
    assert usage.wall_seconds >= 0.3
    assert usage.accelerator_seconds == pytest.approx(2 * usage.wall_seconds)


def test_forget_drops_the_attempt_and_its_files(backend: LocalBackend, tmp_path: Path) -> None:
    backend.submit(make_launch("att_done", "true"))
    backend.submit(make_launch("att_live", "sleep 30 & echo $! > child.pid; wait"))
    wait_ended(backend, "att_done")
    child = int(wait_for_file(tmp_path / "attempts" / "att_live" / "child.pid"))
    backend.forget("att_done")
    backend.forget("att_live")
    backend.forget("nobody")
    assert backend.poll() == []
    assert not (tmp_path / "attempts" / "att_done").exists()
    assert pid_gone(child)
    deadline = time.monotonic() + 5
    while (tmp_path / "attempts" / "att_live").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not (tmp_path / "attempts" / "att_live").exists()


def test_logs_come_in_capped_chunks_that_never_split_a_character(backend: LocalBackend) -> None:
    # 1 + 2 * 200_000 bytes: the first chunk ends in the middle of an "é"; then two undecodable bytes
    write = "import sys; sys.stdout.buffer.write(b'a' + 'é'.encode() * 200_000 + bytes([255, 254]))"
    backend.submit(make_launch("att_1", f'{sys.executable} -c "{write}"'))
    wait_ended(backend, "att_1", timeout=30)
    text, offset = "", 0
    while chunk := backend.read_logs("att_1", offset):
        assert len(chunk.encode()) <= LOG_CHUNK_BYTES
        text, offset = text + chunk, offset + len(chunk.encode())
    assert text == "a" + "é" * 200_000 + "??"
    assert offset == 1 + 400_000 + 2


def test_a_nul_in_the_output_is_read_as_one_question_mark(backend: LocalBackend) -> None:
    """The server's database cannot store NUL; one "?" for it keeps the offsets in bytes."""
    backend.submit(make_launch("att_1", "printf 'a\\000b\\n'"))
    wait_ended(backend, "att_1", timeout=30)
    assert backend.read_logs("att_1", 0) == "a?b\n"


def test_notify_is_called_when_an_attempt_starts_and_ends(tmp_path: Path) -> None:
    changed = threading.Event()
    local = LocalBackend(POOLS, tmp_path, kill_grace=0.3, notify=changed.set)
    try:
        local.submit(make_launch("att_1", "sleep 0.2"))
        assert changed.wait(1)
        changed.clear()
        assert changed.wait(5)
        ended = time.monotonic()
        [status] = local.poll()
        assert status.terminal and time.monotonic() - ended < 0.5  # ready at once, not at a later poll
    finally:
        local.close()


def test_close_stops_every_attempt(tmp_path: Path) -> None:
    local = LocalBackend(POOLS, tmp_path, kill_grace=0.3)
    local.submit(make_launch("att_1", "sleep 30 & echo $! > child.pid; wait"))
    child = int(wait_for_file(tmp_path / "attempts" / "att_1" / "child.pid"))
    local.close()
    [status] = local.poll()
    assert status.state is AttemptState.CANCELLED and status.reason == "agent shutting down"
    assert pid_gone(child, timeout=0.1)


AGENT_LIKE_PARENT = textwrap.dedent(
    """
    import sys, threading, time
    from pathlib import Path
    from suanli.agent.backends.base import Allocation, Launch
    from suanli.agent.backends.local import LocalBackend
    from suanli.agent.pools import Machine, parse_pools

    root, run, gpus = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    pools = parse_pools(["cpu:1", "gpu=A100:2"], Machine(1, 64))
    backend = LocalBackend(pools, root, kill_grace=float(sys.argv[4]))
    spec = {"run": run, "env": {}, "resources": {}}
    launch = Launch(
        "att_1", "job_1", 1, 1, spec, "gpu" if gpus else "cpu", Allocation("A100" if gpus else None, gpus, 1, 1, (0,))
    )
    # submitted from a thread that then ends: the job must still live as long as the process does
    submitter = threading.Thread(target=backend.submit, args=(launch,))
    submitter.start()
    submitter.join()
    print("submitted", flush=True)
    time.sleep(60)
    """
)


def start_agent_like(
    root: Path, run: str = "sleep 60 & echo $! > child.pid; wait", *, gpus: int = 0, grace: float = 0.3
) -> subprocess.Popen[str]:
    """A process that starts one attempt as an agent does, and can be killed like one."""
    parent = subprocess.Popen(
        [sys.executable, "-c", AGENT_LIKE_PARENT, str(root), run, str(gpus), str(grace)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None and parent.stdout.readline().strip() == "submitted"
    return parent


def kill_9(parent: subprocess.Popen[str]) -> None:
    parent.send_signal(signal.SIGKILL)
    parent.wait()


def test_a_job_dies_with_its_agent_even_on_kill_9(tmp_path: Path) -> None:
    parent = start_agent_like(tmp_path)
    try:
        child = int(wait_for_file(tmp_path / "attempts" / "att_1" / "child.pid"))
        time.sleep(0.5)
        os.kill(child, 0)  # still running while the agent lives, though the submitting thread ended
        kill_9(parent)
        assert pid_gone(child, timeout=5.0)
    finally:
        if parent.poll() is None:
            parent.kill()


def test_the_next_agent_reports_what_the_dead_one_ran_and_meters_it(tmp_path: Path) -> None:
    parent = start_agent_like(tmp_path, "echo working; sleep 60", gpus=2)
    try:
        wait_for_file(tmp_path / "attempts" / "att_1" / ".suanli" / "shim.pid")
        time.sleep(1.0)
        killed_at = time.time()
        kill_9(parent)
        wait_for_file(tmp_path / "attempts" / "att_1" / ".suanli" / "exit.json")
    finally:
        if parent.poll() is None:
            parent.kill()
    local = LocalBackend(POOLS, tmp_path, kill_grace=0.3)
    try:
        assert [launch.attempt_id for launch in local.adopted()] == ["att_1"]
        [status] = local.poll()
        assert status.state is AttemptState.FAILED and status.exit_code == 128 + signal.SIGTERM
        assert status.reason == "its agent ended while it ran (killed by SIGTERM)"
        usage = local.usage("att_1")
        assert usage is not None and status.started_at is not None
        assert 1.0 <= usage.wall_seconds <= time.time() - status.started_at.timestamp()
        assert usage.ended_at.timestamp() >= killed_at
        assert usage.accelerator_seconds == pytest.approx(2 * usage.wall_seconds)
        assert "working" in logs(local, "att_1")
        # its slots were not taken: both GPUs are free for new work
        local.submit(make_launch("att_2", "true", pool="gpu", gpus=2))
        local.forget("att_1")
        assert not (tmp_path / "attempts" / "att_1").exists() and local.adopted() == []
    finally:
        local.close()


def test_a_job_that_finished_before_its_agent_died_is_reported_as_it_ended(tmp_path: Path) -> None:
    parent = start_agent_like(tmp_path, "echo all done")
    try:
        wait_for_file(tmp_path / "attempts" / "att_1" / ".suanli" / "exit.json")
        kill_9(parent)
    finally:
        if parent.poll() is None:
            parent.kill()
    local = LocalBackend(POOLS, tmp_path, kill_grace=0.3)
    try:
        [status] = local.poll()
        assert (status.state, status.exit_code, status.reason) == (AttemptState.SUCCEEDED, 0, None)
    finally:
        local.close()


def test_an_agent_started_at_once_waits_for_the_old_jobs_to_stop(tmp_path: Path) -> None:
    parent = start_agent_like(tmp_path, "trap 'sleep 1; exit 7' TERM; echo ready; sleep 60 & wait", grace=5.0)
    try:
        wait_for_file(tmp_path / "attempts" / "att_1" / ".suanli" / "shim.pid")
        time.sleep(0.5)
        kill_9(parent)
    finally:
        if parent.poll() is None:
            parent.kill()
    local = LocalBackend(POOLS, tmp_path, kill_grace=5.0)  # before the job has finished stopping
    try:
        [status] = local.poll()
        assert (status.state, status.exit_code) == (AttemptState.FAILED, 7)
        assert status.reason == "its agent ended while it ran (exit code 7)"
    finally:
        local.close()


def test_leftovers_without_a_result_or_a_launch(tmp_path: Path) -> None:
    control = tmp_path / "attempts" / "att_9" / ".suanli"
    control.mkdir(parents=True)
    launch = make_launch("att_9", "sleep 60", pool="gpu", gpus=1)
    (control / "launch.json").write_text(json.dumps(launch_json(launch)))
    (control / "output.log").write_text("half way\n")
    os.utime(control / "launch.json", (1_800_000_000, 1_800_000_000))
    os.utime(control / "output.log", (1_800_000_600, 1_800_000_600))
    junk = tmp_path / "attempts" / "att_old" / ".suanli"  # an older agent's, with no launch
    junk.mkdir(parents=True)
    local = LocalBackend(POOLS, tmp_path, kill_grace=0.3)
    try:
        assert local.adopted() == [launch]
        [status] = local.poll()
        assert status.state is AttemptState.FAILED and status.exit_code is None
        assert status.reason == "its agent ended while it ran; its outcome was not recorded"
        usage = local.usage("att_9")  # as far as anyone can tell: from its launch to its last output
        assert usage is not None and (usage.wall_seconds, usage.accelerator_seconds) == (600.0, 600.0)
        assert not junk.parent.exists()
    finally:
        local.close()
