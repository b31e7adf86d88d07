"""The `--pool` grammar and GPU discovery."""

from __future__ import annotations

import pytest

from suanli.agent.pools import LocalPool, Machine, discover_pools, model_name, parse_pool, parse_pools

MACHINE = Machine(cpus=8, memory_mib=32768)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("cpu:2", LocalPool("cpu", None, (), 2, 32768)),
        ("cpu:2,memory=4Gi", LocalPool("cpu", None, (), 2, 4096)),
        ("A100:4", LocalPool("a100", "A100", (0, 1, 2, 3), 8, 32768)),
        ("a100:1", LocalPool("a100", "A100", (0,), 8, 32768)),
        ("big=H100:8", LocalPool("big", "H100", tuple(range(8)), 8, 32768)),
        ("A100:4,cpus=16,memory=64Gi", LocalPool("a100", "A100", (0, 1, 2, 3), 16, 65536)),
        ("small=cpu:1,memory=512Mi", LocalPool("small", None, (), 1, 512)),
        ("cpu:1,memory=8G", LocalPool("cpu", None, (), 1, 8192)),  # as a job spec reads it
        (" L40S:2 , memory=1Ti ", LocalPool("l40s", "L40S", (0, 1), 8, 1024 * 1024)),
    ],
)
def test_pool_values_parse(value: str, expected: LocalPool) -> None:
    assert parse_pool(value, MACHINE) == expected


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("A100", "COUNT must be a whole number"),
        ("A100:0", "COUNT must be a whole number"),
        ("A100:two", "COUNT must be a whole number"),
        ("cpu:-1", "COUNT must be a whole number"),
        (":4", "is not an accelerator model"),
        ("Big=A100:4", "pool name 'Big'"),
        ("a b=A100:4", "pool name 'a b'"),
        ("A100:4,gpus=2", "unknown option 'gpus=2'"),
        ("A100:4,cpus", "unknown option 'cpus'"),
        ("A100:4,cpus=0", "cpus must be a whole number"),
        ("A100:4,memory=16GB", "memory must be a size"),
        ("A100:4,memory=16", "memory must be a size"),
        ("cpu:2,cpus=4", "a cpu pool's size is its COUNT"),
        ("cpu:2 A100:4", "one pool per --pool; for several, repeat it: --pool cpu:2 --pool A100:4"),
        ("B300:8", "'B300' is not a model the network knows (job specs name these: "),  # once offered, unused
    ],
)
def test_bad_pool_values_name_the_value_and_the_allowed_forms(value: str, complaint: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_pool(value, MACHINE)
    message = str(caught.value)
    assert repr(value) in message and complaint in message
    assert "NAME=KIND:COUNT" in message


def test_pool_names_must_be_unique() -> None:
    with pytest.raises(ValueError, match="'a100' is given twice"):
        parse_pools(["A100:1", "A100:2"], MACHINE)
    assert [p.name for p in parse_pools(["A100:1", "x=A100:2", "cpu:1"], MACHINE)] == ["a100", "x", "cpu"]


def test_the_machine_is_detected() -> None:
    machine = Machine.detect()
    assert machine.cpus >= 1 and machine.memory_mib >= 1
    assert parse_pool("cpu:1").memory_mib == machine.memory_mib


@pytest.mark.parametrize(
    ("name", "memory", "model"),
    [
        ("NVIDIA A100-SXM4-80GB", 81920, "A100"),
        ("NVIDIA A100-SXM4-40GB", 40960, "A100-40GB"),
        ("NVIDIA A100 80GB PCIe", 81920, "A100"),
        ("NVIDIA H100 80GB HBM3", 81559, "H100"),
        ("NVIDIA H100 PCIe", None, "H100"),
        ("Tesla V100-SXM2-32GB", None, "V100"),
        ("Tesla T4", None, "T4"),
        ("NVIDIA GeForce RTX 4090", None, "RTX4090"),
        ("NVIDIA L40S", None, "L40S"),
        ("AMD Instinct MI300X", None, "MI300X"),
    ],
)
def test_gpu_names_become_short_model_names(name: str, memory: int | None, model: str) -> None:
    assert model_name(name, memory) == model


def test_discovery_makes_one_pool_per_gpu_model() -> None:
    output = (
        "0, NVIDIA A100-SXM4-80GB, 81920 MiB\n"
        "1, NVIDIA A100-SXM4-80GB, 81920 MiB\n"
        "2, NVIDIA H100 80GB HBM3, 81559 MiB\n"
        "3, NVIDIA A100-SXM4-80GB, 81920 MiB\n"
    )
    pools = discover_pools(lambda: output, MACHINE)
    assert pools == (
        LocalPool("a100", "A100", (0, 1, 3), 6, 24576),
        LocalPool("h100", "H100", (2,), 2, 8192),
    )


@pytest.mark.parametrize("output", [None, "", "No devices were found\n"])
def test_without_gpus_discovery_offers_every_cpu(output: str | None) -> None:
    assert discover_pools(lambda: output, MACHINE) == (LocalPool("cpu", None, (), 8, 32768),)
