"""Node lists as networks (Alibaba GPU 2023 and spot GPU 2026 inventories): pools by model and node
size, catalog names where the catalog knows the model, and errors that name the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from suanli.sim import NetworkError, Pool, load_network, load_trace, make_policy, simulate
from suanli.sim.loaders.nodes import model_name

TRACES = Path("/work/shared/traces")

ALIBABA_2023 = """sn,cpu_milli,memory_mib,gpu,model
openb-node-0000,64000,262144,2,P100
openb-node-0001,64000,262144,2,P100
openb-node-0002,96000,786432,8,V100M32
openb-node-0003,96000,786432,8,V100M16
openb-node-0004,32000,131072,0,
openb-node-0005,96000,393216,8,G2
"""

ALIBABA_2026 = """gpu_model,gpu_capacity_num,cpu_num,node_name
A100-SXM4-80GB,8,128,0
A100-SXM4-80GB,8,128,1
GPU-series-1,1,192,2
H800,8,192,3
"""


def write(tmp_path: Path, text: str, name: str = "nodes.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("A100-SXM4-80GB", "A100"),
        ("h800", "H800"),
        ("V100M16", "V100"),
        ("V100M32", "V100"),
        ("T4", "T4"),
        ("G2", "G2"),
        ("GPU-series-1", "GPU-series-1"),
        ("P100", "P100"),
    ],
)
def test_models_take_the_catalog_name_or_keep_their_own(raw: str, name: str) -> None:
    assert model_name(raw) == name


def test_an_alibaba_2023_node_list_is_one_site_with_a_pool_per_model_and_node_size(tmp_path: Path) -> None:
    net = load_network(write(tmp_path, ALIBABA_2023, "openb_node_list_gpu_node.csv"))
    assert net.pools == (
        Pool("openb-node-list-gpu-node", "p100-x2", "P100", 4, 2, 2),
        Pool("openb-node-list-gpu-node", "v100-x8", "V100", 16, 2, 8),
        Pool("openb-node-list-gpu-node", "g2-x8", "G2", 8, 1, 8),
    )
    assert net.gpus == 28 and net.currency is None


def test_an_alibaba_2026_inventory_reads_its_own_columns(tmp_path: Path) -> None:
    net = load_network(write(tmp_path, ALIBABA_2026, "node_info_df.csv"))
    assert [(p.name, p.accelerator, p.nodes, p.gpus_per_node) for p in net.pools] == [
        ("a100-x8", "A100", 2, 8),
        ("gpu-series-1-x1", "GPU-series-1", 1, 1),
        ("h800-x8", "H800", 1, 8),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "nodes.csv: the file is empty"),
        ("host,cards\nn1,8\n", "nodes.csv:1: not a node list: expected the columns sn, gpu, model or"),
        ("sn,gpu,model\nn1,-2,T4\n", "nodes.csv:2: column 2 (gpu): -2 GPUs is negative"),
        ("sn,gpu,model\nn1,two,T4\n", "nodes.csv:2: column 2 (gpu): 'two' is not a whole number of GPUs"),
        ("sn,gpu,model\nn1,0,\n", "nodes.csv: no node with GPUs"),
    ],
)
def test_bad_node_lists_are_refused_naming_the_place(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(NetworkError) as caught:
        load_network(write(tmp_path, text))
    assert message in str(caught.value)


@pytest.mark.skipif(not (TRACES / "alibaba-gpu-v2023").exists(), reason="the shared traces are not here")
def test_the_alibaba_pods_replay_on_their_own_cluster() -> None:
    net = load_network(TRACES / "alibaba-gpu-v2023" / "openb_node_list_gpu_node.csv")
    assert net.gpus == 6212 and len(net.pools) == 10  # 1,213 GPU nodes of 7 models, 10 node sizes
    trace = load_trace(TRACES / "alibaba-gpu-v2023" / "openb_pod_list_default.csv", "alibaba", limit=300)
    run = simulate(trace, net, make_policy("easy", trace, net), name="easy")
    assert all(o.finish >= o.first_start >= 0 for o in run.outcomes)
