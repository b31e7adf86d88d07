"""Slurm backend, pure parts: parsing recorded real outputs (Slurm 22.05, tests/agent/fixtures/slurm/),
pools from nodes, launches to sbatch submissions, and Slurm states to ours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from suanli.agent.backends.base import Allocation, AttemptState, Launch
from suanli.agent.backends.slurm_cli import (
    NodeRow,
    error_message,
    parse_gres,
    parse_sacct,
    parse_show_job,
    parse_sinfo,
    parse_squeue,
    parse_time_limit,
)
from suanli.agent.backends.slurm_translate import (
    attempt_of,
    batch_args,
    batch_script,
    outcome,
    parse_gpu_models,
    pools_from_nodes,
    time_limit_minutes,
)

FIXTURES = Path(__file__).parent / "fixtures" / "slurm"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def launch(**spec: Any) -> Launch:
    return Launch(
        attempt_id="at1",
        job_id="job1",
        attempt=2,
        fencing_token=5,
        spec={"run": "echo hi", **spec},
        pool="debug",
        allocation=Allocation("A100", 2, 3, 1024, (0,)),
    )


def test_sinfo_nodes_recorded() -> None:
    assert parse_sinfo(fixture("sinfo_nodes.txt")) == [
        NodeRow("localhost", "debug", 4, 4000, {None: 4}, "idle", 7 * 86400)
    ]


def test_sinfo_without_the_time_limit_column_still_reads() -> None:
    assert parse_sinfo("n1|gpu*|8|64000|gpu:a100:4|mixed\n") == [
        NodeRow("n1", "gpu", 8, 64000, {"a100": 4}, "mixed", None)
    ]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("7-00:00:00", 7 * 86400),
        ("1-12", 36 * 3600),
        ("1-12:30", 36 * 3600 + 1800),
        ("2:00:00", 7200),
        ("30:00", 1800),
        ("45", 2700),
        ("infinite", None),
        ("UNLIMITED", None),
        ("n/a", None),
    ],
)
def test_slurm_time_limits_in_every_form_slurm_prints(text: str, seconds: int | None) -> None:
    assert parse_time_limit(text) == seconds


def test_a_pool_offers_its_partitions_time_limit() -> None:
    rows = [
        NodeRow("a", "short", 8, 64000, {"a100": 4}, "idle", 3600),
        NodeRow("b", "long", 8, 64000, {}, "idle"),
    ]
    offers = {p.offer.name: p.offer.max_runtime_s for p in pools_from_nodes(rows)}
    assert offers == {"short": 3600, "long": None}


@pytest.mark.parametrize(
    ("gres", "gpus"),
    [
        ("gpu:4", {None: 4}),
        ("(null)", {}),
        ("gpu:a100:2(S:0-1),gpu:v100:2", {"a100": 2, "v100": 2}),
        ("gpu:h100:8(S:0-1),shard:4", {"h100": 8}),
    ],
)
def test_gres(gres: str, gpus: dict[str | None, int]) -> None:
    assert parse_gres(gres) == gpus


def test_squeue_recorded_states_and_gres() -> None:
    rows = {row.name: row for row in parse_squeue(fixture("squeue_mixed.txt"))}
    assert {name: row.state for name, row in rows.items()} == {
        "suanli-okjob": "COMPLETED",
        "suanli-failjob": "FAILED",
        "suanli-pend": "PENDING",
        "suanli-long": "RUNNING",
    }
    assert rows["suanli-okjob"].tres_per_node == "gres:gpu:2"
    assert rows["suanli-pend"].started_at is None and rows["suanli-long"].ended_at is None
    assert rows["suanli-long"].started_at is not None


@pytest.mark.parametrize(
    ("name", "state", "exit_code", "signal"),
    [
        ("scontrol_completed.txt", "COMPLETED", 0, 0),
        ("scontrol_failed.txt", "FAILED", 3, 0),
        ("scontrol_running.txt", "RUNNING", 0, 0),
        ("scontrol_cancelled_running.txt", "CANCELLED", 0, 15),
        ("scontrol_cancelled_pending.txt", "CANCELLED", 0, 0),
        ("scontrol_timeout.txt", "TIMEOUT", 0, 15),
    ],
)
def test_scontrol_show_job_recorded(name: str, state: str, exit_code: int, signal: int) -> None:
    detail = parse_show_job(fixture(name))
    assert detail is not None
    assert (detail.state, detail.exit_code, detail.signal) == (state, exit_code, signal)


def test_sacct_parses_cancelled_by() -> None:
    (detail,) = parse_sacct("12|suanli-x|CANCELLED by 0|0:15|2026-11-25T16:56:22|2026-11-25T16:56:30\n")
    assert (detail.job_id, detail.state, detail.signal) == ("12", "CANCELLED", 15)


# `sacct -n -P -X -o JobID,JobName,State,ExitCode,Start,End` with slurmdbd (SUANLI_SLURM_DBD=1
# scripts/ensure-slurm.sh): what the backend reads once the controller has forgotten a job.
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("suanli-rec-ok", (AttemptState.SUCCEEDED, 0, None)),
        ("suanli-rec-fail", (AttemptState.FAILED, 3, "exit code 3")),
        ("suanli-rec-signal", (AttemptState.FAILED, 137, "killed by signal 9")),
        ("suanli-rec-gpu", (AttemptState.SUCCEEDED, 0, None)),
        ("suanli-rec-cancel-running", (AttemptState.CANCELLED, 0, "cancelled in Slurm")),
        ("suanli-rec-cancel-pending", (AttemptState.CANCELLED, 0, "cancelled in Slurm")),
        ("suanli-rec-timeout", (AttemptState.FAILED, 0, "max_runtime exceeded (Slurm time limit)")),
    ],
)
def test_sacct_recorded_with_slurmdbd(name: str, expected: tuple[AttemptState, int, str | None]) -> None:
    details = {d.name: d for d in parse_sacct(fixture("sacct_dbd.txt"))}
    assert len(details) == 7
    d = details[name]
    assert d.started_at is not None and d.ended_at is not None and d.ended_at >= d.started_at
    assert outcome(d.state, d.reason, d.exit_code, d.signal, "run") == expected


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("sacct_no_dbd.txt", "Slurm accounting storage is disabled"),
        ("sbatch_too_many_gpus.txt", "Requested node configuration is not available"),
        ("sbatch_bad_partition.txt", "invalid partition specified: nope; Invalid partition name specified"),
        ("sbatch_time_limit.txt", "Requested time limit is invalid (missing or exceeds some limit)"),
        ("scontrol_unknown_job.txt", "slurm_load_jobs error: Invalid job id specified"),
        (
            "squeue_controller_down.txt",
            "slurm_load_jobs error: Unable to contact slurm controller (connect failure)",
        ),
    ],
)
def test_error_messages_recorded(name: str, message: str) -> None:
    assert error_message(fixture(name)) == message


def node(partition: str, gpus: dict[str | None, int], state: str = "idle", cpus: int = 8) -> NodeRow:
    return NodeRow("n", partition, cpus, 64000, gpus, state)


def test_pools_one_per_partition_and_gpu_type() -> None:
    nodes = [
        node("gpu", {"a100": 4}),
        node("gpu", {"a100": 4}, cpus=16),
        node("gpu", {"a100": 4}, state="drained"),
        node("gpu", {"h100": 8}),
        node("cpu", {}),
    ]
    offers = {pool.offer.name: pool.offer for pool in pools_from_nodes(nodes)}
    assert sorted(offers) == ["cpu", "gpu-a100", "gpu-h100"]
    a100 = offers["gpu-a100"]
    assert (a100.accelerator, a100.accelerators_per_node, a100.nodes, a100.cpus_per_node) == ("A100", 4, 2, 8)
    assert offers["cpu"].accelerator is None and offers["cpu"].accelerators_per_node == 0


@pytest.mark.parametrize(
    ("option", "declared", "model"),
    [
        ("", {}, "GPU"),
        ("A100", {}, "A100"),
        ("other:H100,debug:L4", {}, "L4"),
        ("", {"debug": "H100"}, "H100"),
    ],
)
def test_untyped_gpu_model(option: str, declared: dict[str, str | None], model: str) -> None:
    (pool,) = pools_from_nodes([node("debug", {None: 4})], (), parse_gpu_models(option), declared)
    assert pool.offer.accelerator == model


def test_partition_option_restricts() -> None:
    pools = pools_from_nodes([node("a", {}), node("b", {})], ("b",))
    assert [pool.partition for pool in pools] == ["b"]


@pytest.mark.parametrize(("seconds", "minutes"), [(None, None), (1, 1), (60, 1), (61, 2), (3600, 60)])
def test_time_limit_rounds_up_to_minutes(seconds: float | None, minutes: int | None) -> None:
    assert time_limit_minutes(seconds) == minutes


def test_batch_args() -> None:
    (pool,) = pools_from_nodes([node("debug", {"a100": 4})])
    args = batch_args(launch(resources={"max_runtime_s": 90}), pool, Path("/s/at1"), Path("/s/at1/out"))
    assert args == [
        "--job-name=suanli-at1",
        "--comment=at1",
        "--partition=debug",
        "--nodes=1",
        "--ntasks-per-node=1",
        "--cpus-per-task=3",
        "--mem=1024M",
        "--output=/s/at1/out",
        "--error=/s/at1/out",
        "--chdir=/s/at1",
        "--gres=gpu:a100:2",
        "--time=2",
    ]
    assert attempt_of("suanli-at1") == "at1" and attempt_of("other") is None


def test_batch_script_env_then_setup_then_run() -> None:
    script = batch_script(launch(setup="pip install x", env={"A": "it's"}), Path("/c"), Path("/w"))
    assert "export A='it'\"'\"'s'" in script
    assert "export SUANLI_ATTEMPT_ID=at1" in script and "export SUANLI_ATTEMPT=2" in script
    assert script.index("pip install x") < script.index("echo hi")
    assert "bash -e -c 'pip install x' || exit $?" in script


@pytest.mark.parametrize(
    ("state", "exit_code", "signal", "phase", "expected"),
    [
        ("PENDING", None, None, None, (AttemptState.STARTING, None, None)),
        ("RUNNING", None, None, None, (AttemptState.RUNNING, None, None)),
        ("COMPLETED", 0, 0, "run", (AttemptState.SUCCEEDED, 0, None)),
        ("FAILED", 3, 0, "run", (AttemptState.FAILED, 3, "exit code 3")),
        ("FAILED", 2, 0, "setup", (AttemptState.FAILED, 2, "setup failed: exit code 2")),
        ("TIMEOUT", 0, 15, "run", (AttemptState.FAILED, 143, "max_runtime exceeded (Slurm time limit)")),
        ("CANCELLED", 0, 15, "run", (AttemptState.CANCELLED, 143, "cancelled in Slurm")),
        ("OUT_OF_MEMORY", 0, 9, "run", (AttemptState.FAILED, 137, "out of memory")),
        ("NODE_FAIL", 0, 0, "run", (AttemptState.FAILED, 0, "node failure")),
        ("PREEMPTED", 0, 0, "run", (AttemptState.FAILED, 0, "preempted by Slurm")),
    ],
)
def test_state_mapping(
    state: str,
    exit_code: int | None,
    signal: int | None,
    phase: str | None,
    expected: tuple[AttemptState, int | None, str | None],
) -> None:
    assert outcome(state, "", exit_code, signal, phase) == expected


def test_a_job_pending_on_a_partition_limit_never_runs() -> None:
    # recorded: a 2-day job pending after the partition's MaxTime dropped to 1 day, where
    # EnforcePartLimits=NO (Slurm's default) lets such a job in instead of refusing it
    (row,) = parse_squeue(fixture("squeue_partition_time_limit.txt"))
    assert outcome(row.state, row.reason, None, None, None) == (
        AttemptState.FAILED,
        None,
        "Slurm will not run it: PartitionTimeLimit (its time limit is above the partition's MaxTime)",
    )
    assert outcome("PENDING", "Resources", None, None, None)[0] == AttemptState.STARTING
    assert outcome("PENDING", "ReqNodeNotAvail", None, None, None)[0] == AttemptState.STARTING


def test_requeue_is_reported_not_hidden() -> None:
    state, _, reason = outcome("REQUEUED", "NodeFail", None, None, None)
    assert state == AttemptState.STARTING and reason == "Slurm requeued: NodeFail"


def test_recorded_timeout_maps_to_max_runtime() -> None:
    detail = parse_show_job(fixture("scontrol_timeout.txt"))
    assert detail is not None
    state, _, reason = outcome(detail.state, detail.reason, detail.exit_code, detail.signal, "run")
    assert state == AttemptState.FAILED and reason is not None and "max_runtime" in reason
