"""The simulated network: sites (region, PUE, grid intensity) and their GPU pools (model, size, price).

Read from a file (`load_network`: YAML, checked by `loaders.network_file`, every field described in
`examples/networks/README.md`; or a `.csv` node list, `loaders.nodes`) or made for one pool
(`Network.single`, what `--gpus N` means). Pools are numbered in file order (sites in order, each
site's pools in order); that order is the one the baselines scan, and a policy names a pool by its
number. Money is integer minor units (`suanli.domain.money`); one network prices in one currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from suanli.domain.money import Money
from suanli.sim.errors import NetworkError

__all__ = ["Network", "Pool", "load_network", "parse_network"]

SINGLE_MODEL = "A100"  # what `--gpus N` offers: a trace names no model


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
    price: Money | None = None  # per GPU-hour; None: not priced (`--gpus`, a node list)
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
    """Read and validate a network file; `NetworkError` names every problem found by file, line, site
    or pool, and field. A `.csv` file is a cluster's node list (`sim.loaders.nodes`): one site, a pool
    per model and node size."""
    if path.suffix.lower() == ".csv":
        from suanli.sim.loaders.nodes import load_nodes  # the loaders import this module

        return load_nodes(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise NetworkError(f"{path}: cannot read the network file: {exc}") from exc
    return parse_network(text, str(path))


def parse_network(text: str, source: str = "<network>") -> Network:
    """The network a YAML text describes; `NetworkError` with every problem found in it."""
    from suanli.sim.loaders.network_file import parse_pools  # the loaders import this module

    return Network(source, parse_pools(text, source))
