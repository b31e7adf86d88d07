"""Trace loaders by format name: each turns a file into a `Trace` or raises `TraceError`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from suanli.sim.errors import TraceError
from suanli.sim.loaders import alibaba, nodes, philly, sia, swf
from suanli.sim.loaders.alibaba import load_alibaba
from suanli.sim.loaders.philly import load_philly, write_philly
from suanli.sim.loaders.sia import load_sia
from suanli.sim.loaders.swf import load_swf
from suanli.sim.trace import Trace

__all__ = ["DESCRIPTIONS", "FORMATS", "NODE_LIST", "guess_format", "load_trace", "write_philly"]

Loader = Callable[[Path, int | None], Trace]

FORMATS: dict[str, Loader] = {
    "philly": load_philly,
    "swf": load_swf,
    "alibaba": load_alibaba,
    "sia": load_sia,
}


DESCRIPTIONS = {
    "philly": "a processed Philly CSV",
    "swf": "an SWF log (Parallel Workloads Archive)",
    "alibaba": "an Alibaba pod list",
    "sia": "a Sia workload",
}
NODE_LIST = "node list"
"""What `guess_format` answers for a cluster's node list: a network, not a trace."""


def guess_format(path: Path) -> str | None:
    """The format (a key of `FORMATS`, or `NODE_LIST`) the first line of `path` looks like, if any."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as handle:
            first = handle.readline(4096).strip()
    except OSError:
        return None
    if first.startswith(";") or _numbers(first.split()) == len(swf.FIELDS):
        return "swf"
    names = {name.strip() for name in first.split(",")}
    for fmt, wanted in (("alibaba", alibaba.COLUMNS), ("sia", sia.COLUMNS), ("philly", philly.COLUMNS)):
        if set(wanted) <= names:
            return fmt
    if any(set(cols) <= names for cols in nodes.FORMATS.values()):
        return NODE_LIST
    return None


def _numbers(fields: list[str]) -> int:
    try:
        return len([float(f) for f in fields])
    except ValueError:
        return 0


def load_trace(path: Path, fmt: str = "philly", limit: int | None = None) -> Trace:
    """Load `path` as `fmt` (one of `FORMATS`); `limit` keeps only the first jobs of the file."""
    loader = FORMATS.get(fmt)
    if loader is None:
        raise TraceError(f"unknown trace format {fmt!r}; known: {', '.join(sorted(FORMATS))}")
    if limit is not None and limit < 1:
        raise TraceError(f"limit must be at least 1, not {limit}")
    return loader(path, limit)
