"""The processed-Philly loader: what it reads, and errors that name the file, line and column."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from suanli.sim import FORMATS, TraceError, TraceJob, load_trace

HEADER = "timestamp,duration,num_gpus,gpu_time,cluster\n"


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "trace.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def test_reads_jobs_in_file_order_with_submits_from_the_earliest_time(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "2017-10-09 07:01:55,66.0,1,66.0,11cb48\n"
        "2017-10-09 06:13:03,2951.0,2,5902.0,6214e9\n"
        "2017-10-09 06:13:03,10,8,80,6214e9\n"
        "\n",  # the published file ends with a blank line
    )
    trace = load_trace(path)
    assert trace.start == datetime(2017, 10, 9, 6, 13, 3)
    assert trace.jobs == (
        TraceJob("2", 2932.0, 66.0, 1, "11cb48"),
        TraceJob("3", 0.0, 2951.0, 2, "6214e9"),
        TraceJob("4", 0.0, 10.0, 8, "6214e9"),
    )


def test_limit_keeps_the_first_rows_and_measures_from_their_earliest(tmp_path: Path) -> None:
    path = write(
        tmp_path, "2017-10-09 07:00:00,1,1,1,a\n2017-10-09 07:00:10,1,1,1,a\n2017-10-09 06:00:00,1,1,1,a\n"
    )
    trace = load_trace(path, limit=2)
    assert [j.submit for j in trace.jobs] == [0.0, 10.0]


def test_columns_may_come_in_any_order(tmp_path: Path) -> None:
    path = write(
        tmp_path, "a,1,4,2017-10-09 07:00:00,4\n", header="cluster,duration,num_gpus,timestamp,gpu_time\n"
    )
    assert load_trace(path).jobs == (TraceJob("2", 0.0, 1.0, 4, "a"),)


GOOD = "2017-10-09 07:00:00,60,1,60,a\n"


@pytest.mark.parametrize(
    ("body", "where", "says"),
    [
        ("2017-10-09 07:00:00,60,1,a\n", ":3:", "expected 5 fields, found 4"),
        ("yesterday,60,1,60,a\n", ":3: column 1 (timestamp)", "'yesterday' is not a time"),
        ("2017-10-09 07:00:00,soon,1,60,a\n", ":3: column 2 (duration)", "'soon' is not a number"),
        ("2017-10-09 07:00:00,-5,1,60,a\n", ":3: column 2 (duration)", "0 or more seconds"),
        ("2017-10-09 07:00:00,nan,1,60,a\n", ":3: column 2 (duration)", "finite"),
        ("2017-10-09 07:00:00,60,1.5,60,a\n", ":3: column 3 (num_gpus)", "not a whole number"),
        ("2017-10-09 07:00:00,60,0,60,a\n", ":3: column 3 (num_gpus)", "at least 1 GPU"),
        ("2017-10-09 07:00:00,60,1,60, \n", ":3: column 5 (cluster)", "needs a tenant"),
        ("2017-10-09 07:00:00+08:00,60,1,60,a\n", ":3: column 1 (timestamp)", "mixes times"),
        # beyond what the production policies' datetimes can hold: refused here, not a crash there
        (
            "9999-12-31 23:59:59,100,1,100,vc1\n",
            ":3: column 1 (timestamp)",
            "allowed 1900-01-01 to 2199-12-31",
        ),
        ("2017-10-09 07:00:00,1e12,1,60,a\n", ":3: column 2 (duration)", "allowed 0 to 157,680,000 seconds"),
        ("2017-10-09 07:00:00,1e300,1,60,a\n", ":3: column 2 (duration)", "(5 years)"),
        (
            "2117-10-09 07:00:01,60,1,60,a\n",
            ":3: column 1 (timestamp)",
            "allowed up to 3,153,600,000 seconds",
        ),
    ],
)
def test_malformed_rows_name_file_line_and_column(tmp_path: Path, body: str, where: str, says: str) -> None:
    path = write(tmp_path, GOOD + body)
    with pytest.raises(TraceError) as caught:
        load_trace(path)
    assert f"{path}{where}" in str(caught.value)
    assert says in str(caught.value)


LIMITED = "timestamp,duration,num_gpus,gpu_time,cluster,limit_s\n"
RESUMABLE = "timestamp,duration,num_gpus,gpu_time,cluster,preemptible,checkpoint_s\n"


@pytest.mark.parametrize(
    ("header", "body", "where", "says"),
    [
        (
            HEADER,
            "0,60,1,60,a\n1e15,60,1,60,a\n",
            ":3: column 1 (timestamp)",
            "allowed 0 to 7,258,118,400 seconds",
        ),
        (HEADER, "1e308,60,1,60,a\n", ":2: column 1 (timestamp)", "allowed 0 to 7,258,118,400 seconds"),
        (HEADER, "0,60,1,60,a\n4e9,60,1,60,a\n", ":3: column 1 (timestamp)", "after the earliest timestamp"),
        (LIMITED, "0,60,1,60,a,1e300\n", ":2: column 6 (limit_s)", "allowed 0 to 157,680,000 seconds"),
        (RESUMABLE, "0,60,1,60,a,maybe,\n", ":2: column 6 (preemptible)", "'maybe': allowed 1 or 0"),
        (RESUMABLE, "0,60,1,60,a,1,0\n", ":2: column 7 (checkpoint_s)", "is not a checkpoint interval"),
        (
            RESUMABLE,
            "0,60,1,60,a,1,1e300\n",
            ":2: column 7 (checkpoint_s)",
            "allowed 0 to 157,680,000 seconds",
        ),
    ],
)
def test_seconds_out_of_the_simulators_range_are_refused(
    tmp_path: Path, header: str, body: str, where: str, says: str
) -> None:
    path = write(tmp_path, body, header=header)
    with pytest.raises(TraceError) as caught:
        load_trace(path)
    assert f"{path}{where}" in str(caught.value)
    assert says in str(caught.value)


def test_an_excel_byte_order_mark_and_gpu_counts_written_as_floats_are_read(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + "0,66.0,8.0,528.0,a\n").encode())
    assert load_trace(path).jobs == (TraceJob("2", 0.0, 66.0, 8, "a"),)


@pytest.mark.parametrize(
    ("header", "body", "says"),
    [
        ("", "", "the file is empty"),
        ("timestamp,duration,gpus,cluster\n", GOOD, ":1: header lacks column(s) num_gpus"),
        (HEADER, "", "no jobs"),
    ],
)
def test_files_without_jobs_are_refused(tmp_path: Path, header: str, body: str, says: str) -> None:
    with pytest.raises(TraceError, match=r".*" + says.replace("(", r"\(").replace(")", r"\)")):
        load_trace(write(tmp_path, body, header=header))


def test_a_missing_file_or_unknown_format_is_a_trace_error(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="cannot read the trace"):
        load_trace(tmp_path / "absent.csv")
    with pytest.raises(TraceError, match=f"unknown trace format 'gwa'; known: {', '.join(sorted(FORMATS))}"):
        load_trace(write(tmp_path, GOOD), "gwa")


def test_a_binary_file_is_a_trace_error(tmp_path: Path) -> None:
    path = tmp_path / "trace.csv"
    path.write_bytes(HEADER.encode() + b"\xff\xfe\x00 not text\n")
    with pytest.raises(TraceError, match="not a CSV text file"):
        load_trace(path)


def test_seconds_timestamps_count_from_the_earliest_and_start_at_1970_plus_it(tmp_path: Path) -> None:
    path = write(tmp_path, "30,66.0,1,66.0,a\n10.5,20,2,40,b\n10.5,5,1,5,a\n")
    trace = load_trace(path)
    assert trace.start == datetime(1970, 1, 1, 0, 0, 10, 500000)
    assert [(j.id, j.submit) for j in trace.jobs] == [("2", 19.5), ("3", 0.0), ("4", 0.0)]


def test_optional_columns_give_name_limit_and_model(tmp_path: Path) -> None:
    header = HEADER.rstrip("\n") + ",name,limit_s,model\n"
    path = write(tmp_path, "0,60,1,60,a,train-1,3600,T4\n5,60,1,60,a,,,\n", header=header)
    first, second = load_trace(path).jobs
    assert (first.name, first.limit_s, first.model) == ("train-1", 3600.0, "T4")
    assert (second.name, second.limit_s, second.model) == ("", None, None)


SECONDS = "0,60,1,60,a\n"


@pytest.mark.parametrize(
    ("first", "body", "where", "says"),
    [
        (SECONDS, GOOD, ":3: column 1 (timestamp)", "may not mix them with date-times"),
        (GOOD, SECONDS, ":3: column 1 (timestamp)", "'0' is seconds; the first row gave a date-time"),
        (SECONDS, "-1,60,1,60,a\n", ":3: column 1 (timestamp)", "0 or more"),
        (SECONDS, "inf,60,1,60,a\n", ":3: column 1 (timestamp)", "finite"),
    ],
)
def test_seconds_and_date_times_do_not_mix(
    tmp_path: Path, first: str, body: str, where: str, says: str
) -> None:
    path = write(tmp_path, first + body)
    with pytest.raises(TraceError) as caught:
        load_trace(path)
    assert f"{path}{where}" in str(caught.value)
    assert says in str(caught.value)


def test_a_bad_limit_names_its_column(tmp_path: Path) -> None:
    header = HEADER.rstrip("\n") + ",limit_s\n"
    path = write(tmp_path, "0,60,1,60,a,soon\n", header=header)
    with pytest.raises(TraceError, match=r":2: column 6 \(limit_s\): 'soon' is not a number of seconds"):
        load_trace(path)
