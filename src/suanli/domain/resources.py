"""Resource quantities: per-node vectors, accelerator options, and the memory/duration grammars."""

from __future__ import annotations

import re
from dataclasses import dataclass

MIB_PER_UNIT = {"": 1, "M": 1, "MI": 1, "G": 1024, "GI": 1024, "T": 1024 * 1024, "TI": 1024 * 1024}
SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# What a site may name a pool in its offer (the sync's `pools[].name`): the agent's own `--pool`
# names are lowercase, a Slurm partition's or a Ray resource's may not be.
POOL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", re.ASCII)
POOL_NAME_RULE = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
MAX_ACCELERATORS_PER_NODE = 64
_MEMORY = re.compile(r"^\s*(\d+)\s*([A-Za-z]{0,2})\s*$", re.ASCII)
_DURATION_PART = re.compile(r"(\d+)\s*([smhd])", re.ASCII)


def parse_memory_mib(value: str | int) -> int:
    """`16Gi`, `16G`, `512Mi`, `1T` or a bare integer (MiB, as Slurm's --mem) → MiB.

    G and T are binary here, as in Slurm: 16G is 16 GiB.
    """
    if isinstance(value, bool):
        raise ValueError("expected a size like 16Gi, 512Mi or an integer number of MiB")
    if isinstance(value, int):
        return value
    m = _MEMORY.match(value)
    if m and m.group(2).upper() in ("MB", "GB", "TB"):  # decimal or binary? say which we read
        binary = f"{m.group(1)}{m.group(2)[0].upper()}i"
        raise ValueError(
            f"{value!r}: sizes here are binary: write {binary} ({m.group(2)[0].upper()} alone means the same)"
        )
    if not m or m.group(2).upper() not in MIB_PER_UNIT:
        raise ValueError(f"{value!r} is not a size: use e.g. 512Mi, 16Gi, 1Ti (or a number of MiB)")
    return int(m.group(1)) * MIB_PER_UNIT[m.group(2).upper()]


def parse_duration_s(value: str | int) -> int:
    """`90s`, `30m`, `2h`, `1d`, `1h30m` or a bare integer (seconds) → seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 90s, 30m, 2h, 1d")
    if isinstance(value, int):
        return value
    text = value.strip()
    if text.isdecimal():  # not isdigit(): '²' is a digit that int() refuses
        return int(text)
    parts = _DURATION_PART.findall(text)
    if not parts or _DURATION_PART.sub("", text).strip():
        raise ValueError(f"{value!r} is not a duration: use e.g. 90s, 30m, 2h, 1d or 1h30m")
    return sum(int(n) * SECONDS_PER_UNIT[u] for n, u in parts)


def format_duration(seconds: int) -> str:
    """The shortest exact rendering in d/h/m/s: 5400 → '1h30m'."""
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)


def format_memory(mib: int) -> str:
    """MiB in the largest binary unit it fills, to one decimal: 24105 → '23.5 GiB', 1048576 → '1 TiB'."""
    for unit, size in (("TiB", 1024 * 1024), ("GiB", 1024)):
        if mib >= size:
            return f"{mib / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{mib} MiB"


@dataclass(frozen=True, order=True)
class Vector:
    """What one node offers or one node of a job needs: accelerators, CPUs, memory."""

    accelerators: int = 0
    cpus: int = 0
    memory_mib: int = 0

    def fits_in(self, other: Vector) -> bool:
        return (
            self.accelerators <= other.accelerators
            and self.cpus <= other.cpus
            and self.memory_mib <= other.memory_mib
        )

    def __add__(self, other: Vector) -> Vector:
        return Vector(
            self.accelerators + other.accelerators, self.cpus + other.cpus, self.memory_mib + other.memory_mib
        )

    def __sub__(self, other: Vector) -> Vector:
        return Vector(
            self.accelerators - other.accelerators, self.cpus - other.cpus, self.memory_mib - other.memory_mib
        )


@dataclass(frozen=True)
class AcceleratorOption:
    """One acceptable accelerator choice: `count` of `model` on each node."""

    model: str
    count: int

    def __str__(self) -> str:
        return f"{self.model}:{self.count}"


@dataclass(frozen=True)
class Resources:
    """What a job asks for: per-node needs on `nodes` nodes of one pool (a gang)."""

    accelerators: tuple[AcceleratorOption, ...] = ()
    nodes: int = 1
    cpus: int = 1
    memory_mib: int = 1024
    max_runtime_s: int | None = None

    def per_node(self, option: AcceleratorOption | None) -> Vector:
        """The per-node vector when the job runs on `option` (None: no accelerator)."""
        return Vector(option.count if option else 0, self.cpus, self.memory_mib)

    def describe(self) -> str:
        accel = " or ".join(str(o) for o in self.accelerators) or "no accelerator"
        nodes = f"{self.nodes} nodes × " if self.nodes > 1 else ""
        return f"{nodes}{accel}, {self.cpus} CPU, {self.memory_mib} MiB"
