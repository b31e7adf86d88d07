"""Network files: what they describe, the shipped examples, and errors that name the line, pool and field,
all of them at once."""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from suanli.domain.catalog import default_catalog
from suanli.domain.money import Money
from suanli.sim import Network, NetworkError, Pool, load_network, parse_network
from suanli.sim.loaders.network_file import MAX_PROBLEMS

EXAMPLES = Path(__file__).parent.parent.parent / "examples" / "networks"
CATALOG = default_catalog().names()

GOOD: dict[str, Any] = {
    "sites": [
        {
            "name": "sh",
            "region": "shanghai",
            "pue": 1.3,
            "carbon_g_per_kwh": 580,
            "pools": [
                {
                    "name": "a100",
                    "accelerator": "a100-80gb",
                    "gpus": 16,
                    "nodes": 2,
                    "price_per_gpu_hour": "12.50",
                }
            ],
        },
        {
            "name": "wh",
            "pue": "1.1",
            "carbon_g_per_kwh": 300,
            "pools": [
                {
                    "name": "v100",
                    "accelerator": "V100",
                    "gpus": 8,
                    "price_per_gpu_hour": 4,
                    "currency": "cny",
                },
                {
                    "name": "h100",
                    "accelerator": "H100",
                    "gpus": 8,
                    "gpus_per_node": 8,
                    "price_per_gpu_hour": "21",
                },
            ],
        },
    ]
}


def with_change(path: str, value: object) -> str:
    """GOOD with the field at `path` (dots and [n]) set to `value`; `...` deletes it."""
    data = copy.deepcopy(GOOD)
    *parents, last = path.replace("[", ".").replace("]", "").split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is ...:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return yaml.safe_dump(data)


def test_pools_in_file_order_with_site_figures_copied_in() -> None:
    network = parse_network(yaml.safe_dump(GOOD), "net.yaml")
    assert network.pools == (
        Pool("sh", "a100", "A100", 16, 2, 8, "shanghai", Money(1250, "CNY"), Decimal("1.3"), 580),
        Pool("wh", "v100", "V100", 8, 1, 8, "", Money(400, "CNY"), Decimal("1.1"), 300),
        Pool("wh", "h100", "H100", 8, 1, 8, "", Money(2100, "CNY"), Decimal("1.1"), 300),
    )
    assert (network.gpus, network.sites, network.models, network.currency) == (
        32,
        ("sh", "wh"),
        ("A100", "V100", "H100"),
        "CNY",
    )


def test_gpus_shorthand_is_one_unpriced_pool() -> None:
    network = Network.single(472)
    assert network.sizes == (472,) and network.currency is None and network.source == "--gpus 472"


def test_shipped_examples_load() -> None:
    big = load_network(EXAMPLES / "shanghai-15.yaml")
    assert len(big.sites) == 15
    assert set(big.models) == {"A100", "H100", "V100"}
    assert max(big.sizes) >= 128  # the widest Philly job
    assert {p.pue for p in big.pools} >= {Decimal("1.1"), Decimal("1.6")}
    assert min(p.carbon_g_per_kwh or 0 for p in big.pools) == 300
    assert max(p.carbon_g_per_kwh or 0 for p in big.pools) == 800
    assert load_network(EXAMPLES / "small.yaml").gpus == 48


@pytest.mark.parametrize(
    ("path", "value", "says"),
    [
        ("sites", [], "sites: must be a non-empty list of sites, got a list of 0"),
        ("sites", ..., "sites: missing; required: a non-empty list of sites"),
        ("sites[1].pools[0].gpus", 0, "pool wh/v100: gpus: must be a positive integer, got 0"),
        ("sites[1].pools[0].gpus", True, "pool wh/v100: gpus: must be a positive integer"),
        (
            "sites[0].pools[0].accelerator",
            "Z9",
            "pool sh/a100: accelerator: unknown model 'Z9'; known: A100",
        ),
        (
            "sites[0].pools[0].price_per_gpu_hour",
            12.5,
            'pool sh/a100: price_per_gpu_hour: must be an amount written as a string, e.g. "12.50"',
        ),
        ("sites[0].pools[0].price_per_gpu_hour", "12.505", "more decimals than CNY allows"),
        (
            "sites[0].pools[0].price_per_gpu_hour",
            ...,
            'pool sh/a100: price_per_gpu_hour: missing; required: an amount written as a string, e.g. "12.50"',
        ),
        ("sites[0].pools[0].currency", "XYZ", "pool sh/a100: currency: unknown currency 'XYZ'"),
        (
            "sites[1].pools[1].currency",
            "USD",
            "pool wh/h100: currency: USD, but pool sh/a100 is priced in CNY; one network prices in one currency",
        ),
        ("sites[0].pue", 0.9, "site sh: pue: must be a number from 1 to 3"),
        ("sites[0].pue", ..., "site sh: pue: missing; required: a number from 1 to 3"),
        ("sites[0].carbon_g_per_kwh", -1, "site sh: carbon_g_per_kwh: must be an integer from 0 to 2,000"),
        (
            "sites[0].carbon_g_per_kwh",
            99999999999999999999,
            "site sh: carbon_g_per_kwh: must be an integer from 0 to 2,000, got 99999999999999999999",
        ),
        ("sites[0].pools[0].nodes", 3, "pool sh/a100: nodes: must divide gpus (16), got 3"),
        (
            "sites[1].pools[1].nodes",
            2,
            "pool wh/h100: gpus: must equal nodes × gpus_per_node (2 × 8), got 8",
        ),
        (
            "sites[0].pools[0].gpu",
            4,
            "pool sh/a100: gpu: not a known field (did you mean gpus?); allowed: name, accelerator",
        ),
        ("sites[1].name", "sh", "site sh: name: 'sh' is already the name of sites[0]"),
        ("sites[1].pools[1].name", "v100", "pool wh/v100: name: 'v100' is already the name of pools[0]"),
        ("sites[0].pools", {}, "site sh: pools: must be a non-empty list of pools"),
        ("sites[0]", "sh", "site sites[0]: must be a mapping with name, region"),
        ("sites[0].pools[0].name", "", "pool sh/pools[0]: name: must be a non-empty string, got ''"),
    ],
)
def test_errors_name_the_file_line_site_or_pool_and_field(path: str, value: object, says: str) -> None:
    with pytest.raises(NetworkError) as caught:
        parse_network(with_change(path, value), "net.yaml")
    assert re.match(r"net\.yaml:\d+: ", str(caught.value))
    assert says in str(caught.value)
    assert caught.value.problems == (str(caught.value),)  # one mistake, one problem


BROKEN = """\
sites:
  - name: sh
    pue: 0.5
    carbon_g_per_kwh: 580
    pools:
      - {name: a100, accelerator: Z9, gpus: 0}
      - name: v100
        accelerator: V100
        gpus: 16
        gpus_per_node: 3
        price_per_gpu_hour: 4.5
  - name: wh
    pue: 1.1
    pue: 1.2
    pools:
      - {name: h100, accelerator: H100, gpus: 8, price: "21.00"}
"""


def test_every_problem_is_reported_at_once_in_file_order() -> None:
    with pytest.raises(NetworkError) as caught:
        parse_network(BROKEN, "net.yaml")
    assert caught.value.problems == (
        "net.yaml:3: site sh: pue: must be a number from 1 to 3 (facility power / IT power), got 0.5",
        "net.yaml:6: pool sh/a100: accelerator: unknown model 'Z9'; known: " + ", ".join(CATALOG),
        "net.yaml:6: pool sh/a100: gpus: must be a positive integer, got 0",
        'net.yaml:6: pool sh/a100: price_per_gpu_hour: missing; required: an amount written as a string, e.g. "12.50" (per GPU-hour)',
        "net.yaml:10: pool sh/v100: gpus_per_node: must divide gpus (16), got 3",
        'net.yaml:11: pool sh/v100: price_per_gpu_hour: must be an amount written as a string, e.g. "12.50" (per GPU-hour), got 4.5',
        "net.yaml:12: site wh: carbon_g_per_kwh: missing; required: an integer from 0 to 2,000 (grams of CO2 per kWh)",
        "net.yaml:14: pue: given twice (YAML would silently keep the last one)",
        "net.yaml:16: pool wh/h100: price: not a known field (did you mean price_per_gpu_hour?); allowed: name, accelerator, gpus, nodes, gpus_per_node, price_per_gpu_hour, currency",
        'net.yaml:16: pool wh/h100: price_per_gpu_hour: missing; required: an amount written as a string, e.g. "12.50" (per GPU-hour)',
    )
    message = str(caught.value)
    assert message.startswith("net.yaml: 10 problems in the network file:\n")
    assert all(f"\n  {problem}" in message for problem in caught.value.problems)


def test_past_the_cap_the_message_says_how_many_more() -> None:
    pools = "\n".join(f"      - {{name: p{k}, accelerator: A100, gpus: 0}}" for k in range(15))
    text = f"sites:\n  - name: a\n    pue: 1.2\n    carbon_g_per_kwh: 500\n    pools:\n{pools}\n"
    with pytest.raises(NetworkError) as caught:
        parse_network(text, "net.yaml")
    assert len(caught.value.problems) == 30  # each pool: gpus refused, price missing
    lines = str(caught.value).splitlines()
    assert lines[0] == "net.yaml: 30 problems in the network file:"
    assert len(lines) == 1 + MAX_PROBLEMS + 1 and lines[-1] == f"  and {30 - MAX_PROBLEMS} more"


def test_unreadable_or_broken_files(tmp_path: Path) -> None:
    with pytest.raises(NetworkError, match="cannot read the network file"):
        load_network(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("sites: [\n", encoding="utf-8")
    with pytest.raises(NetworkError, match=r"broken.yaml: not valid YAML"):
        load_network(broken)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "sites:\n  - name: a\n    pue: 1.2\n    pue: 1.5\n    carbon_g_per_kwh: 500\n"
            "    pools: [{name: p, accelerator: A100, gpus: 8, price_per_gpu_hour: '1'}]\n",
            "net.yaml:4: pue: given twice",
        ),
        (
            "sites:\n  - name: a\n    pue: 1.2\n    carbon_g_per_kwh: 500\n"
            "    pools: [{name: p, accelerator: A100, gpus: 8, gpus: 16, price_per_gpu_hour: '1'}]\n",
            "net.yaml:5: gpus: given twice",
        ),
    ],
)
def test_a_key_given_twice_is_refused_not_silently_the_last(text: str, says: str) -> None:
    with pytest.raises(NetworkError) as caught:
        parse_network(text, "net.yaml")
    assert says in str(caught.value)


def test_a_network_file_may_start_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + (EXAMPLES / "small.yaml").read_bytes())
    assert load_network(path).gpus == 48
