"""Watching jobs: `jobs`, `job`, `logs`, `events`, `cancel`, and the exit codes of failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cli_fakes import FakeApi, job, ok, problem
from typer.testing import Result

Run = Callable[..., Result]


def test_jobs_table_shows_full_ids_and_states(api: FakeApi, run: Run, logged_in: Path) -> None:
    long_id = "job_01HZX3ABCDEFGHJKMNPQRSTVWX"
    api.on(
        "GET", "/jobs", ok({"items": [job(long_id, "RUNNING", site="pku", pool="gpu")], "next_cursor": None})
    )
    result = run("jobs", "--state", "running", "--limit", "5")
    assert result.exit_code == 0, result.output
    assert long_id in result.stdout and "RUNNING" in result.stdout and "pku/gpu" in result.stdout
    assert dict(api.requests[0].url.params) == {"state": "RUNNING", "limit": "5"}
    # several states are any of them (a second --state once replaced the first without a word)
    assert run("jobs", "--state", "pending", "--state", "running").exit_code == 0
    assert api.requests[-1].url.params["state"] == "PENDING,RUNNING"


def test_jobs_json_is_the_apis_json(api: FakeApi, run: Run, logged_in: Path) -> None:
    page = {"items": [job()], "next_cursor": "c1"}
    api.on("GET", "/jobs", ok(page))
    result = run("jobs", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == page


def test_jobs_all_walks_every_page(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on(
        "GET",
        "/jobs",
        ok({"items": [job("j2")], "next_cursor": "c1"}),
        ok({"items": [job("j1")], "next_cursor": None}),
    )
    result = run("jobs", "--all", "--json")
    assert [j["id"] for j in json.loads(result.stdout)["items"]] == ["j2", "j1"]


def test_job_shows_attempts_and_recent_events(api: FakeApi, run: Run, logged_in: Path) -> None:
    attempt = {"id": "att_1", "number": 1, "site": "pku", "pool": "gpu", "state": "FAILED", "exit_code": 2}
    api.on("GET", "/jobs/job_01", ok(job(state="PENDING", attempts=[attempt], retries_left=1)))
    events = [{"at": "2025-01-02T03:04:05Z", "kind": f"k{i}", "message": f"m{i}"} for i in range(15)]
    api.on("GET", "/jobs/job_01/events", ok({"items": events}))
    result = run("job", "job_01")
    assert result.exit_code == 0, result.output
    assert "pku/gpu" in result.stdout and "FAILED" in result.stdout
    assert "m14" in result.stdout and "m4" not in result.stdout  # only the 10 most recent


@pytest.mark.parametrize(
    ("orgs", "header", "cell"),
    [(("acme", "acme"), "PROJECT", "default"), (("acme", "lab"), "ORG/PROJECT", "lab/default")],
)
def test_jobs_of_several_orgs_name_the_org_of_each_project(
    api: FakeApi, run: Run, logged_in: Path, orgs: tuple[str, str], header: str, cell: str
) -> None:
    """An operator saw `default` twice, for two tenants' projects of that name."""
    items = [job("j1", org=orgs[0]), job("j2", org=orgs[1])]
    api.on("GET", "/jobs", ok({"items": items, "next_cursor": None}))
    lines = run("jobs").stdout.splitlines()
    assert lines[0].split()[:3] == ["ID", "NAME", header]
    assert lines[2].split()[:3] == ["j2", "hello", cell]


WAITING_FOR_FUNDS = [
    {"pool": "(funds)", "code": "unschedulable",
     "reason": "insufficient funds: needs 0.42 CNY, can hold 0.00 CNY (a hold for 0.08 h on local/cpu)"},
    {"pool": "pku/gpu", "code": "unschedulable", "reason": "largest free block 0×A100"},
]  # fmt: skip


def test_job_waiting_for_funds_says_why_where_it_said_reason_dash(
    api: FakeApi, run: Run, logged_in: Path
) -> None:
    api.on("GET", "/jobs/job_01", ok(job(state="PENDING", waiting=WAITING_FOR_FUNDS)))
    api.on("GET", "/jobs/job_01/events", ok({"items": []}))
    result = run("job", "job_01")
    assert result.exit_code == 0, result.output
    rows = [" ".join(line.split()) for line in result.stdout.splitlines()]
    start = next(i for i, row in enumerate(rows) if row.startswith("waiting"))
    assert rows[start : start + 4] == [
        "waiting insufficient funds: needs 0.42 CNY, can hold 0.00 CNY (a hold for 0.08 h on local/cpu)",
        "pku/gpu: largest free block 0×A100",
        "(more: suanli why job_01)",
        "exit code -",
    ]
    assert not any(row.startswith(("reason", "site/pool", "started", "last attempt")) for row in rows)


def test_a_requeued_job_shows_its_last_attempt_as_the_last_not_as_where_it_runs(
    api: FakeApi, run: Run, logged_in: Path
) -> None:
    failed = {"id": "att_1", "number": 1, "site": "sh-b", "pool": "a100", "state": "FAILED", "exit_code": 1,
              "started_at": "2025-01-02T03:05:00Z", "ended_at": "2025-01-02T03:09:00Z"}  # fmt: skip
    requeued = job(
        state="PENDING", attempts=[failed], site="sh-b", pool="a100", started_at="2025-01-02T03:05:00Z",
        retries_left=0, waiting=[{"pool": "sh-b/a100", "code": "unschedulable", "reason": "busy"}],
    )  # fmt: skip
    api.on("GET", "/jobs/job_01", ok(requeued))
    api.on("GET", "/jobs/job_01/events", ok({"items": []}))
    result = run("job", "job_01")
    assert result.exit_code == 0, result.output
    rows = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "last attempt #1 on sh-b/a100: FAILED, ended 2025-01-02 03:09:00" in rows
    assert "waiting sh-b/a100: busy" in rows
    assert not any(row.startswith(("site/pool", "started")) for row in rows)
    # a running job still says where it runs and since when
    api.on("GET", "/jobs/job_01", ok({**requeued, "state": "RUNNING", "waiting": None}))
    rows = [" ".join(line.split()) for line in run("job", "job_01").stdout.splitlines()]
    assert "site/pool sh-b/a100" in rows and "started 2025-01-02 03:05:00" in rows
    assert not any(row.startswith(("waiting", "last attempt")) for row in rows)


def test_job_shows_what_it_was_charged_so_far(api: FakeApi, run: Run, logged_in: Path) -> None:
    charges = [{"currency": "CNY", "charged": "10.00 CNY", "vouchers": "3.00 CNY", "cash": "7.00 CNY",
                "arrears": "0.00 CNY", "held": "26.00 CNY"}]  # fmt: skip
    api.on("GET", "/jobs/job_01", ok(job(state="RUNNING", charges=charges)))
    api.on("GET", "/jobs/job_01/events", ok({"items": []}))
    result = run("job", "job_01")
    assert result.exit_code == 0, result.output
    assert "10.00 CNY (vouchers 3.00, cash 7.00); 26.00 CNY more held" in result.stdout
    assert "refunded" not in result.stdout  # nothing was


@pytest.mark.parametrize(
    ("charged", "cash", "refunded", "shown"),
    [
        ("0.00 CNY", "0.00 CNY", "15.00 CNY", "0.00 CNY, net of 15.00 CNY refunded"),  # all of it
        ("5.00 CNY", "5.00 CNY", "10.00 CNY", "5.00 CNY (cash 5.00), net of 10.00 CNY refunded"),  # a part
    ],
)
def test_job_shows_what_refunds_gave_back_beside_the_net_charge(
    api: FakeApi, run: Run, logged_in: Path, charged: str, cash: str, refunded: str, shown: str
) -> None:
    charges = [{"currency": "CNY", "charged": charged, "vouchers": "0.00 CNY", "cash": cash,
                "arrears": "0.00 CNY", "held": "0.00 CNY", "refunded": refunded}]  # fmt: skip
    api.on("GET", "/jobs/job_01", ok(job(state="SUCCEEDED", charges=charges)))
    api.on("GET", "/jobs/job_01/events", ok({"items": []}))
    result = run("job", "job_01")
    assert result.exit_code == 0, result.output
    assert shown in " ".join(result.stdout.split())


@pytest.mark.parametrize(
    "command", [["job", "job_x"], ["events", "job_x"], ["cancel", "job_x"], ["logs", "job_x"]]
)
def test_unknown_job_exits_3(api: FakeApi, run: Run, logged_in: Path, command: list[str]) -> None:
    result = run(*command)
    assert result.exit_code == 3
    assert result.stderr.startswith("error: no route")


@pytest.mark.parametrize(("status", "exit_code"), [(401, 4), (403, 4), (409, 2), (500, 1), (503, 1)])
def test_http_errors_map_to_documented_exit_codes(
    api: FakeApi, run: Run, logged_in: Path, status: int, exit_code: int
) -> None:
    api.on("GET", "/jobs", problem(status, "x", "went wrong"))
    result = run("jobs")
    assert result.exit_code == exit_code
    assert "error: went wrong" in result.stderr


def test_unreachable_server_exits_5(api: FakeApi, run: Run, logged_in: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    api.on("GET", "/jobs", refuse)
    result = run("jobs")
    assert result.exit_code == 5
    assert "make up" in result.stderr


def test_logs_prints_raw_output_until_no_more(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on(
        "GET",
        "/jobs/job_01/logs",
        ok({"data": "[1/3] epoch\n", "offset": 4, "next_offset": 16, "complete": False}),
        ok({"data": "", "offset": 16, "next_offset": 16, "complete": False}),
    )
    result = run("logs", "job_01", "--offset", "4")
    assert result.exit_code == 0
    assert result.stdout == "[1/3] epoch\n"
    assert [r.url.params["offset"] for r in api.requests] == ["4", "16"]


def test_logs_follow_stops_when_complete(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on(
        "GET",
        "/jobs/job_01/logs",
        ok({"data": "a\n", "offset": 0, "next_offset": 2, "complete": False}),
        ok({"data": "b\n", "offset": 2, "next_offset": 4, "complete": True}),
    )
    result = run("logs", "-f", "job_01")
    assert result.exit_code == 0
    assert result.stdout == "a\nb\n"
    assert {r.url.params["follow"] for r in api.requests} == {"true"}


SH_A = {"number": 1, "offset": 0, "site": "sh-a", "pool": "a100"}
SH_B = {"number": 2, "offset": 7, "site": "sh-b", "pool": "a100"}
MARKER_2 = "── attempt 2 on site sh-b, pool a100 ──"


def test_logs_mark_where_a_later_attempt_begins_on_stderr_only(
    api: FakeApi, run: Run, logged_in: Path
) -> None:
    api.on(
        "GET",
        "/jobs/job_01/logs",
        ok({"data": "epoch 1resuming\n", "offset": 0, "next_offset": 16, "complete": True,
            "attempts": [SH_A, SH_B]}),
        ok({"data": "", "offset": 16, "next_offset": 16, "complete": True, "attempts": [SH_A, SH_B]}),
    )  # fmt: skip
    result = run("logs", "job_01")
    assert result.exit_code == 0, result.output
    assert result.stdout == "epoch 1resuming\n"  # what a pipe gets: the output, byte for byte
    assert result.stderr.strip() == MARKER_2  # the first attempt needs no marker


def test_logs_follow_marks_an_attempt_beginning_between_answers_once(
    api: FakeApi, run: Run, logged_in: Path
) -> None:
    api.on(
        "GET",
        "/jobs/job_01/logs",
        ok({"data": "epoch 1", "offset": 0, "next_offset": 7, "complete": False, "attempts": [SH_A]}),
        ok({"data": "", "offset": 7, "next_offset": 7, "complete": False, "attempts": [SH_A]}),
        ok({"data": "resuming\n", "offset": 7, "next_offset": 16, "complete": False,
            "attempts": [SH_A, SH_B]}),
        ok({"data": "done\n", "offset": 16, "next_offset": 21, "complete": True, "attempts": [SH_A, SH_B]}),
    )  # fmt: skip
    result = run("logs", "-f", "job_01")
    assert result.exit_code == 0, result.output
    assert result.stdout == "epoch 1resuming\ndone\n"
    assert result.stderr.count("attempt 2") == 1 and MARKER_2 in result.stderr


def test_logs_from_an_offset_mark_only_the_attempts_beginning_after_it(
    api: FakeApi, run: Run, logged_in: Path
) -> None:
    later = {"number": 3, "offset": 21, "site": "sh-c", "pool": "h100"}
    api.on(
        "GET",
        "/jobs/job_01/logs",
        ok({"data": "ing\nstep 2\nagain\n", "offset": 10, "next_offset": 27, "complete": True,
            "attempts": [SH_A, SH_B, later]}),
        ok({"data": "", "offset": 27, "next_offset": 27, "complete": True, "attempts": [SH_A, SH_B, later]}),
    )  # fmt: skip
    result = run("logs", "job_01", "--offset", "10")
    assert result.stdout == "ing\nstep 2\nagain\n"
    assert result.stderr.strip() == "── attempt 3 on site sh-c, pool h100 ──"


def test_logs_of_one_attempt_print_it_alone_without_markers(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on(
        "GET",
        "/jobs/job_01/logs",
        ok(
            {
                "data": "resuming\n",
                "offset": 0,
                "next_offset": 16,
                "complete": False,
                "attempts": [SH_A, SH_B],
            }
        ),
        ok({"data": "", "offset": 16, "next_offset": 16, "complete": False, "attempts": [SH_A, SH_B]}),
    )
    result = run("logs", "job_01", "--attempt", "2")
    assert result.exit_code == 0, result.output
    assert (result.stdout, result.stderr) == ("resuming\n", "")
    assert [(r.url.params["attempt"], r.url.params["offset"]) for r in api.requests] == [
        ("2", "0"),
        ("2", "16"),
    ]


def test_logs_follow_one_attempt_until_it_ended(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on(
        "GET",
        "/jobs/job_01/logs",
        ok({"data": "epoch 1", "offset": 0, "next_offset": 7, "complete": False, "attempts": [SH_A]}),
        ok({"data": "", "offset": 7, "next_offset": 7, "complete": True, "attempts": [SH_A, SH_B]}),
    )
    result = run("logs", "-f", "job_01", "--attempt", "1", "--offset", "0")
    assert result.exit_code == 0, result.output
    assert result.stdout == "epoch 1"
    assert {(r.url.params["attempt"], r.url.params["follow"]) for r in api.requests} == {("1", "true")}


def test_logs_of_an_attempt_the_job_never_had_name_the_ones_it_has(
    api: FakeApi, run: Run, logged_in: Path
) -> None:
    refused = problem(
        422,
        "unknown_attempt",
        "job job_01 has no attempt 3; its attempts: 1, 2",
        [{"field": "attempt", "message": "one of the job's attempts: 1, 2"}],
    )
    api.on("GET", "/jobs/job_01/logs", refused)
    result = run("logs", "job_01", "--attempt", "3")
    assert result.exit_code == 2
    assert "no attempt 3; its attempts: 1, 2" in result.stderr
    assert "--attempt: one of the job's attempts: 1, 2" in result.stderr


def test_events_json_and_table(api: FakeApi, run: Run, logged_in: Path) -> None:
    body = {"items": [{"at": "2025-01-02T03:04:05Z", "kind": "placed", "message": "on pku/gpu"}]}
    api.on("GET", "/jobs/job_01/events", ok(body))
    assert json.loads(run("events", "job_01", "--json").stdout) == body
    table = run("events", "job_01").stdout
    assert "2025-01-02 03:04:05" in table and "on pku/gpu" in table


def test_cancel_posts_and_shows_the_new_state(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on("POST", "/jobs/job_01/cancel", ok(job(state="CANCELLING"), status=202))
    result = run("cancel", "job_01")
    assert result.exit_code == 0
    assert "job_01 CANCELLING" in result.stdout


def test_why_lists_each_pool_and_its_reason(api: FakeApi, run: Run, logged_in: Path) -> None:
    why = {
        "id": "job_01",
        "state": "PENDING",
        "site": None,
        "pool": None,
        "placements": [],
        "candidates": [
            {
                "pool": "pku/gpu",
                "fits": False,
                "code": "unschedulable",
                "score": None,
                "scores": {},
                "reason": "needs 8×A100, 1 CPU, 1024 MiB on one node; largest free block 4×A100, 8 CPU, 8192 MiB",
            },
            {
                "pool": "sh/cpu",
                "fits": False,
                "code": "unresolvable",
                "score": None,
                "scores": {},
                "reason": "needs A100; pool offers no accelerators",
            },
        ],
    }
    api.on("GET", "/jobs/job_01/why", ok(why))
    result = run("why", "job_01")
    assert result.exit_code == 0, result.output
    assert "no pool takes it now" in result.stdout
    assert "largest free block 4×A100" in result.stdout and "not now" in result.stdout
    assert "pool offers no accelerators" in result.stdout and "never" in result.stdout


def test_why_says_what_holds_the_pools_it_waits_for(api: FakeApi, run: Run, logged_in: Path) -> None:
    started = (datetime.now(UTC) - timedelta(minutes=90)).isoformat().replace("+00:00", "Z")
    mine = {
        "job": "job_02",
        "name": "train",
        "org": "acme",
        "accelerators": 4,
        "cpus": 8,
        "started_at": started,
        "ends_by": "2027-01-01T06:00:00Z",
        "preemptible": False,
        "stopping": False,
    }
    theirs = {
        "job": None,
        "name": None,
        "org": "rival",
        "accelerators": 1,
        "cpus": 1,
        "started_at": started,
        "ends_by": None,
        "preemptible": True,
        "stopping": False,
    }
    why = {"id": "job_01", "state": "PENDING", "candidates": [
        {"pool": "pku/gpu", "fits": False, "code": "unschedulable", "score": None, "reason": "largest free block 0×A100"}
    ], "holding": [{"pool": "pku/gpu", "attempts": [mine] + [theirs] * 6}]}  # fmt: skip
    api.on("GET", "/jobs/job_01/why", ok(why))
    result = run("why", "job_01")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    at = lines.index("pku/gpu is held by 7 running jobs:")
    assert lines[at + 1] == (
        "  train (job_02, acme): 4 accelerators, 8 CPUs, running 1h, ends by 2027-01-01 06:00:00; "
        "not preemptible: runs to its end"
    )
    assert (
        lines[at + 2]
        == "  a job of rival: 1 accelerator, 1 CPU, running 1h, no max_runtime, so no known end; preemptible"
    )
    assert lines[at + 6] == "  and 2 more"  # five are shown


def test_why_for_a_job_held_back_by_funds_does_not_promise_the_next_cycle(
    api: FakeApi, run: Run, logged_in: Path
) -> None:
    why = {
        "id": "job_01",
        "state": "PENDING",
        "queue": "no waiting job goes before it in the queue order; promoted in 2 h by the ageing rule; it "
        "waits alone, so all capacity that frees is its own: it evicts no job for service for 5 min more "
        "(its expected run time)",
        "blocked": [
            {
                "pool": "(funds)",
                "code": "unschedulable",
                "reason": "insufficient funds: needs 0.42 CNY, can hold 0.00 CNY (a hold for 0.08 h on local/cpu)",
            }
        ],
        "candidates": [
            {
                "pool": "local/cpu",
                "fits": True,
                "code": "ok",
                "score": 1362,
                "scores": {},
                "reason": "fits now",
            }
        ],
        "preemptions": 1,
        "last_preemption": {"at": "2026-11-27T10:00:00Z", "message": "attempt 1 on local/cpu: preempted"},
    }
    api.on("GET", "/jobs/job_01/why", ok(why))
    out = run("why", "job_01").stdout
    lines = [" ".join(line.split()) for line in out.split("job_01 ")[1:]]  # one per thing it says
    # the reason that binds heads the answer, with what clears it; the queue's place and history follow
    assert lines[0] == (
        "is held back: insufficient funds: needs 0.42 CNY, can hold 0.00 CNY (a hold for 0.08 h on "
        "local/cpu); it starts once its project's available funds cover the hold: a top-up or a higher "
        "credit limit (operators: suanli topup, suanli credit-limit set), or cancel it and resubmit with "
        "a shorter max_runtime, for a smaller hold."
    )
    assert lines[1].startswith("in the queue:") and "evicts no job" in lines[1]
    assert lines[2].startswith("was preempted 1 time")
    assert "once what holds it back is cleared" in out and "next cycle places it" not in out


def test_why_says_where_a_job_stands_in_the_queue_order(api: FakeApi, run: Run, logged_in: Path) -> None:
    note = "waiting behind 3 jobs with less service or shorter expected work (3 of tenant lab); promoted in 2 h by the ageing rule"
    why = {
        "id": "job_01",
        "state": "PENDING",
        "queue": note,
        "candidates": [
            {
                "pool": "sh/gpu",
                "fits": False,
                "code": "unschedulable",
                "score": None,
                "scores": {},
                "reason": "busy",
            }
        ],
    }
    api.on("GET", "/jobs/job_01/why", ok(why))
    out = " ".join(run("why", "job_01").stdout.split())
    assert "job_01 in the queue: waiting behind 3 jobs" in out and "promoted in 2 h by the ageing rule" in out


def test_why_for_a_placed_job_says_where_it_went(api: FakeApi, run: Run, logged_in: Path) -> None:
    why = {
        "id": "job_01",
        "state": "RUNNING",
        "site": "pku",
        "pool": "gpu",
        "candidates": [],
        "placements": ["attempt 1 placed on pku/gpu"],
    }
    api.on("GET", "/jobs/job_01/why", ok(why))
    result = run("why", "job_01")
    assert "not waiting" in result.stdout and "attempt 1 placed on pku/gpu" in result.stdout


def test_why_says_how_often_a_job_was_preempted_and_why_the_last_time(
    api: FakeApi, run: Run, logged_in: Path
) -> None:
    why = {
        "id": "job_01",
        "state": "PENDING",
        "queue": "no waiting job goes before it",
        "candidates": [],
        "preemptions": 3,
        "last_preemption": {
            "at": "2026-11-27T10:00:00Z",
            "message": "attempt 3 on sh/gpu: stopping it (preempted for job job_09, which has had less service)",
        },
    }
    api.on("GET", "/jobs/job_01/why", ok(why))
    out = " ".join(run("why", "job_01").stdout.split())
    assert "job_01 was preempted 3 times, each time queued again with its retries untouched" in out
    assert (
        "the last at 2026-11-27T10:00:00Z: attempt 3 on sh/gpu: stopping it (preempted for job job_09" in out
    )

    api.on("GET", "/jobs/job_01/why", ok({**why, "preemptions": 0, "last_preemption": None}))
    assert "preempted" not in run("why", "job_01").stdout


def test_quote_shows_prices_and_why_not(api: FakeApi, run: Run, logged_in: Path, tmp_path: Path) -> None:
    spec = tmp_path / "train.yaml"
    spec.write_text(
        "name: train\nrun: python train.py\nresources: {accelerators: 'A100:2', max_runtime: 3h}\n"
    )
    body = {
        "objective": "balanced",
        "expected_hours": "3.00",
        "queue_ahead": 7,
        "queue_projected": 7,
        "candidates": [
            {
                "pool": "sh1/gpu",
                "fits": True,
                "code": "ok",
                "reason": "fits now",
                "score": 1200.0,
                "price_per_hour": "25.00 CNY",
                "expected_cost": "75.00 CNY",
                "energy_kwh": "3.08",
                "carbon_kg": "1.84",
                "expected_start": "now",
            },
            {
                "pool": "sh2/cpu",
                "fits": False,
                "code": "unresolvable",
                "reason": "needs A100; pool offers no accelerators",
                "score": None,
                "price_per_hour": "0.20 CNY",  # the pool's price, not the job's: it could never run there
                "expected_cost": "0.60 CNY",
                "energy_kwh": None,
                "carbon_kg": None,
                "expected_start": None,
            },
        ],
    }
    api.on("POST", "/quote", ok(body))
    result = run("quote", str(spec))
    assert result.exit_code == 0, result.output
    assert json.loads(api.requests[0].content)["spec"]["resources"]["max_runtime"] == "3h"
    assert (
        "75.00 CNY" in result.stdout and "1.84" in result.stdout and "offers no accelerators" in result.stdout
    )
    assert "counts the 7 job(s) waiting ahead" in result.stdout
    cpu_row = next(line for line in result.stdout.splitlines() if line.startswith("sh2/cpu"))
    assert "0.20" not in cpu_row and "0.60" not in cpu_row
    assert cpu_row.split()[1] == "never"  # it could never run there: START says so, not "-"
    assert "higher is better" in " ".join(result.stdout.split())  # what SCORE means
    body["candidates"][0]["expected_start"] = "2026-11-28T03:46:01.672787Z"  # type: ignore[index]
    api.on("POST", "/quote", ok(body))
    busy = run("quote", str(spec)).stdout
    assert "2026-11-28 03:46:01" in busy and ".672787" not in busy  # as every other table shows times


def test_why_for_a_job_gathering_its_room_says_it_holds_a_claim(
    api: FakeApi, run: Run, logged_in: Path
) -> None:
    why = {
        "id": "job_01",
        "state": "PENDING",
        "reservation": {"pool": "sh2/gpu", "starts_at": None, "preempting": 1, "claim": True},
        "candidates": [
            {
                "pool": "sh2/gpu",
                "fits": False,
                "code": "unschedulable",
                "score": None,
                "scores": {},
                "reason": "needs 4×A100, 4 CPU, 8192 MiB on one node; largest free block 3×A100, 15 CPU, 57344 MiB",
            }
        ],
    }
    api.on("GET", "/jobs/job_01/why", ok(why))
    out = run("why", "job_01").stdout
    assert "holds a reservation on sh2/gpu as the jobs in its way there pass their checkpoints" in out
    assert "1 preemptible job(s) there are being stopped for it" in out


def test_quote_of_a_job_no_pool_can_run_exits_2_and_names_the_default_hold(
    api: FakeApi, run: Run, logged_in: Path, tmp_path: Path
) -> None:
    spec = tmp_path / "big.yaml"
    spec.write_text("name: big\nrun: python train.py\nresources: {accelerators: 'H100:1'}\n")
    never = {
        "pool": "sh2/cpu",
        "fits": False,
        "code": "unresolvable",
        "reason": "needs H100; pool offers no accelerators",
    }
    body = {
        "objective": "balanced",
        "expected_hours": "1.00",
        "expected_hours_from": "default_hold",
        "runnable": False,
        "queue_ahead": 0,
        "queue_projected": 0,
        "candidates": [never],
    }
    api.on("POST", "/quote", ok(body))
    result = run("quote", str(spec))
    assert result.exit_code == 2
    assert "priced for 1.00 h (the default hold: no max_runtime given)" in result.stdout
    assert "could ever run this job" in result.stderr
    assert run("quote", str(spec), "--json").exit_code == 2


def test_jobs_of_a_project_that_does_not_exist_exit_3(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on("GET", "/jobs", problem(404, "not_found", "no project 'nope' in your orgs"))
    result = run("jobs", "--project", "nope")
    assert result.exit_code == 3 and "no project 'nope' in your orgs" in result.stderr
