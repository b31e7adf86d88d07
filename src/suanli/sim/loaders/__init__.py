"""Trace loaders by format name: each turns a file into a `Trace` or raises `TraceError`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from suanli.sim.errors import TraceError
from suanli.sim.loaders.alibaba import load_alibaba
from suanli.sim.loaders.philly import load_philly, write_philly
from suanli.sim.loaders.sia import load_sia
from suanli.sim.loaders.swf import load_swf
from suanli.sim.trace import Trace

__all__ = ["FORMATS", "load_trace", "write_philly"]

Loader = Callable[[Path, int | None], Trace]

FORMATS: dict[str, Loader] = {
    "philly": load_philly,
    "swf": load_swf,
    "alibaba": load_alibaba,
    "sia": load_sia,
}


def load_trace(path: Path, fmt: str = "philly", limit: int | None = None) -> Trace:
    """Load `path` as `fmt` (one of `FORMATS`); `limit` keeps only the first jobs of the file."""
    loader = FORMATS.get(fmt)
    if loader is None:
        raise TraceError(f"unknown trace format {fmt!r}; known: {', '.join(sorted(FORMATS))}")
    if limit is not None and limit < 1:
        raise TraceError(f"limit must be at least 1, not {limit}")
    return loader(path, limit)
