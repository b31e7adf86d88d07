"""A local site's pools: the `--pool` grammar, the machine's defaults, and NVIDIA GPU discovery.

Grammar of one `--pool` value::

    [NAME=]KIND:COUNT[,cpus=N][,memory=SIZE]

- `cpu:2` is a CPU-only pool named `cpu` with 2 CPUs (`cpus=` may not be given again).
- `A100:4` is a pool named `a100` with 4 accelerator slots of model A100. The slots are fake unless
  the machine has such GPUs: it lets a machine without GPUs try the network out.
- `NAME=` names the pool explicitly (`big=A100:8`); names are lowercase letters, digits, `-`, `_`.
- SIZE is written as in job specs: a whole number of `Mi`, `Gi` or `Ti` (`512Mi`, `64Gi`); `M`, `G`
  and `T` mean the same (binary, as in Slurm).

CPUs default to all of the machine's, memory to its physical memory.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from suanli.agent.backends.base import PoolOffer
from suanli.domain.catalog import default_catalog
from suanli.domain.resources import parse_memory_mib

__all__ = ["LocalPool", "Machine", "discover_pools", "parse_pool", "parse_pools", "query_nvidia_smi"]

FORMS = "KIND:COUNT, NAME=KIND:COUNT, optionally followed by ,cpus=N and ,memory=SIZE (e.g. 16Gi)"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")

# Vendor words nvidia-smi and friends put before the model.
_VENDOR_PREFIXES = ("NVIDIA ", "Tesla ", "GeForce ", "AMD Instinct ", "Intel ")
# Families whose model is two words ("RTX 4090" is RTX4090).
_TWO_WORD_FAMILIES = ("RTX", "GTX", "TITAN", "Quadro")


@dataclass(frozen=True)
class Machine:
    """The CPUs and physical memory of this machine: the defaults of every pool."""

    cpus: int
    memory_mib: int

    @classmethod
    def detect(cls) -> Machine:
        return cls(cpus=os.cpu_count() or 1, memory_mib=_physical_memory_mib())


@dataclass(frozen=True)
class LocalPool:
    """A pool of the local backend: one node, with the device indices its attempts are given."""

    name: str
    accelerator: str | None
    devices: tuple[int, ...]
    cpus: int
    memory_mib: int

    def offer(self) -> PoolOffer:
        return PoolOffer(
            name=self.name,
            accelerator=self.accelerator,
            accelerators_per_node=len(self.devices),
            nodes=1,
            cpus_per_node=self.cpus,
            memory_mib_per_node=self.memory_mib,
        )


def parse_pools(values: Iterable[str], machine: Machine | None = None) -> tuple[LocalPool, ...]:
    """Parse several `--pool` values; pool names must be unique."""
    machine = machine or Machine.detect()
    pools = tuple(parse_pool(value, machine) for value in values)
    seen: set[str] = set()
    for pool in pools:
        if pool.name in seen:
            raise ValueError(f"pool name {pool.name!r} is given twice; name pools with NAME=KIND:COUNT")
        seen.add(pool.name)
    return pools


def parse_pool(value: str, machine: Machine | None = None) -> LocalPool:
    """Parse one `--pool` value (see the module docstring); ValueError names the value and the forms."""
    machine = machine or Machine.detect()
    several = value.split()
    if len(several) > 1 and all(":" in part for part in several):  # `--pool "cpu:2 A100:4"`
        again = " ".join(f"--pool {part}" for part in several)
        raise _bad(value, f"one pool per --pool; for several, repeat it: {again}")
    head, *options = value.strip().split(",")
    name, sep, kind_count = head.partition("=")
    if not sep:
        name, kind_count = "", head
    kind, colon, count_text = kind_count.partition(":")
    kind = kind.strip()
    count = _positive_int(value, "COUNT", count_text.strip() if colon else "")
    cpu_only = kind.lower() == "cpu"
    if not cpu_only and not _MODEL.match(kind):
        raise _bad(value, f"{kind!r} is not an accelerator model or 'cpu'")
    if not cpu_only:  # a model no job can ask for would be offered and never used
        known = default_catalog().find(kind)
        if known is None:
            models = ", ".join(default_catalog().names())
            raise _bad(
                value, f"{kind!r} is not a model the network knows (job specs name these: {models}) or 'cpu'"
            )
        kind = known.name
    name = name.strip() or kind.lower()
    if not _NAME.match(name):
        raise _bad(value, f"pool name {name!r} must be lowercase letters, digits, '-' or '_'")
    cpus, memory_mib = (count if cpu_only else machine.cpus), machine.memory_mib
    for option in options:
        key, eq, raw = (part.strip() for part in option.partition("="))
        if not eq or key not in ("cpus", "memory"):
            raise _bad(value, f"unknown option {option.strip()!r}; options are cpus=N and memory=SIZE")
        if key == "cpus":
            if cpu_only:
                raise _bad(value, "a cpu pool's size is its COUNT; cpus= is for accelerator pools")
            cpus = _positive_int(value, "cpus", raw)
        else:
            memory_mib = _memory_mib(value, raw)
    if cpu_only:
        return LocalPool(name=name, accelerator=None, devices=(), cpus=cpus, memory_mib=memory_mib)
    return LocalPool(
        name=name, accelerator=kind, devices=tuple(range(count)), cpus=cpus, memory_mib=memory_mib
    )


def discover_pools(
    query: Callable[[], str | None] | None = None, machine: Machine | None = None
) -> tuple[LocalPool, ...]:
    """The pools of this machine when none are given: one per GPU model, else one `cpu` pool.

    `query` returns `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader` output,
    or None when there is no working nvidia-smi. The machine's CPUs and memory are shared between
    GPU pools in proportion to their devices.
    """
    machine = machine or Machine.detect()
    output = (query or query_nvidia_smi)()
    by_model: dict[str, list[int]] = {}
    for line in (output or "").splitlines():
        gpu = _parse_gpu_line(line)
        if gpu is not None:
            by_model.setdefault(gpu[1], []).append(gpu[0])
    if not by_model:
        return (LocalPool("cpu", None, (), machine.cpus, machine.memory_mib),)
    total = sum(len(devices) for devices in by_model.values())
    return tuple(
        LocalPool(
            name=model.lower(),
            accelerator=model,
            devices=tuple(sorted(devices)),
            cpus=max(1, machine.cpus * len(devices) // total),
            memory_mib=max(1, machine.memory_mib * len(devices) // total),
        )
        for model, devices in sorted(by_model.items())
    )


def query_nvidia_smi() -> str | None:
    """Ask nvidia-smi for this machine's GPUs; None when it is missing or fails."""
    command = ["nvidia-smi", "--query-gpu=index,name,memory.total", "--format=csv,noheader"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def model_name(gpu_name: str, memory_mib: int | None = None) -> str:
    """A short model name for a device name: "NVIDIA A100-SXM4-80GB" is A100, "RTX 4090" RTX4090."""
    name = gpu_name.strip()
    for prefix in _VENDOR_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :].strip()
    words = [word for word in re.split(r"[\s-]+", name) if word]
    if not words:
        return gpu_name.strip()
    model = words[0] + words[1] if words[0] in _TWO_WORD_FAMILIES and len(words) > 1 else words[0]
    model = model.upper()
    # The 40 GB A100 is its own catalog entry: the same name with half the memory.
    if model == "A100" and memory_mib is not None and memory_mib < 48 * 1024:
        return "A100-40GB"
    return model


def _parse_gpu_line(line: str) -> tuple[int, str] | None:
    parts = [part.strip() for part in line.split(",")]
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1]:
        return None
    memory = re.match(r"^(\d+)", parts[2]) if len(parts) > 2 else None
    return int(parts[0]), model_name(parts[1], int(memory.group(1)) if memory else None)


def _physical_memory_mib(meminfo: Path = Path("/proc/meminfo")) -> int:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return max(1, int(line.split()[1]) // 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        return max(1, os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // (1024 * 1024))
    except (OSError, ValueError):
        return 1024


def _positive_int(value: str, what: str, raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise _bad(value, f"{what} must be a whole number of at least 1, not {raw!r}")
    return int(raw)


def _memory_mib(value: str, raw: str) -> int:
    """A size as job specs write one (`resources.memory`), so a pool and a job read `16G` alike."""
    try:  # a bare number would be MiB: far too small for a machine, so surely a slip
        mib = parse_memory_mib(raw) if raw[-1:].isalpha() else 0
    except ValueError:
        mib = 0
    if mib < 1:
        raise _bad(value, f"memory must be a size like 512Mi, 16Gi or 1Ti (G and T are binary), not {raw!r}")
    return mib


def _bad(value: str, why: str) -> ValueError:
    return ValueError(f"bad --pool value {value!r}: {why}; allowed forms: {FORMS}")
