"""Loader and writer for the processed Philly CSV (`timestamp,duration,num_gpus,gpu_time,cluster`).

The file is the one the Pollux/Sia authors published: one row per job, `duration` in seconds,
`num_gpus` the GPUs the job holds, `cluster` the virtual cluster, which the simulator treats as the
tenant. `timestamp` is either a wall-clock time (`2017-10-09 07:01:55`, parsed as given, no time zone
applied) or seconds from the trace start (`0`, `4127.5`): the first data row decides for the whole
file, and a file that mixes the two is refused. Rows are not sorted by time; input order is kept
because it breaks ties between jobs submitted in the same second. A job's submit time is its timestamp
minus the earliest timestamp in the file (or in the first `limit` rows); with seconds, the trace's
wall-clock start is 1970-01-01 plus that earliest second. `gpu_time` is redundant
(`duration × num_gpus`) and is not read. A job's id is its line number.

Optional columns, which the published file lacks and `write_philly` writes: `name`, `limit_s` (the
requested run-time limit in seconds, empty for none) and `model` (an accelerator constraint, empty
for any).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from suanli.sim.errors import TraceError
from suanli.sim.trace import EPOCH, Trace, TraceJob

if TYPE_CHECKING:
    import _csv

__all__ = ["COLUMNS", "OPTIONAL_COLUMNS", "load_philly", "write_philly"]

COLUMNS = ("timestamp", "duration", "num_gpus", "cluster")
OPTIONAL_COLUMNS = ("name", "limit_s", "model")
_HEADER = ("timestamp", "duration", "num_gpus", "gpu_time", "cluster")


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    when: datetime | float  # a wall-clock time, or seconds from the trace start
    job: TraceJob  # submit still 0: it is known once the earliest timestamp is


def load_philly(path: Path, limit: int | None = None) -> Trace:
    """The jobs of a processed Philly CSV, in file order; `limit` keeps only the first rows."""
    rows = list(_rows(path, limit))
    if not rows:
        raise TraceError(f"{path}: no jobs in the file")
    times = [r.when for r in rows]
    if isinstance(times[0], datetime):
        stamps = [t for t in times if isinstance(t, datetime)]
        start = min(stamps)
        submits = [(t - start).total_seconds() for t in stamps]
    else:
        seconds = [t for t in times if isinstance(t, float)]
        earliest = min(seconds)
        start = EPOCH + timedelta(seconds=earliest)
        submits = [t - earliest for t in seconds]
    jobs = tuple(_at(r.job, s) for r, s in zip(rows, submits, strict=True))
    return Trace(str(path), start, jobs)


def write_philly(trace: Trace, path: Path) -> None:
    """Write `trace` as a processed-Philly CSV with seconds timestamps; `load_philly` reads it back.

    Each job lands on line `index + 2`, so a trace whose ids are those line numbers, whose first
    submit is 0 and whose start is 1970-01-01 reads back equal (`synthetic.generate` makes such).
    """
    try:
        with path.open("w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle, lineterminator="\n")
            out.writerow(_HEADER + OPTIONAL_COLUMNS)
            for j in trace.jobs:
                limit = "" if j.limit_s is None else repr(j.limit_s)
                gpu_time = repr(j.gpu_seconds)
                out.writerow(
                    [
                        repr(j.submit),
                        repr(j.duration),
                        j.gpus,
                        gpu_time,
                        j.tenant,
                        j.name,
                        limit,
                        j.model or "",
                    ]
                )
    except OSError as exc:
        raise TraceError(f"{path}: cannot write the trace: {exc.strerror or exc}") from exc


def _at(job: TraceJob, submit: float) -> TraceJob:
    return TraceJob(job.id, submit, job.duration, job.gpus, job.tenant, job.limit_s, job.model, job.name)


def _rows(path: Path, limit: int | None) -> Iterator[_Row]:
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise TraceError(f"{path}: cannot read the trace: {exc.strerror or exc}") from exc
    with handle:
        reader = csv.reader(handle)
        try:
            yield from _parse(path, reader, limit)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise TraceError(f"{path}:{reader.line_num + 1}: not a CSV text file: {exc}") from exc
        except OSError as exc:
            raise TraceError(f"{path}: cannot read the trace: {exc.strerror or exc}") from exc


def _parse(path: Path, reader: _csv.Reader, limit: int | None) -> Iterator[_Row]:
    header = next(reader, None)
    if header is None:
        raise TraceError(f"{path}: the file is empty (expected a header line)")
    index = _columns(path, header)
    kind: str | None = None  # "seconds", "naive" or "aware", fixed by the first data row
    kept = 0
    for row in reader:
        if limit is not None and kept >= limit:
            return
        if not row or row == [""]:  # the published file ends with a blank line
            continue
        line = reader.line_num
        if len(row) != len(header):
            raise TraceError(f"{path}:{line}: expected {len(header)} fields, found {len(row)}")
        when = _timestamp(path, line, index, row, kind)
        this = "seconds" if isinstance(when, float) else "naive" if when.tzinfo is None else "aware"
        if kind is None:
            kind = this
        elif {kind, this} == {"naive", "aware"}:
            raise TraceError(
                f"{path}:{line}: column {index['timestamp'] + 1} (timestamp): "
                "mixes times with and without a UTC offset"
            )
        yield _Row(line, when, _job(path, line, index, row))
        kept += 1


def _columns(path: Path, header: list[str]) -> dict[str, int]:
    names = [name.strip() for name in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise TraceError(
            f"{path}:1: header lacks column(s) {', '.join(missing)}; expected {','.join(_HEADER)} "
            f"(optionally also {','.join(OPTIONAL_COLUMNS)})"
        )
    return {name: names.index(name) for name in COLUMNS + OPTIONAL_COLUMNS if name in names}


def _field(path: Path, line: int, index: dict[str, int], row: list[str], name: str) -> tuple[str, str]:
    column = index[name]
    return row[column].strip(), f"{path}:{line}: column {column + 1} ({name})"


def _timestamp(
    path: Path, line: int, index: dict[str, int], row: list[str], kind: str | None
) -> datetime | float:
    text, where = _field(path, line, index, row, "timestamp")
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if kind == "seconds" and seconds is None:
        raise TraceError(
            f"{where}: {text!r} is not a number of seconds; the first row gave seconds from the trace "
            "start, and a file may not mix them with date-times"
        )
    if seconds is not None:
        if kind in ("naive", "aware"):
            raise TraceError(
                f"{where}: {text!r} is seconds; the first row gave a date-time like 2017-10-09 07:01:55, "
                "and a file may not mix them"
            )
        if not math.isfinite(seconds) or seconds < 0:
            raise TraceError(f"{where}: {text!r} is not seconds from the trace start (finite, 0 or more)")
        return seconds
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise TraceError(
            f"{where}: {text!r} is not a time like 2017-10-09 07:01:55 or seconds from the trace start"
        ) from None


def _job(path: Path, line: int, index: dict[str, int], row: list[str]) -> TraceJob:
    text, where = _field(path, line, index, row, "duration")
    try:
        duration = float(text)
    except ValueError:
        raise TraceError(f"{where}: {text!r} is not a number of seconds") from None
    if not math.isfinite(duration) or duration < 0:
        raise TraceError(f"{where}: {text!r} is not a duration (finite, 0 or more seconds)")
    text, where = _field(path, line, index, row, "num_gpus")
    try:
        gpus = int(text)
    except ValueError:
        raise TraceError(f"{where}: {text!r} is not a whole number of GPUs") from None
    if gpus < 1:
        raise TraceError(f"{where}: {text!r}: a job needs at least 1 GPU")
    tenant, where = _field(path, line, index, row, "cluster")
    if not tenant:
        raise TraceError(f"{where}: empty; every job needs a tenant")
    name = _field(path, line, index, row, "name")[0] if "name" in index else ""
    model = _field(path, line, index, row, "model")[0] if "model" in index else ""
    return TraceJob(
        str(line), 0.0, duration, gpus, tenant, _limit(path, line, index, row), model or None, name
    )


def _limit(path: Path, line: int, index: dict[str, int], row: list[str]) -> float | None:
    if "limit_s" not in index:
        return None
    text, where = _field(path, line, index, row, "limit_s")
    if not text:
        return None
    try:
        limit = float(text)
    except ValueError:
        raise TraceError(f"{where}: {text!r} is not a number of seconds (or empty for no limit)") from None
    if not math.isfinite(limit) or limit <= 0:
        raise TraceError(f"{where}: {text!r} is not a run-time limit (finite, more than 0 seconds)")
    return limit
