"""Loader for the processed Philly CSV (`timestamp,duration,num_gpus,gpu_time,cluster`).

The file is the one the Pollux/Sia authors published: one row per job, `timestamp` a wall-clock time
(`2017-10-09 07:01:55`, parsed as given, no time zone applied), `duration` in seconds, `num_gpus` the
GPUs the job holds, `cluster` the virtual cluster, which the simulator treats as the tenant. Rows are not
sorted by time; input order is kept because it breaks ties between jobs submitted in the same second.
A job's submit time is its timestamp minus the earliest timestamp in the file (or in the first `limit`
rows). `gpu_time` is redundant (`duration × num_gpus`) and is not read.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from suanli.sim.errors import TraceError
from suanli.sim.trace import Trace, TraceJob

if TYPE_CHECKING:
    import _csv

__all__ = ["COLUMNS", "load_philly"]

COLUMNS = ("timestamp", "duration", "num_gpus", "cluster")


def load_philly(path: Path, limit: int | None = None) -> Trace:
    """The jobs of a processed Philly CSV, in file order; `limit` keeps only the first rows."""
    rows = list(_rows(path, limit))
    if not rows:
        raise TraceError(f"{path}: no jobs in the file")
    start = min(when for _, when, _ in rows)
    jobs = tuple(
        TraceJob(str(line), (when - start).total_seconds(), duration, gpus, tenant)
        for line, when, (duration, gpus, tenant) in rows
    )
    return Trace(str(path), start, jobs)


def _rows(path: Path, limit: int | None) -> Iterator[tuple[int, datetime, tuple[float, int, str]]]:
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


def _parse(
    path: Path, reader: _csv.Reader, limit: int | None
) -> Iterator[tuple[int, datetime, tuple[float, int, str]]]:
    header = next(reader, None)
    if header is None:
        raise TraceError(f"{path}: the file is empty (expected a header line)")
    index = _columns(path, header)
    aware: bool | None = None
    kept = 0
    for row in reader:
        if limit is not None and kept >= limit:
            return
        if not row or row == [""]:  # the published file ends with a blank line
            continue
        line = reader.line_num
        if len(row) != len(header):
            raise TraceError(f"{path}:{line}: expected {len(header)} fields, found {len(row)}")
        when = _timestamp(path, line, index, row)
        if aware is None:
            aware = when.tzinfo is not None
        elif aware != (when.tzinfo is not None):
            raise TraceError(
                f"{path}:{line}: column {index['timestamp'] + 1} (timestamp): "
                "mixes times with and without a UTC offset"
            )
        yield line, when, _job(path, line, index, row)
        kept += 1


def _columns(path: Path, header: list[str]) -> dict[str, int]:
    names = [name.strip() for name in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise TraceError(
            f"{path}:1: header lacks column(s) {', '.join(missing)}; "
            f"expected {','.join(('timestamp', 'duration', 'num_gpus', 'gpu_time', 'cluster'))}"
        )
    return {name: names.index(name) for name in COLUMNS}


def _field(path: Path, line: int, index: dict[str, int], row: list[str], name: str) -> tuple[str, str]:
    column = index[name]
    return row[column].strip(), f"{path}:{line}: column {column + 1} ({name})"


def _timestamp(path: Path, line: int, index: dict[str, int], row: list[str]) -> datetime:
    text, where = _field(path, line, index, row, "timestamp")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise TraceError(f"{where}: {text!r} is not a time like 2017-10-09 07:01:55") from None


def _job(path: Path, line: int, index: dict[str, int], row: list[str]) -> tuple[float, int, str]:
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
    return duration, gpus, tenant
