"""Network files (YAML) checked in one pass: every problem found is reported at once, each as
`file:line: pool site/name: field: what is wrong, what is allowed`, not only the first.

The format, every field, which are required and their defaults: `examples/networks/README.md`. A key
given twice in one mapping is a problem (YAML would keep the last one silently). A `NetworkError`
holds them all in `problems`, in file order; its message says the first `MAX_PROBLEMS` and how many
more.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import yaml

from suanli.domain.catalog import default_catalog
from suanli.domain.money import DEFAULT_CURRENCY, EXPONENT, Money, parse_money
from suanli.sim.errors import NetworkError
from suanli.sim.network import Pool

__all__ = ["MAX_CARBON_G_PER_KWH", "MAX_PROBLEMS", "parse_pools"]

MAX_PROBLEMS = 20  # a file with more is mostly one mistake repeated: the first ones, then "and N more"
_TOP = ("sites",)
_SITE = ("name", "region", "pue", "carbon_g_per_kwh", "pools")
_POOL = ("name", "accelerator", "gpus", "nodes", "gpus_per_node", "price_per_gpu_hour", "currency")
_SITE_REQUIRED = ("name", "pue", "carbon_g_per_kwh", "pools")
_POOL_REQUIRED = ("name", "accelerator", "gpus", "price_per_gpu_hour")
_PUE_RANGE = (Decimal(1), Decimal(3))
MAX_CARBON_G_PER_KWH = 2_000  # above the dirtiest grids (coal-fired, about 1,000–1,200 g/kWh)
_WANTED = {
    "sites": "a non-empty list of sites",
    "pools": "a non-empty list of pools",
    "name": "a non-empty string",
    "pue": f"a number from {_PUE_RANGE[0]} to {_PUE_RANGE[1]} (facility power / IT power)",
    "carbon_g_per_kwh": f"an integer from 0 to {MAX_CARBON_G_PER_KWH:,} (grams of CO2 per kWh)",
    "accelerator": "a model of the accelerator catalog, e.g. A100",
    "gpus": "a positive integer",
    "price_per_gpu_hour": 'an amount written as a string, e.g. "12.50" (per GPU-hour)',
}
"""What a required field must be, as a "missing" problem says it."""

_Where = tuple[str | int, ...]
"""A place in the document: its keys and list indices from the top (`("sites", 0, "pue")`)."""
_T = TypeVar("_T")


class _UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, noting each key a mapping gives twice (YAML's default: the last one wins,
    silently) in `twice` as (line, key)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.twice: list[tuple[int, str]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str | int | float | bool):
                continue  # an unhashable key: the validation refuses it
            if key in seen:
                self.twice.append((key_node.start_mark.line + 1, str(key)))
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_pools(text: str, source: str) -> tuple[Pool, ...]:
    """The pools a network file's text describes, in file order; `NetworkError` with every problem found
    (`source` names the file in each)."""
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise NetworkError(f"{source}: not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    found = _Found(source, _lines(node))
    for line, key in loader.twice:
        found.at(line, f"{key}: given twice (YAML would silently keep the last one)")
    pools = _network(found, data)
    if found.problems:
        raise NetworkError(found.message(), found.texts())
    return pools


def _lines(root: yaml.Node | None) -> dict[_Where, int]:
    """The line (from 1) each part of the document starts on, by its place; a mapping's entry is placed
    at its key's line. A node reached again through an alias is not walked twice (it may hold itself)."""
    lines: dict[_Where, int] = {}
    todo: list[tuple[_Where, yaml.Node, int]] = [] if root is None else [((), root, root.start_mark.line + 1)]
    walked: set[int] = set()
    while todo:
        where, node, line = todo.pop()
        lines[where] = line
        if id(node) in walked:
            continue
        walked.add(id(node))
        if isinstance(node, yaml.MappingNode):
            todo += [
                ((*where, key.value), value, key.start_mark.line + 1)
                for key, value in node.value
                if isinstance(key, yaml.ScalarNode)
            ]
        elif isinstance(node, yaml.SequenceNode):
            todo += [((*where, k), item, item.start_mark.line + 1) for k, item in enumerate(node.value)]
    return lines


class _Bad(Exception):
    """What is wrong with one value, and what is allowed (`must be a positive integer, got 0`)."""


class _Found:
    """The problems found in one pass over a network file, each placed at its line and named by the
    site or pool it belongs to."""

    def __init__(self, source: str, lines: dict[_Where, int]) -> None:
        self.source = source
        self._lines = lines
        self.problems: list[tuple[int, str]] = []

    def add(self, where: _Where, who: str, what: str) -> None:
        """`what` (`field: what is wrong`) about `who` (`pool sh/a100`), at the line of `where` or, where
        the file has no such place (a missing field), of the nearest one enclosing it."""
        while where and where not in self._lines:
            where = where[:-1]
        self.at(self._lines.get(where, 1), f"{who}: {what}" if who else what)

    def at(self, line: int, what: str) -> None:
        self.problems.append((line, f"{self.source}:{line}: {what}"))

    def need(self, where: _Where, who: str, raw: Mapping[str, Any], names: tuple[str, ...]) -> None:
        for name in names:
            if name not in raw:
                self.add(where, who, f"{name}: missing; required: {_WANTED[name]}")

    def unknown(self, where: _Where, who: str, raw: Mapping[Any, Any], allowed: tuple[str, ...]) -> None:
        for key in (k for k in raw if k not in allowed):
            close = difflib.get_close_matches(str(key), allowed, n=1) or [
                name
                for name in allowed
                if key and name.startswith(str(key))  # `price`: price_per_gpu_hour
            ]
            hint = f" (did you mean {close[0]}?)" if close else ""
            self.add(
                (*where, str(key)), who, f"{key}: not a known field{hint}; allowed: {', '.join(allowed)}"
            )

    def read(
        self, where: _Where, who: str, raw: Mapping[str, Any], name: str, parse: Callable[[object], _T]
    ) -> _T | None:
        """`raw[name]` parsed; None when it is absent (`need` says so if it is required) or refused."""
        if name not in raw:
            return None
        try:
            return parse(raw[name])
        except _Bad as exc:
            self.add((*where, name), who, f"{name}: {exc}")
            return None

    def texts(self) -> tuple[str, ...]:
        return tuple(text for _, text in sorted(self.problems, key=lambda p: p[0]))

    def message(self) -> str:
        """One problem as one line; several as a count, then one line each, the first `MAX_PROBLEMS`."""
        texts = self.texts()
        if len(texts) == 1:
            return texts[0]
        shown = "\n".join(f"  {text}" for text in texts[:MAX_PROBLEMS])
        more = f"\n  and {len(texts) - MAX_PROBLEMS:,} more" if len(texts) > MAX_PROBLEMS else ""
        return f"{self.source}: {len(texts):,} problems in the network file:\n{shown}{more}"


def _network(found: _Found, data: object) -> tuple[Pool, ...]:
    if not isinstance(data, dict):
        found.add((), "", f"the file must be a mapping with {', '.join(_TOP)}, got {_kind(data)}")
        return ()
    found.unknown((), "", data, _TOP)
    sites = data.get("sites")
    if "sites" not in data:
        found.need((), "", data, _TOP)
    elif not isinstance(sites, list) or not sites:
        found.add(("sites",), "", f"sites: must be {_WANTED['sites']}, got {_kind(sites)}")
    placed: list[tuple[_Where, Pool]] = []
    names: dict[str, int] = {}
    for i, raw in enumerate(sites if isinstance(sites, list) else []):
        placed += _site(found, i, raw, names)
    _one_currency(found, placed)
    return tuple(pool for _, pool in placed)


def _site(found: _Found, i: int, raw: object, names: dict[str, int]) -> list[tuple[_Where, Pool]]:
    """The site's pools, each with its place in the file; `names` maps the names of the sites before
    it to their index."""
    where: _Where = ("sites", i)
    if not isinstance(raw, dict):
        found.add(where, f"site sites[{i}]", f"must be a mapping with {', '.join(_SITE)}, got {_kind(raw)}")
        return []
    name = found.read(where, f"site sites[{i}]", raw, "name", _text)
    who = f"site {name or f'sites[{i}]'}"
    found.unknown(where, who, raw, _SITE)
    if name is not None and name in names:
        found.add(
            (*where, "name"),
            who,
            f"name: {name!r} is already the name of sites[{names[name]}]; site names are unique",
        )
    elif name is not None:
        names[name] = i
    region = found.read(where, who, raw, "region", _text) or ""
    pue = found.read(where, who, raw, "pue", _pue)
    carbon = found.read(where, who, raw, "carbon_g_per_kwh", _carbon)
    found.need(where, who, raw, _SITE_REQUIRED)
    raw_pools = raw.get("pools")
    if "pools" in raw and (not isinstance(raw_pools, list) or not raw_pools):
        found.add((*where, "pools"), who, f"pools: must be {_WANTED['pools']}, got {_kind(raw_pools)}")
    placed: list[tuple[_Where, Pool]] = []
    pool_names: dict[str, int] = {}
    site = _Site(name or f"sites[{i}]", region, pue, carbon)
    for k, raw_pool in enumerate(raw_pools if isinstance(raw_pools, list) else []):
        pool = _pool(found, (*where, "pools", k), raw_pool, site, pool_names)
        if pool is not None:
            placed.append(((*where, "pools", k), pool))
    return placed


@dataclass(frozen=True)
class _Site:
    """What a pool copies from its site (None: the site's field is missing or refused)."""

    name: str
    region: str
    pue: Decimal | None
    carbon: int | None


def _pool(found: _Found, where: _Where, raw: object, site: _Site, names: dict[str, int]) -> Pool | None:
    """The pool at `where`, or None when any of its fields is missing or refused (each problem added);
    `names` maps the names of the site's pools before it to their index."""
    k = where[-1]
    if not isinstance(raw, dict):
        found.add(
            where,
            f"pool {site.name}/pools[{k}]",
            f"must be a mapping with {', '.join(_POOL)}, got {_kind(raw)}",
        )
        return None
    name = found.read(where, f"pool {site.name}/pools[{k}]", raw, "name", _text)
    who = f"pool {site.name}/{name or f'pools[{k}]'}"
    found.unknown(where, who, raw, _POOL)
    if name is not None and name in names:
        found.add(
            (*where, "name"),
            who,
            f"name: {name!r} is already the name of pools[{names[name]}] of this site; pool names are unique within a site",
        )
    elif name is not None:
        names[name] = int(k)
    model = found.read(where, who, raw, "accelerator", _model)
    gpus = found.read(where, who, raw, "gpus", _count)
    nodes = found.read(where, who, raw, "nodes", _count)
    per_node = found.read(where, who, raw, "gpus_per_node", _count)
    shape = _shape(found, where, who, gpus, nodes, per_node)
    currency = found.read(where, who, raw, "currency", _currency) or DEFAULT_CURRENCY
    price = found.read(where, who, raw, "price_per_gpu_hour", lambda value: _price(value, currency))
    found.need(where, who, raw, _POOL_REQUIRED)
    if name is None or model is None or gpus is None or shape is None or price is None:
        return None
    return Pool(site.name, name, model, gpus, *shape, site.region, price, site.pue, site.carbon)


def _shape(
    found: _Found, where: _Where, who: str, gpus: int | None, nodes: int | None, per: int | None
) -> tuple[int, int] | None:
    """(nodes, GPUs per node): both given must multiply to `gpus`; one given must divide it; neither:
    one node holding them all. None when they do not fit (the problem added) or `gpus` is unknown."""
    if gpus is None:
        return None
    if nodes is None and per is None:
        return 1, gpus
    if nodes is not None and per is not None:
        if nodes * per != gpus:
            found.add(
                (*where, "gpus"), who, f"gpus: must equal nodes × gpus_per_node ({nodes} × {per}), got {gpus}"
            )
            return None
        return nodes, per
    given, name = (nodes, "nodes") if nodes is not None else (per, "gpus_per_node")
    assert given is not None
    if gpus % given:
        found.add((*where, name), who, f"{name}: must divide gpus ({gpus}), got {given}")
        return None
    return (given, gpus // given) if name == "nodes" else (gpus // given, given)


def _one_currency(found: _Found, placed: list[tuple[_Where, Pool]]) -> None:
    """A problem at each pool priced in another currency than the first priced pool."""
    first = next((pool for _, pool in placed if pool.price is not None), None)
    if first is None or first.price is None:
        return
    for where, pool in placed:
        if pool.price is not None and pool.price.currency != first.price.currency:
            found.add(
                (*where, "currency"),
                f"pool {pool.label}",
                f"currency: {pool.price.currency}, but pool {first.label} is priced in "
                f"{first.price.currency}; one network prices in one currency (a pool without "
                f"currency is {DEFAULT_CURRENCY})",
            )


def _kind(value: object) -> str:
    """What a value the file gave is, for "got …": short even when the value is a long list."""
    if value is None:
        return "nothing"
    if isinstance(value, list | dict):
        return f"a {'list' if isinstance(value, list) else 'mapping'} of {len(value)}"
    return repr(value)


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"must be {_WANTED['name']}, got {_kind(value)}")
    return value.strip()


def _model(value: object) -> str:
    found = default_catalog().find(_text(value))
    if found is None:
        raise _Bad(f"unknown model {value!r}; known: {', '.join(default_catalog().names())}")
    return found.name


def _count(value: object, low: int = 1, high: int | None = None) -> int:
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
        raise _Bad(f"must be {kind}, got {_kind(value)}")
    return value


def _carbon(value: object) -> int:
    return _count(value, low=0, high=MAX_CARBON_G_PER_KWH)


def _pue(value: object) -> Decimal:
    low, high = _PUE_RANGE
    message = f"must be {_WANTED['pue']}, got {_kind(value)}"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Bad(message)
    try:
        number = Decimal(str(value))  # str() first: 1.3 becomes Decimal('1.3'), not the float's expansion
    except InvalidOperation:
        raise _Bad(message) from None
    if not number.is_finite() or not low <= number <= high:
        raise _Bad(message)
    return number


def _currency(value: object) -> str:
    currency = _text(value).upper()
    if currency not in EXPONENT:
        raise _Bad(f"unknown currency {currency!r}; allowed: {', '.join(EXPONENT)}")
    return currency


def _price(value: object, currency: str) -> Money:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Bad(f"must be {_WANTED['price_per_gpu_hour']}, got {_kind(value)}")
    try:
        money = parse_money(str(value), currency)
    except ValueError as exc:
        raise _Bad(str(exc)) from None
    if money.currency != currency:
        raise _Bad(f"is in {money.currency}; the pool's currency is {currency}")
    return money
