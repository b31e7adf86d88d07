"""Long `IN (…)` lists read in batches: PostgreSQL takes at most 65,535 parameters a statement and
SQLite about 250,000, and a month's statement or settlement asks for one row per charge (a busy
project posts tens of thousands)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

BATCH = 5_000  # values per `IN (…)`: well under every supported database's limit on parameters

T = TypeVar("T")


def batches(values: Sequence[T], size: int | None = None) -> Iterator[Sequence[T]]:
    """`values` in consecutive slices of at most `size` (default `BATCH`); none for no values."""
    size = size or BATCH
    for start in range(0, len(values), size):
        yield values[start : start + size]


def distinct(values: Iterable[T]) -> list[T]:
    """The values once each, in a fixed order (sorted), for batching."""
    return sorted(set(values))  # type: ignore[type-var]
