"""`suanli submit`: reading YAML, sending the spec once, waiting, and the exit codes that follow."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cli_fakes import FakeApi, job, ok, problem
from typer.testing import Result

Run = Callable[..., Result]
SPEC = "name: hello\nrun: echo hi\nresources:\n  accelerators: A100:1\n"


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(SPEC)
    return path


def test_submit_prints_the_id_and_sends_the_spec(
    api: FakeApi, run: Run, logged_in: Path, spec_file: Path
) -> None:
    api.on("POST", "/jobs", ok(job("job_42"), status=201))
    result = run("submit", str(spec_file), "--project", "vision")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "job_42"
    assert api.body() == {
        "spec": {
            "name": "hello",
            "run": "echo hi",
            "resources": {"accelerators": "A100:1"},
            "project": "vision",
        }
    }
    assert api.requests[0].headers["idempotency-key"].startswith("cli-")


def test_submit_reads_stdin_and_prints_json(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on("POST", "/jobs", ok(job("job_7"), status=201))
    result = run("submit", "-", "--json", "--name", "renamed", input=SPEC)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["id"] == "job_7"
    assert api.body()["spec"]["name"] == "renamed"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("name: hello\nrun: [echo, hi\n", "job.yaml:3:1"),
        ("name: hello\n  run: x\n", "job.yaml:2:6"),
        ("name: 'unterminated\n", "job.yaml:2:1"),
        ("name: a\nrun: x\nrun: y\n", "job.yaml:3:1"),
        ('name: a\nrun: "a\x07b"\n', "job.yaml:2:8"),  # a control character: once "position 15"
    ],
)
def test_bad_yaml_exits_2_naming_line_and_column(
    api: FakeApi, run: Run, logged_in: Path, tmp_path: Path, text: str, where: str
) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(text)
    result = run("submit", str(path))
    assert result.exit_code == 2
    assert where in result.stderr and "invalid YAML" in result.stderr
    assert api.requests == []


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", ""])
def test_a_spec_must_be_a_mapping(api: FakeApi, run: Run, logged_in: Path, text: str) -> None:
    result = run("submit", "-", input=text)
    assert result.exit_code == 2
    assert "YAML mapping" in result.stderr


def test_missing_file_exits_2(api: FakeApi, run: Run, logged_in: Path, tmp_path: Path) -> None:
    result = run("submit", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "cannot read" in result.stderr


def test_invalid_spec_shows_each_field_error(
    api: FakeApi, run: Run, logged_in: Path, spec_file: Path
) -> None:
    errors = [
        {"field": "resources.accelerators", "message": "unknown model 'Z100'"},
        {"field": "run", "message": "required"},
    ]
    api.on("POST", "/jobs", problem(422, "invalid_spec", "the job spec is invalid", errors))
    result = run("submit", str(spec_file))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0] == "error: the job spec is invalid"
    assert "  resources.accelerators: unknown model 'Z100'" in lines
    assert "  run: required" in lines


def test_a_submit_refused_by_a_hard_capped_budget_exits_6(
    api: FakeApi, run: Run, logged_in: Path, spec_file: Path
) -> None:
    said = (
        "project acme/vision has reached its hard-capped budget for 2026-11: 500.00 CNY charged of 500.00 CNY"
    )
    api.on("POST", "/jobs", problem(409, "budget_exceeded", said))
    result = run("submit", str(spec_file))
    assert result.exit_code == 6, result.output  # not 2: the spec is fine, the money is not
    assert result.stderr.startswith(f"error: {said}")


def test_unreachable_submit_is_retried_with_the_same_key(
    api: FakeApi, run: Run, logged_in: Path, spec_file: Path
) -> None:
    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    api.on("POST", "/jobs", drop, drop, ok(job("job_9"), status=201))
    result = run("submit", str(spec_file))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "job_9"
    keys = {r.headers["idempotency-key"] for r in api.requests}
    assert len(api.requests) == 3 and len(keys) == 1


def test_server_that_stays_unreachable_exits_5(
    api: FakeApi, run: Run, logged_in: Path, spec_file: Path
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    api.on("POST", "/jobs", refuse)
    result = run("submit", str(spec_file))
    assert result.exit_code == 5
    assert "cannot reach" in result.stderr
    assert len(api.requests) == 4


@pytest.mark.parametrize(
    ("final", "exit_code"),
    [
        (job(state="SUCCEEDED", exit_code=0), 0),
        (job(state="FAILED", exit_code=3), 3),
        (job(state="FAILED", exit_code=None, reason="lost"), 1),
        (job(state="FAILED", exit_code=-9), 137),
        (job(state="CANCELLED"), 1),
    ],
)
def test_wait_exits_with_the_jobs_exit_code(
    api: FakeApi, run: Run, logged_in: Path, spec_file: Path, final: dict[str, object], exit_code: int
) -> None:
    api.on("POST", "/jobs", ok(job(), status=201))
    api.on("GET", "/jobs/job_01", ok(job(state="RUNNING", site="pku")), ok(final))
    result = run("submit", str(spec_file), "--wait")
    assert result.exit_code == exit_code, result.output
    assert result.stdout.strip() == "job_01"
    assert len(api.requests) == 3


def test_wait_says_each_new_reason_the_job_waits(
    api: FakeApi, run: Run, logged_in: Path, spec_file: Path
) -> None:
    funds = {"pool": "(funds)", "code": "unschedulable", "reason": "insufficient funds: needs 36.00 CNY"}
    busy = {"pool": "dc1/gpu", "code": "unschedulable", "reason": "capacity in use"}
    api.on("POST", "/jobs", ok(job(), status=201))
    api.on(
        "GET",
        "/jobs/job_01",
        ok(job(state="PENDING", waiting=[busy, funds])),
        ok(job(state="PENDING", waiting=[funds, busy])),  # the same reason: not said again
        ok(job(state="PENDING", waiting=[busy])),
        ok(job(state="SUCCEEDED", exit_code=0)),
    )
    result = run("submit", str(spec_file), "--wait")
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if " waits: " in line]
    assert said == [
        "job_01 waits: insufficient funds: needs 36.00 CNY (suanli why job_01)",
        "job_01 waits: dc1/gpu: capacity in use (suanli why job_01)",
    ]


def test_submit_warns_when_the_job_will_wait_for_money(
    api: FakeApi, run: Run, logged_in: Path, spec_file: Path
) -> None:
    note = "it will wait: insufficient funds: needs 36.00 CNY, can hold 0.00 CNY"
    api.on("POST", "/jobs", ok({**job(), "warnings": [note]}, status=201))
    result = run("submit", str(spec_file))
    assert result.exit_code == 0 and result.stdout.strip() == "job_01"  # the id alone on stdout
    assert f"warning: {note}" in result.stderr


def test_wait_with_json_prints_the_final_job(
    api: FakeApi, run: Run, logged_in: Path, spec_file: Path
) -> None:
    api.on("POST", "/jobs", ok(job(), status=201))
    api.on("GET", "/jobs/job_01", ok(job(state="SUCCEEDED", exit_code=0)))
    result = run("submit", str(spec_file), "--wait", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["state"] == "SUCCEEDED"


def test_ctrl_c_while_waiting_exits_130_and_leaves_the_job(
    api: FakeApi, run: Run, logged_in: Path, spec_file: Path
) -> None:
    def interrupt(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    api.on("POST", "/jobs", ok(job(), status=201))
    api.on("GET", "/jobs/job_01", interrupt)
    result = run("submit", str(spec_file), "--wait")
    assert result.exit_code == 130
    assert "keeps running" in result.stderr
    assert [r.method for r in api.requests] == ["POST", "GET"]


def test_a_spec_that_is_not_utf8_exits_2_naming_the_byte(
    api: FakeApi, run: Run, logged_in: Path, tmp_path: Path
) -> None:
    path = tmp_path / "job.yaml"
    path.write_bytes(b"name: caf\xe9\nrun: x\n")  # Latin-1, not UTF-8
    result = run("submit", str(path))
    assert result.exit_code == 2 and "not UTF-8 text (byte 9 is 0xe9)" in result.stderr
    assert api.requests == []
