"""Accelerator requirements: "any model with at least 80 GB" instead of a list of model names.

In a job spec, `resources.accelerators` takes `MODEL:COUNT`, a list of those, or a requirement in the
same place: `any[memory>=80GB]:8`, `any[cu>=2]:4`, `any[vendor=NVIDIA, memory>=40GB]:2`, or plain
`any:1`. A requirement stands for every catalog model that meets all of its terms, in catalog order,
so the scheduler sees the same thing as for a list of acceptable models:

| term | meaning |
|---|---|
| `memory>=N` or `memory>=NGB` | at least N GB of device memory |
| `cu>=N` | at least N compute units (1 CU = one A100's dense BF16 throughput; decimals allowed) |
| `vendor=NAME` | made by NAME (any case): `NVIDIA`, `AMD`, `Huawei`, `Intel` |
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from suanli.domain.catalog import Catalog

__all__ = ["ANY", "TERMS", "RequirementError", "models_meeting"]

ANY = "any"
TERMS = "memory>=N GB, cu>=N, vendor=NAME"
_FORM = re.compile(r"^any\s*(?:\[(?P<terms>[^\]]*)\])?$", re.IGNORECASE)
_TERM = re.compile(r"^(?P<key>[a-z_]+)\s*(?P<op>>=|=)\s*(?P<value>.+)$", re.IGNORECASE)
_GB = re.compile(r"^(\d+)\s*(?:GB)?$", re.IGNORECASE | re.ASCII)


class RequirementError(ValueError):
    """A requirement that cannot be read or that no catalog model meets; the message says why."""


def is_requirement(model: str) -> bool:
    """Whether the model part of `MODEL:COUNT` is a requirement (`any`, `any[...]`)."""
    return model.strip().lower().startswith(ANY) and bool(_FORM.match(model.strip()))


def models_meeting(model: str, catalog: Catalog) -> tuple[str, ...]:
    """The catalog models (canonical names, catalog order) that meet the requirement `model`."""
    found = _FORM.match(model.strip())
    if found is None:
        raise RequirementError(f"{model!r} is not a requirement; write any[{TERMS}]")
    min_memory, min_cu, vendor = None, None, None
    for raw in (found.group("terms") or "").split(","):
        if not raw.strip():
            continue
        term = _TERM.match(raw.strip())
        key = term.group("key").lower() if term else ""
        op = term.group("op") if term else ""
        value = term.group("value").strip() if term else ""
        if key == "memory" and op == ">=":
            gb = _GB.match(value)
            if gb is None:
                raise RequirementError(f"memory>={value}: give whole GB, e.g. memory>=80GB")
            min_memory = int(gb.group(1))
        elif key == "cu" and op == ">=":
            try:
                min_cu = Decimal(value)
            except InvalidOperation:
                raise RequirementError(f"cu>={value}: give a number, e.g. cu>=2") from None
            if not min_cu.is_finite() or min_cu < 0:
                raise RequirementError(f"cu>={value}: give a number ≥ 0, e.g. cu>=2")
        elif key == "vendor" and op == "=":
            vendor = value.lower()
        else:
            raise RequirementError(f"unknown requirement {raw.strip()!r}; allowed: {TERMS}")
    models = tuple(
        acc.name
        for acc in catalog.matching(min_memory, min_cu)
        if vendor is None or acc.vendor.lower() == vendor
    )
    if not models:
        raise RequirementError(f"no accelerator in the catalog meets {model.strip()!r}")
    return models
