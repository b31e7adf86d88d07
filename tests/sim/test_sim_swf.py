"""The SWF loader on a hand-written log: the field mapping, what is skipped, and errors by column."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from suanli.sim import TraceError, TraceJob, load_trace

FIXTURE = Path(__file__).parent / "fixtures" / "sample.swf"


def test_the_fixture_loads_16_of_its_20_jobs_and_counts_the_rest() -> None:
    trace = load_trace(FIXTURE, "swf")
    assert len(trace) == 16
    assert trace.start == datetime(2006, 1, 1)  # UnixStartTime 1136073600
    assert trace.skipped == (("cancelled before start", 2), ("no run time", 1), ("no processor count", 1))
    assert trace.skipped_line() == (
        "skipped 4 jobs: 2 cancelled before start, 1 no run time, 1 no processor count"
    )
    assert [j.id for j in trace.jobs][:6] == ["1", "2", "5", "7", "8", "9"]


@pytest.mark.parametrize(
    ("job_id", "expected"),
    [
        # a plain completed job: allocated processors, requested time as the limit, user as tenant
        ("1", TraceJob("1", 0.0, 3600.0, 16, "u3", limit_s=7200.0)),
        # no allocated processors: the requested ones; requested time -1: no limit
        ("5", TraceJob("5", 90.0, 500.0, 32, "u3", limit_s=None)),
        # no user: the group
        ("7", TraceJob("7", 150.0, 60.0, 1, "g2", limit_s=300.0)),
        # neither user nor group
        ("8", TraceJob("8", 200.0, 7200.0, 64, "unknown", limit_s=14400.0)),
        # cancelled while running (status 5, run time > 0) is kept: it held its processors
        ("9", TraceJob("9", 210.0, 300.0, 2, "u5", limit_s=3600.0)),
        # a job that ran past its limit keeps its real run time
        ("12", TraceJob("12", 330.0, 45.0, 1, "u9", limit_s=60.0)),
    ],
)
def test_fields_map_to_a_rigid_job(job_id: str, expected: TraceJob) -> None:
    jobs = {j.id: j for j in load_trace(FIXTURE, "swf").jobs}
    assert jobs[job_id] == expected


def test_limit_counts_kept_jobs() -> None:
    trace = load_trace(FIXTURE, "swf", limit=3)
    assert [j.id for j in trace.jobs] == ["1", "2", "5"]
    assert trace.skipped == (("cancelled before start", 1), ("no run time", 1))


LINE = "1 0 10 3600 16 -1 -1 16 7200 -1 1 3 1 1 1 -1 -1 -1\n"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "log.swf"
    path.write_text("; UnixStartTime: 0\n" + LINE + body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "where", "says"),
    [
        (
            "2 0 10 3600 16 -1 -1 16 7200 -1 1 3 1\n",
            ":3:",
            "expected 18 whitespace-separated fields, found 13",
        ),
        ("2 x 10 3600 16 -1 -1 16 7200 -1 1 3 1 1 1 -1 -1 -1\n", ":3: column 2 (submit_time)", "'x' is not"),
        ("2 -4 10 3600 16 -1 -1 16 7200 -1 1 3 1 1 1 -1 -1 -1\n", ":3: column 2 (submit_time)", "0 or more"),
        (
            "2 0 10 3600 1.5 -1 -1 16 7200 -1 1 3 1 1 1 -1 -1 -1\n",
            ":3: column 5 (allocated_processors)",
            "whole",
        ),
        ("2 0 10 3600 4 -1 -1 16 7200 -1 1 3 1 1 1 -1 -1 nan\n", ":3: column 18 (think_time)", "finite"),
        (
            "2 1e15 10 3600 4 -1 -1 16 7200 -1 1 3 1 1 1 -1 -1 -1\n",
            ":3: column 2 (submit_time)",
            "allowed 0 to",
        ),
        ("2 0 10 1e12 4 -1 -1 16 7200 -1 1 3 1 1 1 -1 -1 -1\n", ":3: column 4 (run_time)", "(5 years)"),
        ("2 0 10 60 4 -1 -1 16 1e300 -1 1 3 1 1 1 -1 -1 -1\n", ":3: column 9 (requested_time)", "(5 years)"),
    ],
)
def test_malformed_lines_name_file_line_and_column(tmp_path: Path, body: str, where: str, says: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(TraceError) as caught:
        load_trace(path, "swf")
    assert f"{path}{where}" in str(caught.value)
    assert says in str(caught.value)


def test_a_bad_start_time_and_a_log_with_no_runnable_job_are_refused(tmp_path: Path) -> None:
    bad_start = tmp_path / "start.swf"
    bad_start.write_text("; UnixStartTime: yesterday\n" + LINE)
    with pytest.raises(TraceError, match=r"start.swf:1: UnixStartTime 'yesterday'"):
        load_trace(bad_start, "swf")
    bad_start.write_text("; UnixStartTime: 1000000000000000\n" + LINE)
    with pytest.raises(
        TraceError, match=r"start.swf:1: UnixStartTime: .* allowed 0 to 7,258,118,400 seconds"
    ):
        load_trace(bad_start, "swf")
    empty = tmp_path / "empty.swf"
    empty.write_text("; nothing ran\n1 0 -1 0 -1 -1 -1 4 60 -1 5 3 1 1 1 -1 -1 -1\n")
    with pytest.raises(TraceError, match=r"no jobs in the file \(skipped 1 job: 1 cancelled before start\)"):
        load_trace(empty, "swf")
