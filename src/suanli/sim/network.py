"""The simulated network: sites (region, PUE, grid intensity) and their GPU pools (model, size, price).

Read from YAML (`load_network`, format in the package README) or made for one pool (`Network.single`,
what `--gpus N` means). Pools are numbered in file order (sites in order, each site's pools in order);
that order is the one the baselines scan, and a policy names a pool by its number. Money is parsed with
`suanli.domain.money` (integer minor units); one network prices in one currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from suanli.domain.catalog import default_catalog
from suanli.domain.money import DEFAULT_CURRENCY, EXPONENT, Money, parse_money
from suanli.sim.errors import NetworkError

__all__ = ["Network", "Pool", "load_network", "parse_network"]

SINGLE_MODEL = "A100"  # what `--gpus N` offers: a trace names no model
_TOP = ("sites",)
_SITE = ("name", "region", "pue", "carbon_g_per_kwh", "pools")
_POOL = ("name", "accelerator", "gpus", "nodes", "gpus_per_node", "price_per_gpu_hour", "currency")
_PUE_RANGE = (Decimal(1), Decimal(3))
MAX_CARBON_G_PER_KWH = 2_000  # above the dirtiest grids (coal-fired, about 1,000–1,200 g/kWh)


class _UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, refusing a mapping that gives a key twice (YAML's default: the last one wins,
    silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str | int | float | bool):
                continue  # an unhashable key: the validation below refuses it
            if key in seen:
                raise _Twice(key_node.start_mark.line + 1, str(key))
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _Twice(Exception):
    """A key given twice in one mapping, at `line`; `parse_network` adds the source."""

    def __init__(self, line: int, key: str) -> None:
        super().__init__(f"{line}: {key}: given twice (YAML would silently keep the last one)")


@dataclass(frozen=True, slots=True)
class Pool:
    """One pool of identical GPUs at one site, with the site's energy figures copied in."""

    site: str
    name: str
    accelerator: str
    gpus: int
    nodes: int = 1
    gpus_per_node: int = 0  # 0: one node holding all of them
    region: str = ""
    price: Money | None = None  # per GPU-hour; None: not priced (`--gpus`)
    pue: Decimal | None = None
    carbon_g_per_kwh: int | None = None

    @property
    def label(self) -> str:
        return f"{self.site}/{self.name}"


@dataclass(frozen=True)
class Network:
    """Pools in file order; `source` names where it came from (a path, or `--gpus N`)."""

    source: str
    pools: tuple[Pool, ...]

    @classmethod
    def single(cls, gpus: int) -> Network:
        """One site with one pool of `gpus` GPUs, unpriced and without energy figures."""
        return cls(f"--gpus {gpus}", (Pool("sim", "pool", SINGLE_MODEL, gpus, 1, gpus),))

    @property
    def gpus(self) -> int:
        return sum(p.gpus for p in self.pools)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(p.gpus for p in self.pools)

    @property
    def sites(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.site for p in self.pools))

    @property
    def models(self) -> tuple[str, ...]:
        """The accelerator models offered, in file order of first appearance."""
        return tuple(dict.fromkeys(p.accelerator for p in self.pools))

    @property
    def currency(self) -> str | None:
        priced = [p.price.currency for p in self.pools if p.price is not None]
        return priced[0] if priced else None


def load_network(path: Path) -> Network:
    """Read and validate a network file; `NetworkError` names the file and the field path. A `.csv`
    file is a cluster's node list (`sim.loaders.nodes`): one site, a pool per model and node size."""
    if path.suffix.lower() == ".csv":
        from suanli.sim.loaders.nodes import load_nodes  # the loaders import this module

        return load_nodes(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise NetworkError(f"{path}: cannot read the network file: {exc}") from exc
    return parse_network(text, str(path))


def parse_network(text: str, source: str = "<network>") -> Network:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except _Twice as exc:
        raise NetworkError(f"{source}:{exc}") from None
    except yaml.YAMLError as exc:
        raise NetworkError(f"{source}: not valid YAML: {exc}") from exc
    try:
        pools = _network(data)
    except _Invalid as exc:
        raise NetworkError(f"{source}: {exc}") from None
    return Network(source, pools)


class _Invalid(Exception):
    """A field path and what is wrong with it; `parse_network` adds the source."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}")


def _network(data: object) -> tuple[Pool, ...]:
    top = _mapping("(top level)", data, _TOP)
    sites = top.get("sites")
    if not isinstance(sites, list) or not sites:
        raise _Invalid("sites", "must be a non-empty list of sites")
    pools: list[Pool] = []
    names: set[str] = set()
    for i, raw in enumerate(sites):
        where = f"sites[{i}]"
        site_pools = _site(where, raw)
        if site_pools[0].site in names:
            raise _Invalid(f"{where}.name", f"{site_pools[0].site!r} is already the name of another site")
        names.add(site_pools[0].site)
        pools += site_pools
    currencies = {p.price.currency for p in pools if p.price is not None}
    if len(currencies) > 1:
        raise _Invalid("sites", f"pools are priced in {', '.join(sorted(currencies))}: use one currency")
    return tuple(pools)


def _site(where: str, raw: object) -> list[Pool]:
    site = _mapping(where, raw, _SITE)
    for field in ("name", "pue", "carbon_g_per_kwh", "pools"):
        if field not in site:
            raise _Invalid(f"{where}.{field}", "missing")
    name = _text(f"{where}.name", site["name"])
    region = _text(f"{where}.region", site["region"]) if "region" in site else ""
    pue = _pue(f"{where}.pue", site["pue"])
    carbon = _count(f"{where}.carbon_g_per_kwh", site["carbon_g_per_kwh"], low=0, high=MAX_CARBON_G_PER_KWH)
    raw_pools = site["pools"]
    if not isinstance(raw_pools, list) or not raw_pools:
        raise _Invalid(f"{where}.pools", "must be a non-empty list of pools")
    pools: list[Pool] = []
    for k, raw_pool in enumerate(raw_pools):
        pool = _pool(f"{where}.pools[{k}]", raw_pool, name, region, pue, carbon)
        if any(p.name == pool.name for p in pools):
            raise _Invalid(f"{where}.pools[{k}].name", f"{pool.name!r} is already a pool of this site")
        pools.append(pool)
    return pools


def _pool(where: str, raw: object, site: str, region: str, pue: Decimal, carbon: int) -> Pool:
    pool = _mapping(where, raw, _POOL)
    for field in ("name", "accelerator", "gpus", "price_per_gpu_hour"):
        if field not in pool:
            raise _Invalid(f"{where}.{field}", "missing")
    model = _text(f"{where}.accelerator", pool["accelerator"])
    found = default_catalog().find(model)
    if found is None:
        known = ", ".join(default_catalog().names())
        raise _Invalid(f"{where}.accelerator", f"unknown model {model!r}; known: {known}")
    gpus = _count(f"{where}.gpus", pool["gpus"])
    nodes, per_node = _shape(where, pool, gpus)
    return Pool(
        site=site,
        name=_text(f"{where}.name", pool["name"]),
        accelerator=found.name,
        gpus=gpus,
        nodes=nodes,
        gpus_per_node=per_node,
        region=region,
        price=_price(where, pool),
        pue=pue,
        carbon_g_per_kwh=carbon,
    )


def _shape(where: str, pool: Mapping[str, Any], gpus: int) -> tuple[int, int]:
    """(nodes, GPUs per node): both given must multiply to `gpus`; one given must divide it."""
    nodes = _count(f"{where}.nodes", pool["nodes"]) if "nodes" in pool else None
    per = _count(f"{where}.gpus_per_node", pool["gpus_per_node"]) if "gpus_per_node" in pool else None
    if nodes is None and per is None:
        return 1, gpus
    if nodes is not None and per is not None:
        if nodes * per != gpus:
            raise _Invalid(f"{where}.gpus", f"must equal nodes × gpus_per_node ({nodes} × {per}), got {gpus}")
        return nodes, per
    given, name = (nodes, "nodes") if nodes is not None else (per, "gpus_per_node")
    assert given is not None
    if gpus % given:
        raise _Invalid(f"{where}.{name}", f"must divide gpus ({gpus}), got {given}")
    return (given, gpus // given) if name == "nodes" else (gpus // given, given)


def _price(where: str, pool: Mapping[str, Any]) -> Money:
    currency = DEFAULT_CURRENCY
    if "currency" in pool:
        currency = _text(f"{where}.currency", pool["currency"]).upper()
        if currency not in EXPONENT:
            raise _Invalid(
                f"{where}.currency", f"unknown currency {currency!r}; allowed: {', '.join(EXPONENT)}"
            )
    raw = pool["price_per_gpu_hour"]
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise _Invalid(
            f"{where}.price_per_gpu_hour", f'must be an amount written as a string, e.g. "12.50", got {raw!r}'
        )
    try:
        money = parse_money(str(raw), currency)
    except ValueError as exc:
        raise _Invalid(f"{where}.price_per_gpu_hour", str(exc)) from None
    if money.currency != currency:
        raise _Invalid(
            f"{where}.price_per_gpu_hour", f"is in {money.currency}; the pool's currency is {currency}"
        )
    return money


def _mapping(where: str, raw: object, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise _Invalid(where, f"must be a mapping with {', '.join(allowed)}")
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        raise _Invalid(f"{where}.{unknown[0]}", f"not a known field; allowed: {', '.join(allowed)}")
    return raw


def _text(where: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(where, f"must be a non-empty string, got {value!r}")
    return value.strip()


def _count(where: str, value: object, low: int = 1, high: int | None = None) -> int:
    # bool is an int subclass: `gpus: yes` is a typo, not 1.
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        kind = "a positive integer" if low == 1 else f"an integer ≥ {low}"
        if high is not None:
            kind = f"an integer from {low} to {high:,}"
        raise _Invalid(where, f"must be {kind}, got {value!r}")
    return value


def _pue(where: str, value: object) -> Decimal:
    low, high = _PUE_RANGE
    message = f"must be a number from {low} to {high} (facility power / IT power), got {value!r}"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Invalid(where, message)
    try:
        number = Decimal(str(value))  # str() first: 1.3 becomes Decimal('1.3'), not the float's expansion
    except InvalidOperation:
        raise _Invalid(where, message) from None
    if not number.is_finite() or not low <= number <= high:
        raise _Invalid(where, message)
    return number
