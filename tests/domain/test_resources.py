"""Tests for resource quantities: the memory and duration grammars, per-node vectors, a job's resources."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.resources import (
    MIB_PER_UNIT,
    AcceleratorOption,
    Resources,
    Vector,
    format_duration,
    format_memory,
    parse_duration_s,
    parse_memory_mib,
)

GIB = 1024


@pytest.mark.parametrize(
    ("text", "mib"),
    [
        ("512Mi", 512),
        ("512M", 512),
        ("16Gi", 16 * GIB),
        ("16G", 16 * GIB),
        ("16gi", 16 * GIB),
        (" 16 Gi ", 16 * GIB),
        ("1Ti", 1024 * GIB),
        ("1T", 1024 * GIB),
        ("2048", 2048),
        (2048, 2048),
    ],
)
def test_memory_sizes_in_binary_units(text: str | int, mib: int) -> None:
    assert parse_memory_mib(text) == mib


@pytest.mark.parametrize(("text", "written"), [("16GB", "16Gi"), ("512mb", "512Mi"), ("1TB", "1Ti")])
def test_a_decimal_looking_unit_is_refused_naming_the_binary_one_read(text: str, written: str) -> None:
    with pytest.raises(ValueError, match=f"sizes here are binary: write {written}"):
        parse_memory_mib(text)


@pytest.mark.parametrize("text", ["16K", "1.5Gi", "Gi", "", "-1Gi", "sixteen", "16 G i"])
def test_a_bad_memory_size_says_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a size: use e\.g\. 512Mi, 16Gi"):
        parse_memory_mib(text)


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_is_not_a_memory_size(value: bool) -> None:
    with pytest.raises(ValueError, match="16Gi"):
        parse_memory_mib(value)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("1d2h3m4s", 93784),
        ("600", 600),
        (" 600 ", 600),
        (600, 600),
        ("0s", 0),
    ],
)
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "1.5h", "2 weeks", "1w", "1H", "-5", "5m later", "²", "1h-30m"])
def test_a_bad_duration_says_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a duration: use e\.g\. 90s, 30m, 2h, 1d or 1h30m"):
        parse_duration_s(text)


def test_a_boolean_is_not_a_duration() -> None:
    with pytest.raises(ValueError, match="2h"):
        parse_duration_s(True)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45, "45s"), (60, "1m"), (5400, "1h30m"), (86400, "1d"), (90061, "1d1h1m1s"), (172800, "2d")],
)
def test_durations_are_shown_in_their_shortest_exact_form(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("mib", "text"),
    [(512, "512 MiB"), (1024, "1 GiB"), (24105, "23.5 GiB"), (262144, "256 GiB"), (1048576, "1 TiB")],
)
def test_memory_is_shown_in_the_largest_unit_it_fills(mib: int, text: str) -> None:
    assert format_memory(mib) == text


@given(st.integers(min_value=0, max_value=10**9))
def test_a_formatted_duration_parses_back_to_the_same_seconds(seconds: int) -> None:
    assert parse_duration_s(format_duration(seconds)) == seconds


@given(st.dictionaries(st.sampled_from("dhms"), st.integers(0, 10**4), min_size=1))
def test_a_duration_is_the_sum_of_its_parts_and_formats_without_losing_time(parts: dict[str, int]) -> None:
    text = "".join(f"{n}{unit}" for unit, n in parts.items())
    size = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    seconds = sum(n * size[unit] for unit, n in parts.items())
    assert parse_duration_s(text) == seconds
    assert parse_duration_s(format_duration(seconds)) == seconds


@given(
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from(sorted(MIB_PER_UNIT)),
    st.booleans(),
    st.sampled_from(["", " "]),
)
def test_a_written_memory_size_parses_to_count_times_unit(
    count: int, unit: str, lower: bool, gap: str
) -> None:
    written = f"{count}{gap}{unit.lower() if lower else unit.capitalize()}"
    assert parse_memory_mib(written) == count * MIB_PER_UNIT[unit]


@pytest.mark.parametrize(
    ("need", "have", "fits"),
    [
        (Vector(8, 64, 512), Vector(8, 64, 512), True),
        (Vector(0, 1, 1), Vector(8, 64, 512), True),
        (Vector(8, 1, 1), Vector(7, 64, 512), False),
        (Vector(1, 65, 1), Vector(8, 64, 512), False),
        (Vector(1, 1, 513), Vector(8, 64, 512), False),
    ],
    ids=["exact", "smaller", "accelerators-short", "cpus-short", "memory-short"],
)
def test_a_vector_fits_only_when_every_component_fits(need: Vector, have: Vector, fits: bool) -> None:
    assert need.fits_in(have) is fits


vectors = st.builds(Vector, st.integers(0, 64), st.integers(0, 1024), st.integers(0, 10**7))


@given(vectors, vectors)
def test_vector_arithmetic_is_per_component(a: Vector, b: Vector) -> None:
    assert (a + b) - b == a
    assert a.fits_in(a + b)
    assert (a + b).fits_in(a) is (b == Vector())


@pytest.mark.parametrize(
    ("option", "per_node"),
    [(AcceleratorOption("A100", 8), Vector(8, 16, 4096)), (None, Vector(0, 16, 4096))],
    ids=["with-accelerator", "cpu-only"],
)
def test_per_node_need_depends_on_the_chosen_accelerator(
    option: AcceleratorOption | None, per_node: Vector
) -> None:
    resources = Resources(
        (AcceleratorOption("H100", 4), AcceleratorOption("A100", 8)), cpus=16, memory_mib=4096
    )
    assert resources.per_node(option) == per_node


@pytest.mark.parametrize(
    ("resources", "text"),
    [
        (Resources(), "no accelerator, 1 CPU, 1024 MiB"),
        (
            Resources((AcceleratorOption("H100", 8), AcceleratorOption("A100", 8)), nodes=4, cpus=64),
            "4 nodes × H100:8 or A100:8, 64 CPU, 1024 MiB",
        ),
    ],
    ids=["defaults", "gang-with-alternatives"],
)
def test_describe_reads_like_the_spec(resources: Resources, text: str) -> None:
    assert resources.describe() == text
