"""Ray backend, pure parts: parsing recorded real outputs (Ray 2.60 Jobs and State API,
tests/agent/fixtures/ray/, recorded from scripts/ensure-ray.sh's cluster), pools from nodes, launches
to submissions, Ray job states to ours, and Ray's log text to the job's output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from suanli.agent.backends.base import Allocation, AttemptState, Launch, PoolOffer
from suanli.agent.backends.ray_api import RayJob, RayNode, error_message, parse_job, parse_jobs, parse_nodes
from suanli.agent.backends.ray_translate import (
    SETUP_FAILED,
    Accelerator,
    RayPool,
    job_output,
    launch_of,
    outcome,
    parse_accelerators,
    pools_from_nodes,
    submission,
)

FIXTURES = Path(__file__).parent / "fixtures" / "ray"


def fixture(name: str) -> Any:
    text = (FIXTURES / name).read_text()
    return json.loads(text) if name.endswith(".json") else text


def job(name: str) -> Any:
    parsed = parse_job(fixture(name))
    assert parsed is not None
    return parsed


def launch(gpus: int = 2, **spec: Any) -> Launch:
    return Launch(
        "att_1", "job1", 2, 5, {"run": "echo hi", **spec}, "gpu", Allocation("A100", gpus, 1, 512, (0,))
    )


GPU_POOL = RayPool(PoolOffer("gpu", "A100", 4, 1, 2, 1024), "GPU")


def test_nodes_recorded_give_one_gpu_pool() -> None:
    (node,) = parse_nodes(fixture("nodes.json"))
    assert node.state == "ALIVE" and node.resources["GPU"] == 4 and node.resources["CPU"] == 2
    (pool,) = pools_from_nodes([node])
    offer = pool.offer
    assert (offer.name, offer.accelerator, offer.accelerators_per_node, offer.nodes, offer.cpus_per_node) == (
        "gpu",
        "GPU",
        4,
        1,
        2,
    )
    assert offer.memory_mib_per_node == int(node.resources["memory"]) // (1024 * 1024)
    assert pool.resource == "GPU"


def ray_node(resources: dict[str, float], state: str = "ALIVE") -> RayNode:
    return RayNode("n", state, {"CPU": 8, "memory": 64 * 1024**3, **resources})


def test_pools_by_accelerator_kind_and_model() -> None:
    nodes = [
        ray_node({"GPU": 8, "accelerator_type:H100": 1}),
        ray_node({"GPU": 8, "accelerator_type:H100": 1}, state="DEAD"),
        ray_node({"GPU": 4, "accelerator_type:A100": 1}),
        ray_node({"GPU": 4, "accelerator_type:A100": 1, "CPU": 4}),
        ray_node({"fake_gpu": 4}),
        ray_node({}),
    ]
    accelerators = parse_accelerators("GPU,fake_gpu:L4")
    offers = {pool.offer.name: (pool.offer, pool.resource) for pool in pools_from_nodes(nodes, accelerators)}
    assert sorted(offers) == ["cpu", "fake_gpu", "gpu-a100", "gpu-h100"]
    a100, resource = offers["gpu-a100"]
    assert (a100.accelerator, a100.accelerators_per_node, a100.nodes, a100.cpus_per_node) == ("A100", 4, 2, 4)
    assert resource == "GPU"
    assert offers["gpu-h100"][0].nodes == 1  # the dead node is not offered
    assert (offers["fake_gpu"][0].accelerator, offers["fake_gpu"][1]) == ("L4", "fake_gpu")
    assert offers["cpu"][0].accelerator is None and offers["cpu"][1] is None


@pytest.mark.parametrize(
    ("gpu_model", "declared", "model"),
    [(None, {}, "GPU"), ("A100", {}, "A100"), (None, {"gpu": "H100"}, "H100")],
)
def test_untyped_gpu_model(gpu_model: str | None, declared: dict[str, str | None], model: str) -> None:
    (pool,) = pools_from_nodes([ray_node({"GPU": 2})], (Accelerator("GPU"),), gpu_model, declared)
    assert pool.offer.accelerator == model


def test_submission_asks_for_the_allocation_and_carries_env_and_launch() -> None:
    wanted = submission(launch(env={"A": "it's"}), GPU_POOL, "agent-x")
    body = wanted.body()
    assert body["submission_id"] == "att_1"
    assert (body["entrypoint_num_gpus"], body["entrypoint_num_cpus"], body["entrypoint_memory"]) == (
        2.0,
        1.0,
        512 * 1024 * 1024,
    )
    assert "entrypoint_resources" not in body
    assert body["runtime_env"]["env_vars"] == {
        "A": "it's",
        "SUANLI_JOB_ID": "job1",
        "SUANLI_ATTEMPT": "2",
        "SUANLI_ATTEMPT_ID": "att_1",
    }
    assert launch_of(body["metadata"], "agent-x") == launch(env={"A": "it's"})
    assert launch_of(body["metadata"], "another-agent") is None


def test_custom_accelerator_is_an_entrypoint_resource() -> None:
    pool = RayPool(PoolOffer("fake_gpu", "L4", 4, 1, 2, 1024), "fake_gpu")
    body = submission(launch(gpus=3), pool, "o").body()
    assert body["entrypoint_num_gpus"] == 0 and body["entrypoint_resources"] == {"fake_gpu": 3.0}


def test_entrypoint_runs_setup_then_run_in_a_per_attempt_directory() -> None:
    text = submission(launch(gpus=0, setup="pip install x"), GPU_POOL, "o").entrypoint
    assert text.startswith("bash -c ")
    assert "suanli/att_1" in text and "export CUDA_VISIBLE_DEVICES=" in text
    assert text.index("pip install x") < text.index("echo hi")
    assert "export CUDA_VISIBLE_DEVICES=" not in submission(launch(gpus=1), GPU_POOL, "o").entrypoint


def test_recorded_jobs_list_and_details() -> None:
    listed = {row.submission_id: row.status for row in parse_jobs(fixture("jobs_list.json"))}
    assert listed["att_rec_ok_r1"] == "SUCCEEDED" and listed["att_rec_long_r1"] == "STOPPED"
    running = job("job_running.json")
    assert running.status == "RUNNING" and running.started_at is not None and running.ended_at is None
    assert launch_of(running.metadata, "owner-rec") is not None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("job_pending.json", (AttemptState.STARTING, None, None)),
        ("job_running.json", (AttemptState.RUNNING, None, None)),
        ("job_succeeded.json", (AttemptState.SUCCEEDED, 0, None)),
        ("job_failed.json", (AttemptState.FAILED, 3, "exit code 3")),
        ("job_setup_failed.json", (AttemptState.FAILED, 2, "setup failed: exit code 2")),
        ("job_killed.json", (AttemptState.FAILED, 137, "exit code 137")),
        ("job_stopped.json", (AttemptState.CANCELLED, None, "stopped in Ray")),
    ],
)
def test_recorded_states_map_to_ours(
    name: str, expected: tuple[AttemptState, int | None, str | None]
) -> None:
    row = job(name)
    assert outcome(row.status, row.message, row.exit_code) == expected


def test_a_job_ray_could_not_start_fails_with_rays_reason() -> None:
    row = job("job_supervisor_failed.json")
    state, code, reason = outcome(row.status, row.message, row.exit_code)
    assert (state, code) == (AttemptState.FAILED, None)
    assert reason is not None and reason.startswith("Ray: Failed to start supervisor actor")
    assert "cannot be negative" in reason


def test_unknown_status_fails_with_it() -> None:
    assert outcome("WEIRD", "", None) == (AttemptState.FAILED, None, "Ray job status WEIRD")


def test_setup_marker_in_the_entrypoint_text_is_not_a_setup_failure() -> None:
    # Ray's failure message repeats the logs, and so the entrypoint, whose script has the marker.
    row = job("job_succeeded.json")  # a job with a setup
    message = (
        "Job entrypoint command failed with exit code 3, last available logs (truncated to 20,000 chars):\n"
        f"Running entrypoint for job {row.submission_id}: {row.entrypoint}\npreparing\nboom\n"
    )
    assert SETUP_FAILED in message and outcome("FAILED", message, 3)[2] == "exit code 3"


@pytest.mark.parametrize(
    ("logs_fixture", "job_fixture", "output"),
    [
        ("logs_succeeded.json", "job_succeeded.json", "preparing\ngpus=0,1 job=job_rec greeting=hé\n"),
        ("logs_running.json", "job_running.json", "started\n"),
        ("logs_setup_failed.json", "job_setup_failed.json", "setting up\n" + SETUP_FAILED + " 2\n"),
    ],
)
def test_recorded_logs_without_rays_preamble(logs_fixture: str, job_fixture: str, output: str) -> None:
    row = job(job_fixture)
    assert job_output(fixture(logs_fixture)["logs"], row.submission_id, row.entrypoint) == output


MANAGER = "2026-11-26 02:59:59,123\tINFO job_manager.py:581 -- Runtime env is setting up.\n"
OUTPUT = "preparing\ngpus=0,1 job=job_rec greeting=hé\n"


def orderings(row: RayJob) -> list[str]:
    """Ray's log as seen with Ray 2.60: the entrypoint line (written when the job manager's logger
    flushes) before the job's output, between its lines, or after all of it."""
    marker = f"Running entrypoint for job {row.submission_id}: {row.entrypoint}\n"
    first, second = OUTPUT.splitlines(keepends=True)
    return [MANAGER + marker + OUTPUT, MANAGER + first + marker + second, MANAGER + OUTPUT + marker]


def test_output_written_before_rays_entrypoint_line_is_kept() -> None:
    row = job("job_succeeded.json")
    for logs in orderings(row):
        assert job_output(logs, row.submission_id, row.entrypoint) == OUTPUT, logs


def test_the_output_only_grows_as_rays_log_does() -> None:
    # The agent sends output by byte offset: what it read once must stay a prefix of what it reads later.
    row = job("job_succeeded.json")
    for logs in orderings(row):
        seen = ""
        for cut in range(len(logs) + 1):
            now = job_output(logs[:cut], row.submission_id, row.entrypoint)
            assert now.startswith(seen), (cut, seen, now)
            seen = now
        assert seen == OUTPUT


def test_logs_while_the_preamble_is_incomplete_are_empty() -> None:
    row = job("job_succeeded.json")
    logs = fixture("logs_succeeded.json")["logs"]
    head = logs[: logs.index("Running entrypoint")]
    assert job_output(head, row.submission_id, row.entrypoint) == ""
    assert job_output(logs[: logs.index("preparing") - 5], row.submission_id, row.entrypoint) == ""
    assert job_output("", row.submission_id, row.entrypoint) == ""
    assert job_output("other format\n", row.submission_id, row.entrypoint) == "other format\n"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "submit_duplicate.txt",
            "ValueError: Job with submission_id att_rec_ok_r1 already exists. "
            "Please use a different submission_id.",
        ),
        ("job_unknown.txt", "Job att_nope does not exist"),
    ],
)
def test_error_messages_recorded(name: str, message: str) -> None:
    assert error_message(fixture(name)) == message


def test_accelerator_option() -> None:
    assert parse_accelerators(None) == (Accelerator("GPU"),)
    assert parse_accelerators("GPU, fake_gpu:A100") == (Accelerator("GPU"), Accelerator("fake_gpu", "A100"))
