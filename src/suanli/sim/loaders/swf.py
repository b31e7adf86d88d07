"""Loader for the Standard Workload Format (SWF) of the Parallel Workloads Archive.

One job per line, 18 whitespace-separated numbers, -1 where a value is missing; lines starting with
`;` are header comments, of which `; UnixStartTime: N` gives the wall-clock start (seconds since
1970-01-01 UTC; without it the trace starts at 1970-01-01). How a record becomes a rigid job:

| job field | SWF field |
|---|---|
| `id` | 1, job number |
| `submit` | 2, submit time, seconds from the log start, kept as given |
| `duration` | 4, run time |
| `gpus` | 5, allocated processors, else 8, requested processors |
| `limit_s` | 9, requested time, when more than 0 |
| `tenant` | 12, user id as `u<id>`, else 13, group id as `g<id>`, else `unknown` |

The simulator's "GPU" is the log's processor unit: an SWF log of a CPU cluster replays as a pool of
that many processors. Skipped and counted in `Trace.skipped`: jobs cancelled before they started
(status 5, run time 0 or less), other jobs with no positive run time, and jobs with no processor
count. Fields not listed are checked to be numbers and otherwise not read.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

from suanli.sim.errors import TraceError
from suanli.sim.loaders.records import LATEST_UNIX_S, Skips, finite, opened, up_to, where
from suanli.sim.trace import EPOCH, MAX_DURATION_S, MAX_SPAN_S, Trace, TraceJob

__all__ = ["FIELDS", "load_swf"]

FIELDS = (
    "job_number",
    "submit_time",
    "wait_time",
    "run_time",
    "allocated_processors",
    "average_cpu_time",
    "used_memory",
    "requested_processors",
    "requested_time",
    "requested_memory",
    "status",
    "user_id",
    "group_id",
    "executable",
    "queue",
    "partition",
    "preceding_job",
    "think_time",
)
_COL = {name: i for i, name in enumerate(FIELDS)}
CANCELLED = 5


def load_swf(path: Path, limit: int | None = None) -> Trace:
    """The jobs of an SWF log in file order; `limit` keeps only the first jobs (after skips)."""
    jobs: list[TraceJob] = []
    skips = Skips()
    start_s = 0.0
    with opened(path) as handle:
        for line, text in enumerate(handle, start=1):
            if limit is not None and len(jobs) >= limit:
                break
            stripped = text.strip()
            if not stripped:
                continue
            if stripped.startswith(";"):
                start_s = _header(path, line, stripped, start_s)
                continue
            job = _job(path, line, stripped.split(), skips)
            if job is not None:
                jobs.append(job)
    if not jobs:
        skipped = Trace(str(path), EPOCH, (), skips.as_tuple()).skipped_line()
        raise TraceError(f"{path}: no jobs in the file" + (f" ({skipped})" if skipped else ""))
    return Trace(str(path), EPOCH + timedelta(seconds=start_s), tuple(jobs), skips.as_tuple())


def _header(path: Path, line: int, comment: str, start_s: float) -> float:
    key, _, value = comment.lstrip(";").partition(":")
    if key.strip().lower() != "unixstarttime":
        return start_s
    try:
        start = float(int(value.strip()))
    except ValueError:
        raise TraceError(
            f"{path}:{line}: UnixStartTime {value.strip()!r} is not whole seconds since 1970-01-01 UTC"
        ) from None
    return up_to(start, value.strip(), f"{path}:{line}: UnixStartTime", "a Unix time", LATEST_UNIX_S)


def _job(path: Path, line: int, fields: list[str], skips: Skips) -> TraceJob | None:
    if len(fields) != len(FIELDS):
        raise TraceError(
            f"{path}:{line}: expected {len(FIELDS)} whitespace-separated fields, found {len(fields)} "
            "(comments start with ';')"
        )
    values = _numbers(path, line, fields)
    number = values[_COL["job_number"]]
    if not number.is_integer():
        raise TraceError(f"{where(path, line, 1, FIELDS[0])}: {fields[0]!r} is not a whole job number")
    submit = values[_COL["submit_time"]]
    if submit < 0:
        raise TraceError(f"{where(path, line, 2, 'submit_time')}: {fields[1]!r} is not 0 or more seconds")
    up_to(submit, fields[1], where(path, line, 2, "submit_time"), "a submit time", MAX_SPAN_S)
    run = values[_COL["run_time"]]
    if run <= 0:
        cancelled = values[_COL["status"]] == CANCELLED
        skips.add("cancelled before start" if cancelled else "no run time")
        return None
    procs = _first_positive(path, line, fields, values, "allocated_processors", "requested_processors")
    if procs is None:
        skips.add("no processor count")
        return None
    up_to(run, fields[3], where(path, line, 4, "run_time"), "a run time", MAX_DURATION_S)
    requested = values[_COL["requested_time"]]
    if requested > 0:
        up_to(
            requested, fields[8], where(path, line, 9, "requested_time"), "a run-time limit", MAX_DURATION_S
        )
    return TraceJob(
        id=str(int(number)),
        submit=submit,
        duration=run,
        gpus=procs,
        tenant=_tenant(path, line, fields, values),
        limit_s=requested if requested > 0 else None,
        line=line,
    )


def _numbers(path: Path, line: int, fields: list[str]) -> list[float]:
    """Every field as a finite number; the error, only when there is one, names the column."""
    try:
        values = [float(text) for text in fields]
    except ValueError:
        values = []
    if len(values) == len(fields) and all(map(math.isfinite, values)):
        return values
    for i, text in enumerate(fields):  # slow path: find the culprit
        finite(text, where(path, line, i + 1, FIELDS[i]), "a number")
    raise AssertionError("unreachable: some field was not a finite number")


def _first_positive(path: Path, line: int, fields: list[str], values: list[float], *names: str) -> int | None:
    for name in names:
        column = _COL[name]
        if not values[column].is_integer():
            raise TraceError(
                f"{where(path, line, column + 1, name)}: {fields[column]!r} is not a whole number of processors"
            )
        if values[column] > 0:
            return int(values[column])
    return None


def _tenant(path: Path, line: int, fields: list[str], values: list[float]) -> str:
    for name, prefix in (("user_id", "u"), ("group_id", "g")):
        column = _COL[name]
        if not values[column].is_integer():
            raise TraceError(
                f"{where(path, line, column + 1, name)}: {fields[column]!r} is not a whole id (or -1)"
            )
        if values[column] >= 0:
            return f"{prefix}{int(values[column])}"
    return "unknown"
