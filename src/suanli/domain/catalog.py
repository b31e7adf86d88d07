"""The accelerator catalog: which accelerator models exist, their figures, and lookup by any of their names.

The data lives in ``accelerators.yaml`` beside this module. Figures are compared across models in
compute units (CU): one CU is one A100's dense BF16 throughput, 312 TFLOPS.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

import yaml

from suanli.domain.errors import DomainError

__all__ = [
    "A100_BF16_TFLOPS",
    "Accelerator",
    "Catalog",
    "CatalogError",
    "UnknownAccelerator",
    "default_catalog",
    "load_catalog",
]

A100_BF16_TFLOPS = Decimal(312)
_CU_QUANTUM = Decimal("0.001")
_REQUIRED = ("name", "vendor", "memory_gb", "bf16_tflops", "tdp_w")
_OPTIONAL = ("aliases", "notes")


class CatalogError(DomainError, ValueError):
    """The catalog data is malformed; the message names the entry and the field."""


class UnknownAccelerator(DomainError, LookupError):
    """No accelerator in the catalog has this name or alias."""

    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"unknown accelerator {name!r}; known: {', '.join(known)}")


def _key(name: str) -> str:
    return name.strip().casefold()


@dataclass(frozen=True)
class Accelerator:
    """One accelerator model with its public spec-sheet figures."""

    name: str
    vendor: str
    memory_gb: int
    bf16_tflops: Decimal
    tdp_w: int
    aliases: tuple[str, ...] = ()
    notes: str = ""

    @property
    def compute_units(self) -> Decimal:
        """Dense BF16 throughput in CU (one A100 = 1.000), to three decimals."""
        return (self.bf16_tflops / A100_BF16_TFLOPS).quantize(_CU_QUANTUM)


@dataclass(frozen=True)
class Catalog:
    """An immutable set of accelerators, indexed by canonical name and every alias (case-insensitive)."""

    accelerators: tuple[Accelerator, ...]
    _index: Mapping[str, Accelerator] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, Accelerator] = {}
        for acc in self.accelerators:
            for label, value in [("name", acc.name)] + [("aliases", alias) for alias in acc.aliases]:
                owner = index.get(_key(value))
                if owner is not None:
                    raise CatalogError(
                        f"entry {acc.name!r}, field {label!r}: {value!r} is already used by {owner.name!r}"
                    )
                index[_key(value)] = acc
        object.__setattr__(self, "_index", MappingProxyType(index))

    def find(self, name: str) -> Accelerator | None:
        """The accelerator called ``name`` (canonical or alias, any case), or None."""
        return self._index.get(_key(name))

    def get(self, name: str) -> Accelerator:
        """The accelerator called ``name``; raises UnknownAccelerator listing the known names."""
        found = self.find(name)
        if found is None:
            raise UnknownAccelerator(name, self.names())
        return found

    def names(self) -> tuple[str, ...]:
        """Canonical names, in catalog order."""
        return tuple(acc.name for acc in self.accelerators)

    def matching(
        self, min_memory_gb: int | None = None, min_compute_units: Decimal | None = None
    ) -> tuple[Accelerator, ...]:
        """Accelerators with at least this memory and compute, in catalog order; None means no bound."""
        return tuple(
            acc
            for acc in self.accelerators
            if (min_memory_gb is None or acc.memory_gb >= min_memory_gb)
            and (min_compute_units is None or acc.compute_units >= min_compute_units)
        )

    def __iter__(self) -> Iterator[Accelerator]:
        return iter(self.accelerators)

    def __len__(self) -> int:
        return len(self.accelerators)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.find(name) is not None


def load_catalog(text: str) -> Catalog:
    """Parse and validate catalog YAML (a top-level ``accelerators:`` list); raises CatalogError."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"catalog is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("accelerators"), list):
        raise CatalogError("catalog must be a mapping with an 'accelerators' list")
    entries: list[Any] = data["accelerators"]
    return Catalog(tuple(_parse_entry(position, raw) for position, raw in enumerate(entries, start=1)))


def _parse_entry(position: int, raw: object) -> Accelerator:
    if not isinstance(raw, dict):
        raise CatalogError(f"entry #{position}: must be a mapping, got {type(raw).__name__}")
    where = f"entry #{position} ({raw['name']!r})" if "name" in raw else f"entry #{position}"
    missing = [f for f in _REQUIRED if f not in raw]
    if missing:
        raise CatalogError(f"{where}, field {missing[0]!r}: missing")
    unknown = sorted(str(f) for f in raw if f not in _REQUIRED + _OPTIONAL)
    if unknown:
        raise CatalogError(f"{where}, field {unknown[0]!r}: not a catalog field")
    aliases = raw.get("aliases", [])
    if not isinstance(aliases, list):
        raise CatalogError(f"{where}, field 'aliases': must be a list of names")
    return Accelerator(
        name=_text(where, "name", raw["name"]),
        vendor=_text(where, "vendor", raw["vendor"]),
        memory_gb=_positive_int(where, "memory_gb", raw["memory_gb"]),
        bf16_tflops=_positive_decimal(where, "bf16_tflops", raw["bf16_tflops"]),
        tdp_w=_positive_int(where, "tdp_w", raw["tdp_w"]),
        aliases=tuple(_text(where, "aliases", alias) for alias in aliases),
        notes=_text(where, "notes", raw["notes"]) if "notes" in raw else "",
    )


def _text(where: str, name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"{where}, field {name!r}: must be a non-empty string, got {value!r}")
    return value.strip()


def _positive_int(where: str, name: str, value: object) -> int:
    # bool is an int subclass; `memory_gb: yes` is a typo, not 1 GB.
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise CatalogError(f"{where}, field {name!r}: must be a positive integer, got {value!r}")
    return value


def _positive_decimal(where: str, name: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CatalogError(f"{where}, field {name!r}: must be a positive number, got {value!r}")
    try:
        # str() first so 989.4 becomes Decimal('989.4'), not the binary float's expansion.
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise CatalogError(f"{where}, field {name!r}: must be a positive number, got {value!r}") from exc
    if not number.is_finite() or number <= 0:
        raise CatalogError(f"{where}, field {name!r}: must be a positive number, got {value!r}")
    return number


@functools.cache
def default_catalog() -> Catalog:
    """The catalog packaged with suanli, read once."""
    data_file = importlib.resources.files("suanli.domain").joinpath("accelerators.yaml")
    return load_catalog(data_file.read_text(encoding="utf-8"))
