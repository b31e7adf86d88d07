"""Tests for the accelerator catalog: packaged data, lookup, validation of catalog text."""

from decimal import Decimal

import pytest

from suanli.domain import catalog as catalog_module
from suanli.domain.catalog import (
    Accelerator,
    Catalog,
    CatalogError,
    UnknownAccelerator,
    default_catalog,
    load_catalog,
)
from suanli.domain.errors import DomainError

REQUIRED_MODELS = [
    "A100",
    "A100-40GB",
    "H100",
    "H800",
    "A800",
    "H20",
    "H200",
    "B200",
    "V100",
    "T4",
    "A10",
    "L4",
    "L40S",
    "RTX4090",
    "RTX3090",
    "Ascend910B",
    "MI250X",
    "MI300X",
    "Gaudi2",
]


def entry(**overrides: object) -> str:
    """One catalog entry as YAML text; a field set to None is left out."""
    fields: dict[str, object] = {
        "name": "X1",
        "vendor": "Acme",
        "memory_gb": 80,
        "bf16_tflops": 312,
        "tdp_w": 400,
        "aliases": "[x1-80gb]",
    }
    fields.update(overrides)
    lines = [f"{key}: {value}" for key, value in fields.items() if value is not None]
    return "  - " + "\n    ".join(lines) + "\n"


def catalog_text(*entries: str) -> str:
    return "accelerators:\n" + "".join(entries)


def test_public_api_is_pinned() -> None:
    assert sorted(catalog_module.__all__) == [
        "A100_BF16_TFLOPS",
        "Accelerator",
        "Catalog",
        "CatalogError",
        "UnknownAccelerator",
        "default_catalog",
        "load_catalog",
    ]


@pytest.mark.parametrize("name", REQUIRED_MODELS)
def test_every_required_model_is_in_the_default_catalog(name: str) -> None:
    assert default_catalog().get(name).name == name


def test_names_are_canonical_and_in_file_order() -> None:
    names = default_catalog().names()
    assert names[:3] == ("A100", "A100-40GB", "H100")
    assert set(REQUIRED_MODELS) <= set(names)
    assert len(default_catalog()) == len(names) == len(list(default_catalog()))


@pytest.mark.parametrize(
    ("name", "units"),
    [
        ("A100", Decimal("1.000")),
        ("A100-40GB", Decimal("1.000")),
        ("A800", Decimal("1.000")),
        ("H100", Decimal("3.171")),
        ("H200", Decimal("3.171")),
        ("T4", Decimal("0.208")),
    ],
)
def test_compute_units_are_relative_to_one_a100(name: str, units: Decimal) -> None:
    assert default_catalog().get(name).compute_units == units


def test_a100_is_exactly_one_compute_unit() -> None:
    assert str(default_catalog().get("A100").compute_units) == "1.000"


def test_h100_is_about_three_point_one_seven_compute_units() -> None:
    assert abs(default_catalog().get("H100").compute_units - Decimal("3.17")) < Decimal("0.01")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a100", "A100"),
        ("  A100  ", "A100"),
        ("a100-80gb", "A100"),
        ("NVIDIA A100-SXM4-80GB", "A100"),
        ("nvidia a100-sxm4-80gb", "A100"),
        ("NVIDIA A100-SXM4-40GB", "A100-40GB"),
        ("NVIDIA A100-PCIE-40GB", "A100-40GB"),
        ("NVIDIA H100 80GB HBM3", "H100"),
        ("NVIDIA H800", "H800"),
        ("NVIDIA A800-SXM4-80GB", "A800"),
        ("NVIDIA H20", "H20"),
        ("NVIDIA H200", "H200"),
        ("NVIDIA B200", "B200"),
        ("Tesla V100-SXM2-32GB", "V100"),
        ("Tesla T4", "T4"),
        ("NVIDIA A10", "A10"),
        ("NVIDIA L4", "L4"),
        ("NVIDIA L40S", "L40S"),
        ("NVIDIA GeForce RTX 4090", "RTX4090"),
        ("NVIDIA GeForce RTX 3090", "RTX3090"),
        ("ascend-910b", "Ascend910B"),
        ("AMD Instinct MI300X", "MI300X"),
        ("HL-225", "Gaudi2"),
    ],
)
def test_lookup_by_alias_device_name_and_any_case(query: str, expected: str) -> None:
    assert default_catalog().get(query).name == expected
    assert default_catalog().find(query) is default_catalog().get(expected)
    assert query in default_catalog()


def test_unknown_name_error_lists_the_known_names() -> None:
    with pytest.raises(UnknownAccelerator) as caught:
        default_catalog().get("Z9000")
    assert isinstance(caught.value, DomainError)
    assert caught.value.name == "Z9000"
    assert caught.value.known == default_catalog().names()
    message = str(caught.value)
    assert "Z9000" in message
    assert all(name in message for name in REQUIRED_MODELS)


def test_find_returns_none_for_an_unknown_name() -> None:
    assert default_catalog().find("Z9000") is None
    assert "Z9000" not in default_catalog()


@pytest.mark.parametrize("acc", list(default_catalog()), ids=lambda acc: acc.name)
def test_every_entry_has_positive_figures_and_a_source(acc: Accelerator) -> None:
    assert acc.memory_gb > 0
    assert acc.bf16_tflops > 0
    assert acc.compute_units > 0
    assert acc.tdp_w > 0
    assert acc.vendor
    assert acc.notes


@pytest.mark.parametrize("name", ["V100", "T4"])
def test_parts_without_bf16_say_the_figure_is_fp16(name: str) -> None:
    assert "FP16" in default_catalog().get(name).notes


@pytest.mark.parametrize(
    ("min_memory_gb", "min_compute_units", "included", "excluded"),
    [
        (80, None, {"A100", "H100", "H200", "MI300X"}, {"A100-40GB", "T4", "L40S", "RTX4090"}),
        (141, None, {"H200", "B200", "MI300X"}, {"H100", "A100", "H20"}),
        (None, Decimal("3"), {"H100", "H200", "B200", "MI300X"}, {"A100", "H20", "L40S"}),
        (96, Decimal("1"), {"H200", "MI250X", "Gaudi2"}, {"H20", "A100", "H100"}),
        (None, None, set(REQUIRED_MODELS), set()),
    ],
)
def test_matching_filters_by_memory_and_compute(
    min_memory_gb: int | None,
    min_compute_units: Decimal | None,
    included: set[str],
    excluded: set[str],
) -> None:
    found = default_catalog().matching(min_memory_gb=min_memory_gb, min_compute_units=min_compute_units)
    names = {acc.name for acc in found}
    assert included <= names
    assert not excluded & names
    for acc in found:
        assert min_memory_gb is None or acc.memory_gb >= min_memory_gb
        assert min_compute_units is None or acc.compute_units >= min_compute_units


def test_matching_above_every_model_is_empty() -> None:
    assert default_catalog().matching(min_memory_gb=10_000) == ()


def test_load_catalog_keeps_decimal_figures_exact() -> None:
    loaded = load_catalog(catalog_text(entry(bf16_tflops=989.4), entry(name="X2", aliases="[]")))
    assert loaded.get("x1").bf16_tflops == Decimal("989.4")
    assert loaded.get("X1-80GB").aliases == ("x1-80gb",)
    assert loaded.names() == ("X1", "X2")


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (catalog_text(entry(vendor=None)), ["entry #1", "'X1'", "'vendor'", "missing"]),
        (catalog_text(entry(), entry(name=None)), ["entry #2", "'name'", "missing"]),
        (catalog_text(entry(memory_gb=0)), ["'X1'", "'memory_gb'", "positive"]),
        (catalog_text(entry(memory_gb=80.5)), ["'X1'", "'memory_gb'", "integer"]),
        (catalog_text(entry(memory_gb="yes")), ["'X1'", "'memory_gb'"]),
        (catalog_text(entry(bf16_tflops=-1)), ["'X1'", "'bf16_tflops'", "positive"]),
        (catalog_text(entry(bf16_tflops="fast")), ["'X1'", "'bf16_tflops'", "positive"]),
        (catalog_text(entry(bf16_tflops=".nan")), ["'X1'", "'bf16_tflops'"]),
        (catalog_text(entry(tdp_w=-300)), ["'X1'", "'tdp_w'", "positive"]),
        (catalog_text(entry(vendor="''")), ["'X1'", "'vendor'", "non-empty"]),
        (catalog_text(entry(aliases="x1-80gb")), ["'X1'", "'aliases'", "list"]),
        (catalog_text(entry(aliases="[7]")), ["'X1'", "'aliases'", "string"]),
        (catalog_text(entry(tflops=1)), ["'X1'", "'tflops'", "not a catalog field"]),
        (
            catalog_text(entry(), entry(name="x1", aliases="[]")),
            ["'x1'", "'name'", "already used by 'X1'"],
        ),
        (
            catalog_text(entry(), entry(name="X2", aliases="[X1-80GB]")),
            ["'X2'", "'aliases'", "already used by 'X1'"],
        ),
        (catalog_text(entry(aliases="[X1]")), ["'X1'", "'aliases'", "already used"]),
        ("accelerators:\n  - just a string\n", ["entry #1", "mapping"]),
        ("- name: X1\n", ["'accelerators' list"]),
        ("accelerators: [\n", ["not valid YAML"]),
        ("", ["'accelerators' list"]),
    ],
)
def test_bad_catalog_text_is_refused_naming_entry_and_field(text: str, fragments: list[str]) -> None:
    with pytest.raises(CatalogError) as caught:
        load_catalog(text)
    assert isinstance(caught.value, DomainError)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_catalog_built_directly_refuses_duplicate_names() -> None:
    one = Accelerator("X1", "Acme", 80, Decimal(312), 400)
    with pytest.raises(CatalogError, match="already used"):
        Catalog((one, Accelerator("x1", "Acme", 40, Decimal(312), 400)))


def test_default_catalog_is_loaded_once() -> None:
    assert default_catalog() is default_catalog()


def test_accelerator_is_immutable() -> None:
    acc = default_catalog().get("A100")
    with pytest.raises(AttributeError):
        acc.memory_gb = 1  # type: ignore[misc]
