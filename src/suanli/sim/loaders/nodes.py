"""Node inventories as networks: a cluster's node list becomes one site whose pools group its nodes.

Two formats, told apart by their header:

| format | file | columns read |
|---|---|---|
| Alibaba GPU 2023 (Weng et al., ATC '23) | `openb_node_list_gpu_node.csv`, `openb_node_list_all_node.csv` | `sn, gpu, model` |
| Alibaba spot GPU 2026 (Duan et al., ASPLOS '26) | `node_info_df.csv` | `node_name, gpu_capacity_num, gpu_model` |

Nodes with the same model and GPU count form one pool (`nodes` × `gpus_per_node`), named after the
model and the count (`t4-x2`), in order of first appearance; nodes without GPUs are skipped and counted.
Model names the accelerator catalog knows (`A100-SXM4-80GB`, `H800`, `T4`) become its canonical
names; Alibaba's memory-suffixed V100s (`V100M16`, `V100M32`) are V100s; names the traces anonymise
(`G2`, `GPU-series-1`) or the catalog lacks (`P100`) are kept as they are: such pools schedule like any
other, but have no energy figures. The site has no prices, PUE or grid intensity (the file gives none).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from suanli.domain.catalog import default_catalog
from suanli.sim.errors import NetworkError, TraceError
from suanli.sim.loaders.records import Skips, columns, opened, whole
from suanli.sim.network import Network, Pool

__all__ = ["FORMATS", "load_nodes", "model_name"]

# format → (node id, GPU count, model) columns
FORMATS = {
    "alibaba-2023": ("sn", "gpu", "model"),
    "alibaba-2026": ("node_name", "gpu_capacity_num", "gpu_model"),
}
_MEMORY_SUFFIX = re.compile(r"^(.+?)M\d+$")  # V100M16: a V100 with 16 GB


def model_name(raw: str) -> str:
    """The catalog's name for a node list's model, or the name as given when the catalog lacks it."""
    catalog = default_catalog()
    found = catalog.find(raw)
    if found is None and (suffixed := _MEMORY_SUFFIX.match(raw)):
        found = catalog.find(suffixed.group(1))
    return found.name if found is not None else raw


def load_nodes(path: Path) -> Network:
    """The node list at `path` as a one-site network; `NetworkError` names the file and line."""
    try:
        return _load(path)
    except TraceError as exc:
        raise NetworkError(str(exc)) from None


def _load(path: Path) -> Network:
    with opened(path) as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise TraceError(f"{path}: the file is empty (expected a header line)")
        names = {h.strip() for h in header}
        fmt = next((f for f, cols in FORMATS.items() if set(cols) <= names), None)
        if fmt is None:
            expected = " or ".join(", ".join(cols) for cols in FORMATS.values())
            raise TraceError(f"{path}:1: not a node list: expected the columns {expected}")
        node, count, model = FORMATS[fmt]
        groups: dict[tuple[str, int], int] = {}
        skips = Skips()
        for _, cell in columns(path, iter([header, *reader]), (node, count, model), ", ".join(FORMATS[fmt])):
            gpus = whole(*cell[count], "a whole number of GPUs")
            if gpus < 0:
                raise TraceError(f"{cell[count][1]}: {gpus} GPUs is negative")
            if gpus == 0 or not cell[model][0]:
                skips.add("nodes without GPUs")
                continue
            key = (model_name(cell[model][0]), gpus)
            groups[key] = groups.get(key, 0) + 1
    if not groups:
        raise NetworkError(f"{path}: no node with GPUs")
    site = re.sub(r"[^a-z0-9-]+", "-", path.stem.lower()).strip("-") or "cluster"
    pools = tuple(
        Pool(site, f"{name.lower()}-x{per_node}", name, per_node * nodes, nodes, per_node)
        for (name, per_node), nodes in groups.items()
    )
    return Network(str(path), pools)
