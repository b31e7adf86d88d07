"""Accelerator requirements in job specs: `any[memory>=80GB]:8` means every catalog model with at
least 80 GB, as a list of acceptable models; bad terms are named with what is allowed."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.domain.catalog import default_catalog
from suanli.domain.errors import SpecError
from suanli.domain.spec import parse_spec


def models(accelerators: Any) -> list[str]:
    spec = parse_spec({"name": "t", "run": "x", "resources": {"accelerators": accelerators}})
    return [f"{o.model}:{o.count}" for o in spec.resources.accelerators]


def test_a_memory_requirement_stands_for_every_model_with_that_much_memory() -> None:
    got = models("any[memory>=80GB]:8")
    catalog = default_catalog()
    assert got == [f"{a.name}:8" for a in catalog.accelerators if a.memory_gb >= 80]
    assert "A100:8" in got and "A100-40GB:8" not in got and "V100:8" not in got


@pytest.mark.parametrize(
    ("accelerators", "expected"),
    [
        pytest.param("any[cu>=3]:4", ["H100:4", "H800:4", "H200:4", "B200:4", "MI300X:4"], id="compute"),
        pytest.param("ANY[ Vendor=huawei ]:8", ["Ascend910B:8"], id="vendor-any-case"),
        pytest.param("any[vendor=NVIDIA, memory>=141]:2", ["H200:2", "B200:2"], id="two-terms"),
        pytest.param(
            ["H100:8", "any[cu>=3]:8"], ["H100:8", "H800:8", "H200:8", "B200:8", "MI300X:8"], id="no-repeats"
        ),
        pytest.param("any:1", [f"{a.name}:1" for a in default_catalog().accelerators], id="any-model"),
    ],
)
def test_requirements_expand_to_catalog_models_in_catalog_order(
    accelerators: Any, expected: list[str]
) -> None:
    assert models(accelerators) == expected


@pytest.mark.parametrize(
    ("accelerators", "says"),
    [
        (
            "any[mem>=80]:8",
            "'any[mem>=80]:8': unknown requirement 'mem>=80'; allowed: memory>=N GB, cu>=N, vendor=NAME",
        ),
        ("any[memory>=lots]:8", "memory>=lots: give whole GB, e.g. memory>=80GB"),
        ("any[cu>=fast]:8", "cu>=fast: give a number, e.g. cu>=2"),
        ("any[memory>=4096GB]:8", "no accelerator in the catalog meets 'any[memory>=4096GB]'"),
        ("B300:8", "unknown accelerator 'B300'; known: A100"),
        ("B300:8", "or a requirement such as any[memory>=80GB]:8"),
    ],
)
def test_a_bad_requirement_names_the_field_and_what_is_allowed(accelerators: str, says: str) -> None:
    with pytest.raises(SpecError) as caught:
        models(accelerators)
    [error] = caught.value.errors
    assert error.field == "resources.accelerators"
    assert says in error.message


def test_the_stored_form_lists_the_models_so_it_parses_back_the_same() -> None:
    spec = parse_spec({"name": "t", "run": "x", "resources": {"accelerators": "any[memory>=141GB]:4"}})
    again = parse_spec(spec.to_dict())
    assert again.resources.accelerators == spec.resources.accelerators
