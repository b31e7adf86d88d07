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

from datetime import timedelta
from pathlib import Path

from suanli.sim.errors import TraceError
from suanli.sim.loaders.records import Skips, finite, opened, where, whole
from suanli.sim.trace import EPOCH, Trace, TraceJob

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
        return float(int(value.strip()))
    except ValueError:
        raise TraceError(
            f"{path}:{line}: UnixStartTime {value.strip()!r} is not whole seconds since 1970-01-01 UTC"
        ) from None


def _job(path: Path, line: int, fields: list[str], skips: Skips) -> TraceJob | None:
    if len(fields) != len(FIELDS):
        raise TraceError(
            f"{path}:{line}: expected {len(FIELDS)} whitespace-separated fields, found {len(fields)} "
            "(comments start with ';')"
        )
    values = [finite(text, where(path, line, i + 1, FIELDS[i]), "a number") for i, text in enumerate(fields)]

    def get(name: str) -> float:
        return values[_COL[name]]

    number = whole(fields[0], where(path, line, 1, FIELDS[0]), "a whole job number")
    submit = get("submit_time")
    if submit < 0:
        raise TraceError(f"{where(path, line, 2, 'submit_time')}: {fields[1]!r} is not 0 or more seconds")
    run = get("run_time")
    if run <= 0:
        cancelled = get("status") == CANCELLED
        skips.add("cancelled before start" if cancelled else "no run time")
        return None
    procs = _processors(path, line, fields)
    if procs is None:
        skips.add("no processor count")
        return None
    requested = get("requested_time")
    return TraceJob(
        id=str(number),
        submit=submit,
        duration=run,
        gpus=procs,
        tenant=_tenant(path, line, fields),
        limit_s=requested if requested > 0 else None,
    )


def _processors(path: Path, line: int, fields: list[str]) -> int | None:
    for name in ("allocated_processors", "requested_processors"):
        column = _COL[name]
        count = whole(fields[column], where(path, line, column + 1, name), "a whole number of processors")
        if count > 0:
            return count
    return None


def _tenant(path: Path, line: int, fields: list[str]) -> str:
    for name, prefix in (("user_id", "u"), ("group_id", "g")):
        column = _COL[name]
        ident = whole(fields[column], where(path, line, column + 1, name), "a whole id (or -1)")
        if ident >= 0:
            return f"{prefix}{ident}"
    return "unknown"
