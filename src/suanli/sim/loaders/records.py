"""Reading a trace file: opening it, messages that name file:line: column, and the tally of skipped records."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from suanli.sim.errors import TraceError
from suanli.sim.trace import EPOCH, LATEST

__all__ = [
    "LATEST_UNIX_S",
    "Cell",
    "Skips",
    "columns",
    "finite",
    "opened",
    "seconds_text",
    "up_to",
    "where",
    "whole",
]

LATEST_UNIX_S = (LATEST - EPOCH).total_seconds()
"""The latest Unix time a trace may give as a timestamp (`trace.LATEST`)."""


@contextmanager
def opened(path: Path) -> Iterator[TextIO]:
    """`path` as UTF-8 text (a leading byte-order mark, as Excel writes, is dropped); an unreadable or
    non-text file is a `TraceError` naming the file."""
    if path.is_dir():
        raise TraceError(f"{path}: is a folder, not a trace file")
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise TraceError(f"{path}: cannot read the trace: {exc.strerror or exc}") from exc
    with handle:
        try:
            yield handle
        except UnicodeDecodeError as exc:
            raise TraceError(f"{path}: not a text file: {exc}") from exc
        except OSError as exc:
            raise TraceError(f"{path}: cannot read the trace: {exc.strerror or exc}") from exc


def where(path: Path, line: int, column: int, name: str) -> str:
    """`file:line: column N (name)`, columns counted from 1."""
    return f"{path}:{line}: column {column} ({name})"


def finite(text: str, place: str, what: str) -> float:
    """`text` as a finite number, else a `TraceError` at `place` saying `what` was expected."""
    try:
        value = float(text)
    except ValueError:
        raise TraceError(f"{place}: {text!r} is not {what}") from None
    if not math.isfinite(value):
        raise TraceError(f"{place}: {text!r} is not {what} (finite)")
    return value


def seconds_text(high: float) -> str:
    """`157,680,000 seconds (5 years)`: a bound as the messages give it."""
    years = high / (365 * 86400)
    return f"{high:,.0f} seconds ({years:,.3g} years)" if years >= 1 else f"{high:,.0f} seconds"


def up_to(value: float, text: str, place: str, what: str, high: float) -> float:
    """`value` when it is from 0 to `high` seconds, else a `TraceError` at `place` with the range."""
    if not 0 <= value <= high:
        raise TraceError(f"{place}: {text!r} is not {what}: allowed 0 to {seconds_text(high)}")
    return value


def whole(text: str, place: str, what: str) -> int:
    """`text` as an integer (`3`, `-1`, also `3.0`), else a `TraceError` at `place`."""
    try:
        return int(text)
    except ValueError:
        pass
    value = finite(text, place, what)
    if not value.is_integer():
        raise TraceError(f"{place}: {text!r} is not {what}")
    return int(value)


class Skips:
    """How many records were skipped for each reason, reasons kept in the order first met."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def add(self, reason: str) -> None:
        self._counts[reason] += 1

    def as_tuple(self) -> tuple[tuple[str, int], ...]:
        return tuple(self._counts.items())


Cell = dict[str, tuple[str, str]]  # column name → (text, "file:line: column N (name)")


def columns(
    path: Path, reader: Iterator[list[str]], wanted: tuple[str, ...], expected: str
) -> Iterator[tuple[int, Cell]]:
    """The line and the `wanted` columns of each row of a CSV with a header line, each cell with its
    place for error messages; `expected` says what header the format has when columns are missing."""
    header = next(reader, None)
    if header is None:
        raise TraceError(f"{path}: the file is empty (expected a header line)")
    names = [h.strip() for h in header]
    missing = [c for c in wanted if c not in names]
    if missing:
        raise TraceError(f"{path}:1: header lacks column(s) {', '.join(missing)}; expected {expected}")
    index = {name: names.index(name) for name in wanted}
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(names):
            raise TraceError(f"{path}:{line}: expected {len(names)} fields, found {len(row)}")
        yield line, {n: (row[i].strip(), where(path, line, i + 1, n)) for n, i in index.items()}
