"""Loader and writer for the processed Philly CSV (`timestamp,duration,num_gpus,gpu_time,cluster`).

The file is the one the Pollux/Sia authors published: one row per job, `duration` in seconds,
`num_gpus` the GPUs the job holds (`8` or `8.0`), `cluster` the virtual cluster, which the simulator treats as the
tenant. `timestamp` is either a wall-clock time (`2017-10-09 07:01:55`, parsed as given, no time zone
applied) or seconds from the trace start (`0`, `4127.5`): the first data row decides for the whole
file, and a file that mixes the two is refused. Rows are not sorted by time; input order is kept
because it breaks ties between jobs submitted in the same second. A job's submit time is its timestamp
minus the earliest timestamp in the file (or in the first `limit` rows); with seconds, the trace's
wall-clock start is 1970-01-01 plus that earliest second. `gpu_time` is redundant
(`duration × num_gpus`) and is not read. A job's id is its line number.

Optional columns, which the published file lacks and `write_philly` writes: `name`, `limit_s` (the
requested run-time limit in seconds, empty for none), `model` (an accelerator constraint, empty
for any; `A100|H100` for either), `preemptible` (`1` the job may be stopped and resumed, `0` not;
empty: 1, as the published jobs are training jobs that checkpoint) and `checkpoint_s` (how often it
checkpoints, in seconds; empty: the run's default).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from suanli.sim.errors import TraceError
from suanli.sim.loaders.records import LATEST_UNIX_S, opened, seconds_text, up_to, whole
from suanli.sim.trace import EARLIEST, EPOCH, LATEST, MAX_DURATION_S, MAX_SPAN_S, Trace, TraceJob

if TYPE_CHECKING:
    import _csv

__all__ = ["COLUMNS", "OPTIONAL_COLUMNS", "load_philly", "write_philly"]

COLUMNS = ("timestamp", "duration", "num_gpus", "cluster")
OPTIONAL_COLUMNS = ("name", "limit_s", "model", "preemptible", "checkpoint_s")
_HEADER = ("timestamp", "duration", "num_gpus", "gpu_time", "cluster")


# One row as read: its line, its timestamp (a wall-clock time or seconds from the trace start), and
# duration, gpus, tenant, limit_s, model, name, preemptible, checkpoint_s (`TraceJob`'s fields in
# order). The submit time is known once the earliest timestamp is.
_Fields = tuple[float, int, str, float | None, str | None, str, bool, float | None]
_Row = tuple[int, datetime | float, _Fields]


def load_philly(path: Path, limit: int | None = None) -> Trace:
    """The jobs of a processed Philly CSV, in file order; `limit` keeps only the first rows."""
    index: dict[str, int] = {}  # the header's columns, once read
    rows = list(_rows(path, limit, index))
    if not rows:
        raise TraceError(f"{path}: no jobs in the file")
    first = rows[0][1]
    if isinstance(first, datetime):
        start = min(when for _, when, _ in rows if isinstance(when, datetime))
        submits = [(when - start).total_seconds() for _, when, _ in rows if isinstance(when, datetime)]
    else:
        earliest = min(when for _, when, _ in rows if isinstance(when, float))
        start = EPOCH + timedelta(seconds=earliest)
        submits = [when - earliest for _, when, _ in rows if isinstance(when, float)]
    jobs = tuple(
        TraceJob(str(line), submit, *job, line=line)
        for (line, _, job), submit in zip(rows, submits, strict=True)
    )
    late = next((j for j in jobs if j.submit > MAX_SPAN_S), None)
    if late is not None:
        raise TraceError(
            f"{_where(path, late.line, index, 'timestamp')}: {late.submit:,.0f} seconds after the earliest "
            f"timestamp; allowed up to {seconds_text(MAX_SPAN_S)}"
        )
    return Trace(str(path), start, jobs)


def write_philly(trace: Trace, path: Path, *, wall_clock: bool = False) -> None:
    """Write `trace` as a processed-Philly CSV with seconds timestamps (`wall_clock`: date-times in
    UTC, `trace.start` + submit, to the microsecond); `load_philly` reads it back.

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
                when = (
                    (trace.start + timedelta(seconds=j.submit)).isoformat(" ")
                    if wall_clock
                    else repr(j.submit)
                )
                out.writerow(
                    [
                        when,
                        repr(j.duration),
                        j.gpus,
                        gpu_time,
                        j.tenant,
                        j.name,
                        limit,
                        j.model or "",
                        "1" if j.preemptible else "0",
                        "" if j.checkpoint_s is None else repr(j.checkpoint_s),
                    ]
                )
    except OSError as exc:
        raise TraceError(f"{path}: cannot write the trace: {exc.strerror or exc}") from exc


def _rows(path: Path, limit: int | None, index: dict[str, int]) -> Iterator[_Row]:
    with opened(path) as handle:
        reader = csv.reader(handle)
        try:
            yield from _parse(path, reader, limit, index)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise TraceError(f"{path}:{reader.line_num + 1}: not a CSV text file: {exc}") from exc


def _parse(path: Path, reader: _csv.Reader, limit: int | None, index: dict[str, int]) -> Iterator[_Row]:
    header = next(reader, None)
    if header is None:
        raise TraceError(f"{path}: the file is empty (expected a header line)")
    index.update(_columns(path, header))
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
        yield line, when, _job(path, line, index, row)
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


def _where(path: Path, line: int, index: dict[str, int], name: str) -> str:
    return f"{path}:{line}: column {index[name] + 1} ({name})"


def _seconds(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _timestamp(
    path: Path, line: int, index: dict[str, int], row: list[str], kind: str | None
) -> datetime | float:
    text = row[index["timestamp"]].strip()
    if kind in (None, "seconds"):
        seconds = _seconds(text)
        if seconds is not None:
            if not math.isfinite(seconds) or seconds < 0:
                raise TraceError(
                    f"{_where(path, line, index, 'timestamp')}: {text!r} is not seconds from the trace "
                    "start (finite, 0 or more)"
                )
            where = _where(path, line, index, "timestamp")
            return up_to(seconds, text, where, "seconds from the trace start (or a Unix time)", LATEST_UNIX_S)
        if kind == "seconds":
            raise TraceError(
                f"{_where(path, line, index, 'timestamp')}: {text!r} is not a number of seconds; the first "
                "row gave seconds from the trace start, and a file may not mix them with date-times"
            )
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        if not EARLIEST <= when.replace(tzinfo=None) < LATEST:
            raise TraceError(
                f"{_where(path, line, index, 'timestamp')}: {text!r} is out of range: allowed "
                f"{EARLIEST:%Y-%m-%d} to {LATEST - timedelta(days=1):%Y-%m-%d}"
            )
        return when
    if _seconds(text) is not None:
        raise TraceError(
            f"{_where(path, line, index, 'timestamp')}: {text!r} is seconds; the first row gave a date-time "
            "like 2017-10-09 07:01:55, and a file may not mix them"
        )
    raise TraceError(
        f"{_where(path, line, index, 'timestamp')}: {text!r} is not a time like 2017-10-09 07:01:55 "
        "or seconds from the trace start"
    )


def _job(path: Path, line: int, index: dict[str, int], row: list[str]) -> _Fields:
    text = row[index["duration"]].strip()
    try:
        duration = float(text)
    except ValueError:
        raise TraceError(
            f"{_where(path, line, index, 'duration')}: {text!r} is not a number of seconds"
        ) from None
    if not math.isfinite(duration) or duration < 0:
        raise TraceError(
            f"{_where(path, line, index, 'duration')}: {text!r} is not a duration (finite, 0 or more seconds)"
        )
    up_to(duration, text, _where(path, line, index, "duration"), "a duration", MAX_DURATION_S)
    text = row[index["num_gpus"]].strip()
    gpus = whole(text, _where(path, line, index, "num_gpus"), "a whole number of GPUs")
    if gpus < 1:
        raise TraceError(f"{_where(path, line, index, 'num_gpus')}: {text!r}: a job needs at least 1 GPU")
    tenant = row[index["cluster"]].strip()
    if not tenant:
        raise TraceError(f"{_where(path, line, index, 'cluster')}: empty; every job needs a tenant")
    name = row[index["name"]].strip() if "name" in index else ""
    model = row[index["model"]].strip() if "model" in index else ""
    limit = _limit(path, line, index, row)
    return (
        duration,
        gpus,
        tenant,
        limit,
        model or None,
        name,
        _flag(path, line, index, row),
        _every(path, line, index, row),
    )


def _flag(path: Path, line: int, index: dict[str, int], row: list[str]) -> bool:
    text = row[index["preemptible"]].strip().lower() if "preemptible" in index else ""
    if text in ("", "1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    raise TraceError(f"{_where(path, line, index, 'preemptible')}: {text!r}: allowed 1 or 0 (or empty for 1)")


def _every(path: Path, line: int, index: dict[str, int], row: list[str]) -> float | None:
    text = row[index["checkpoint_s"]].strip() if "checkpoint_s" in index else ""
    if not text:
        return None
    every = _seconds(text)
    if every is None or not math.isfinite(every) or every <= 0:
        raise TraceError(
            f"{_where(path, line, index, 'checkpoint_s')}: {text!r} is not a checkpoint interval "
            "(more than 0 seconds, or empty for the run's default)"
        )
    return up_to(
        every, text, _where(path, line, index, "checkpoint_s"), "a checkpoint interval", MAX_DURATION_S
    )


def _limit(path: Path, line: int, index: dict[str, int], row: list[str]) -> float | None:
    if "limit_s" not in index:
        return None
    text = row[index["limit_s"]].strip()
    if not text:
        return None
    limit = _seconds(text)
    if limit is None:
        raise TraceError(
            f"{_where(path, line, index, 'limit_s')}: {text!r} is not a number of seconds (or empty for no limit)"
        )
    if not math.isfinite(limit) or limit <= 0:
        raise TraceError(
            f"{_where(path, line, index, 'limit_s')}: {text!r} is not a run-time limit (finite, more than 0 seconds)"
        )
    return up_to(limit, text, _where(path, line, index, "limit_s"), "a run-time limit", MAX_DURATION_S)
