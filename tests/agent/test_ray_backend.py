"""Ray backend against the real local Ray (scripts/ensure-ray.sh; `make test` starts it), and the
dashboard-down path with a stand-in transport for Ray's HTTP API."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from suanli.agent.backends.base import (
    Allocation,
    AttemptState,
    AttemptStatus,
    BackendError,
    Launch,
    PoolOffer,
)
from suanli.agent.backends.ray import RayBackend
from suanli.agent.backends.ray_api import RayApi
from suanli.agent.backends.ray_translate import RayPool, submission
from suanli.agent.backends.registry import BackendSettings, make_backend

ADDRESS = f"http://127.0.0.1:{os.environ.get('SUANLI_RAY_DASHBOARD_PORT', '8265')}"
FIXTURES = Path(__file__).parent / "fixtures" / "ray"


def _ray_answers() -> bool:
    try:
        return httpx.get(f"{ADDRESS}/api/jobs/", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


real_ray = pytest.mark.skipif(
    not _ray_answers(),
    reason=f"no Ray Jobs API answers at {ADDRESS} (scripts/ensure-ray.sh could not start one)",
)


def launch(run: str, *, gpus: int = 0, pool: str = "gpu", **spec: Any) -> Launch:
    attempt_id = f"att_t{uuid.uuid4().hex[:12]}"
    return Launch(attempt_id, "job1", 1, 1, {"run": run, **spec}, pool, Allocation("GPU", gpus, 0, 64, (0,)))


def settle(backend: RayBackend, attempt_id: str, timeout: float = 120.0) -> AttemptStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (status,) = [s for s in backend.poll() if s.attempt_id == attempt_id]
        if status.terminal:
            return status
        time.sleep(0.2)
    raise AssertionError(f"attempt {attempt_id} did not end in {timeout}s: {backend.poll()}")


def reach(backend: RayBackend, attempt_id: str, state: AttemptState, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(s.attempt_id == attempt_id and s.state == state for s in backend.poll()):
            return
        time.sleep(0.2)
    raise AssertionError(f"attempt {attempt_id} did not reach {state} in {timeout}s: {backend.poll()}")


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[RayBackend]:
    made = make_backend(
        "ray",
        BackendSettings(
            pools=(),
            state_dir=tmp_path,
            kill_grace=1.0,
            notify=lambda: None,
            options={"address": ADDRESS, "poll_interval": "0.3"},
        ),
    )
    assert isinstance(made, RayBackend)
    yield made
    for status in made.poll():  # leave no jobs behind in Ray: ended ones are deleted, live ones stopped
        made.forget(status.attempt_id)
    made.close()


@real_ray
def test_offers_the_clusters_gpus(backend: RayBackend) -> None:
    (offer,) = backend.capacity()
    assert (offer.name, offer.accelerator, offer.accelerators_per_node, offer.nodes) == ("gpu", "GPU", 4, 1)


@real_ray
def test_job_runs_setup_then_run_with_its_gpus_and_output_is_read(backend: RayBackend) -> None:
    job = launch(
        "echo gpus=$CUDA_VISIBLE_DEVICES run $SUANLI_ATTEMPT_ID $GREETING; exit 3",
        gpus=2,
        setup="echo setup",
        env={"GREETING": "hé"},
    )
    backend.submit(job)
    backend.submit(job)  # idempotent
    status = settle(backend, job.attempt_id)
    assert (status.state, status.exit_code, status.reason) == (AttemptState.FAILED, 3, "exit code 3")
    output = backend.read_logs(job.attempt_id, 0)
    assert output == f"setup\ngpus=0,1 run {job.attempt_id} hé\n"
    assert backend.read_logs(job.attempt_id, len("setup\n")) == output[len("setup\n") :]
    assert backend.usage(job.attempt_id) is not None
    backend.forget(job.attempt_id)
    assert backend.poll() == []
    deadline = time.monotonic() + 30  # the watcher deletes it in Ray
    while RayApi(ADDRESS).job(job.attempt_id) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert RayApi(ADDRESS).job(job.attempt_id) is None


@real_ray
def test_setup_failure_fails_the_job(backend: RayBackend) -> None:
    job = launch("echo never", setup="exit 2")
    backend.submit(job)
    status = settle(backend, job.attempt_id)
    assert (status.state, status.reason) == (AttemptState.FAILED, "setup failed: exit code 2")


@real_ray
def test_cancel_and_reattach_after_restart(backend: RayBackend, tmp_path: Path) -> None:
    job = launch("echo started; sleep 120")
    backend.submit(job)
    reach(backend, job.attempt_id, AttemptState.RUNNING)
    again = RayBackend(RayApi(ADDRESS), tmp_path, poll_interval=0.3)  # a new agent, same state dir
    other = RayBackend(RayApi(ADDRESS), tmp_path / "other", poll_interval=0.3)  # another agent
    try:
        assert [held.attempt_id for held in again.adopted()] == [job.attempt_id]
        assert again.adopted()[0] == job
        assert job.attempt_id not in [held.attempt_id for held in other.adopted()]
        reach(again, job.attempt_id, AttemptState.RUNNING)
        # Ray reports RUNNING once the driver starts, before the entrypoint's first line is logged
        deadline = time.monotonic() + 30
        while "started\n" not in again.read_logs(job.attempt_id, 0) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "started\n" in again.read_logs(job.attempt_id, 0)  # the reattached agent reads its logs
        again.cancel(job.attempt_id, "cancelled by tenant")
        status = settle(again, job.attempt_id)
        assert (status.state, status.reason) == (AttemptState.CANCELLED, "cancelled by tenant")
        assert "started\n" in again.read_logs(job.attempt_id, 0)
    finally:
        other.close()
        again.close()


@real_ray
def test_max_runtime_stops_the_job(backend: RayBackend) -> None:
    job = launch("sleep 120", resources={"max_runtime_s": 1})
    backend.submit(job)
    status = settle(backend, job.attempt_id)
    assert (status.state, status.reason) == (AttemptState.FAILED, "max_runtime exceeded (1s)")


@real_ray
def test_unknown_pool_and_multi_node_are_refused(backend: RayBackend) -> None:
    with pytest.raises(BackendError, match="no pool 'nope'"):
        backend.submit(launch("true", pool="nope"))
    wide = launch("true")
    wide = Launch(wide.attempt_id, "j", 1, 1, wide.spec, "gpu", Allocation("GPU", 0, 1, 64, (0, 1)))
    with pytest.raises(BackendError, match="single-node"):
        backend.submit(wide)
    assert backend.poll() == []


class _StandIn(httpx.BaseTransport):
    """Ray's dashboard from recorded answers; `down` makes it refuse connections."""

    def __init__(self) -> None:
        self.down = False
        self.refuse = ""
        self.jobs: list[dict[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("Connection refused", request=request)
        path = request.url.path
        if path == "/api/v0/nodes":
            return httpx.Response(200, text=(FIXTURES / "nodes.json").read_text())
        if path == "/api/jobs/" and request.method == "GET":
            return httpx.Response(200, json=self.jobs)
        if path == "/api/jobs/" and request.method == "POST" and self.refuse:
            return httpx.Response(500, text=f"Traceback (most recent call last):\n  ...\n{self.refuse}\n")
        if path == "/api/jobs/" and request.method == "POST":
            body = json.loads(request.content)
            self.jobs.append(
                {**body, "status": "RUNNING", "message": "", "start_time": 1, "type": "SUBMISSION"}
            )
            return httpx.Response(200, json={"submission_id": body["submission_id"]})
        if path.startswith("/api/jobs/") and request.method == "GET":
            return httpx.Response(404, text="Job does not exist")
        return httpx.Response(200, json={"stopped": True})


def test_dashboard_down_keeps_last_states_retries_submissions_and_recovers(tmp_path: Path) -> None:
    transport = _StandIn()
    backend = RayBackend(RayApi("http://ray", transport=transport), tmp_path, poll_interval=0.05)
    try:
        first, second = launch("sleep 1"), launch("true")
        backend.submit(first)
        reach(backend, first.attempt_id, AttemptState.RUNNING, timeout=5)
        transport.down = True
        backend.submit(second)  # taken, sent once Ray answers again
        time.sleep(0.5)
        assert [s.state for s in backend.poll()] == [AttemptState.RUNNING, AttemptState.STARTING]
        transport.jobs[0]["status"] = "SUCCEEDED"
        transport.down = False
        reach(backend, first.attempt_id, AttemptState.SUCCEEDED, timeout=5)
        reach(backend, second.attempt_id, AttemptState.RUNNING, timeout=5)
    finally:
        backend.close()


def test_a_submission_ray_refuses_fails_the_attempt_with_rays_reason(tmp_path: Path) -> None:
    transport = _StandIn()
    transport.refuse = "ValueError: Job with submission_id x already exists."
    backend = RayBackend(RayApi("http://ray", transport=transport), tmp_path, poll_interval=0.05)
    try:
        job = launch("true")
        backend.submit(job)
        reach(backend, job.attempt_id, AttemptState.FAILED, timeout=5)
        (status,) = backend.poll()
        assert status.reason == f"Ray did not take it: Ray refused POST /api/jobs/: {transport.refuse}"
    finally:
        backend.close()


def test_a_job_that_ended_while_no_agent_ran_is_adopted_and_its_end_reported(tmp_path: Path) -> None:
    (tmp_path / "ray-owner").write_text("agent-x\n")
    ended, foreign = launch("true"), launch("true")
    transport = _StandIn()
    for job, owner in ((ended, "agent-x"), (foreign, "agent-y")):
        body = submission(job, RayPool(PoolOffer("gpu", "GPU", 4, 1, 2, 64), "GPU"), owner).body()
        transport.jobs.append({**body, "status": "SUCCEEDED", "message": "", "start_time": 1, "end_time": 2})
    backend = RayBackend(RayApi("http://ray", transport=transport), tmp_path, poll_interval=60)
    try:
        assert backend.adopted() == [ended]
        (status,) = backend.poll()
        assert (status.attempt_id, status.state) == (ended.attempt_id, AttemptState.SUCCEEDED)
    finally:
        backend.close()
