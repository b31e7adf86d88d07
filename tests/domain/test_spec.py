"""Tests for job spec parsing: what a valid spec becomes, and what an invalid one tells its author."""

import json
from dataclasses import replace
from typing import Any

import pytest

from suanli.domain.errors import DomainError, FieldError, SpecError
from suanli.domain.resources import AcceleratorOption
from suanli.domain.spec import parse_spec


def doc(**fields: Any) -> dict[str, Any]:
    """The smallest valid spec document, with `fields` added or replaced."""
    return {"name": "train", "run": "python train.py", **fields}


def res(**fields: Any) -> dict[str, Any]:
    """A spec document whose `resources` mapping is `fields`."""
    return doc(resources=fields)


def errors_of(document: Any) -> list[FieldError]:
    with pytest.raises(SpecError) as caught:
        parse_spec(document)
    return caught.value.errors


def test_a_minimal_spec_gets_the_documented_defaults() -> None:
    spec = parse_spec(doc())
    assert (spec.name, spec.run, spec.kind, spec.objective) == (
        "train",
        "python train.py",
        "batch",
        "balanced",
    )
    r = spec.resources
    assert (r.accelerators, r.nodes, r.cpus, r.memory_mib, r.max_runtime_s) == ((), 1, 1, 1024, None)
    assert (spec.retries, spec.preemptible, spec.env, spec.inputs) == (0, False, (), ())


@pytest.mark.parametrize(
    ("document", "read", "expected"),
    [
        pytest.param(res(memory="16Gi"), lambda s: s.resources.memory_mib, 16 * 1024, id="memory-Gi"),
        pytest.param(res(memory="16G"), lambda s: s.resources.memory_mib, 16 * 1024, id="memory-G-is-binary"),
        pytest.param(res(memory=2048), lambda s: s.resources.memory_mib, 2048, id="memory-bare-int-is-MiB"),
        pytest.param(res(max_runtime="1h30m"), lambda s: s.resources.max_runtime_s, 5400, id="runtime-1h30m"),
        pytest.param(res(max_runtime=600), lambda s: s.resources.max_runtime_s, 600, id="runtime-bare-int"),
        pytest.param(
            res(accelerators="a100:8"),
            lambda s: s.resources.accelerators,
            (AcceleratorOption("A100", 8),),
            id="accelerator-any-case",
        ),
        pytest.param(
            res(accelerators="NVIDIA H100 80GB HBM3:4"),
            lambda s: s.resources.accelerators,
            (AcceleratorOption("H100", 4),),
            id="accelerator-alias-becomes-canonical",
        ),
        pytest.param(
            res(accelerators=["H100:8", "A100:8"]),
            lambda s: s.resources.accelerators,
            (AcceleratorOption("H100", 8), AcceleratorOption("A100", 8)),
            id="accelerator-alternatives-keep-order",
        ),
        pytest.param(
            res(accelerators="T4"),
            lambda s: s.resources.accelerators,
            (AcceleratorOption("T4", 1),),
            id="accelerator-count-defaults-to-1",
        ),
        pytest.param(
            res(accelerators=" L4 : 2 "),
            lambda s: s.resources.accelerators,
            (AcceleratorOption("L4", 2),),
            id="accelerator-spaces-ignored",
        ),
        pytest.param(
            doc(env={"B": "2", "A": "1"}), lambda s: s.env, (("A", "1"), ("B", "2")), id="env-sorted"
        ),
        pytest.param(doc(setup=""), lambda s: s.setup, None, id="empty-setup-is-none"),
        pytest.param(doc(name="  my-job.v2 "), lambda s: s.name, "my-job.v2", id="name-stripped"),
        pytest.param(
            doc(constraints={"max_price_per_hour": 30.5}),
            lambda s: s.constraints.max_price_per_hour,
            "30.5",
            id="price-kept-as-exact-text",
        ),
        pytest.param(doc(checkpoint_interval="15m"), lambda s: s.checkpoint_interval_s, 900, id="checkpoint"),
        pytest.param(
            doc(inputs=[{"name": "imagenet", "size": "150Gi", "regions": ["cn-north"]}]),
            lambda s: (s.inputs[0].size_mib, s.inputs[0].regions),
            (150 * 1024, ("cn-north",)),
            id="input-size-and-regions",
        ),
    ],
)
def test_valid_fields_are_normalized(document: dict[str, Any], read: Any, expected: Any) -> None:
    assert read(parse_spec(document)) == expected


@pytest.mark.parametrize(
    ("document", "field", "says"),
    [
        pytest.param(["name"], "(root)", "mapping", id="root-not-a-mapping"),
        pytest.param({"run": "x"}, "name", "is required", id="name-missing"),
        pytest.param({"name": "x"}, "run", "is required", id="run-missing"),
        pytest.param(doc(run="   "), "run", "must not be empty", id="run-blank"),
        pytest.param(doc(name="Train"), "name", "lowercase letters", id="name-uppercase"),
        pytest.param(doc(name="-x"), "name", "starting with a letter or digit", id="name-leading-dash"),
        pytest.param(doc(name="x" * 64), "name", "1–63", id="name-too-long"),
        pytest.param(doc(gpus=8), "gpus", "allowed: name, project, kind", id="unknown-top-level-field"),
        pytest.param(doc(retry=2), "retry", "unknown field (did you mean retries?)", id="misspelt-field"),
        pytest.param(
            res(gpus=8), "resources.gpus", "(did you mean accelerators?)", id="another-schedulers-name"
        ),
        pytest.param(res(gpu="A100"), "resources.gpu", "allowed: accelerators, nodes", id="unknown-resource"),
        pytest.param(
            doc(inputs=[{"name": "d", "url": "s3://x"}]),
            "inputs[0].url",
            "allowed: name, size, regions",
            id="unknown-input-field",
        ),
        pytest.param(doc(kind="service"), "kind", "'batch'", id="kind-not-yet-supported"),
        pytest.param(doc(objective="fast"), "objective", "'cheapest'", id="objective-unknown"),
        pytest.param(doc(retries=11), "retries", "less than or equal to 10", id="retries-too-many"),
        pytest.param(doc(retries=-1), "retries", "greater than or equal to 0", id="retries-negative"),
        pytest.param(res(nodes=0), "resources.nodes", "greater than or equal to 1", id="nodes-zero"),
        pytest.param(res(nodes=5000), "resources.nodes", "less than or equal to 1024", id="nodes-too-many"),
        pytest.param(res(cpus=0), "resources.cpus", "greater than or equal to 1", id="cpus-zero"),
        pytest.param(res(memory="16GB"), "resources.memory", "16Gi", id="memory-GB-unit"),
        pytest.param(res(memory="1.5Gi"), "resources.memory", "16Gi", id="memory-fraction"),
        pytest.param(res(memory=True), "resources.memory", "16Gi", id="memory-boolean"),
        pytest.param(res(memory=0), "resources.memory", "at least 1Mi", id="memory-zero"),
        pytest.param(res(memory="9Ti"), "resources.memory", "at most 8Ti", id="memory-too-big"),
        pytest.param(res(max_runtime="2 weeks"), "resources.max_runtime", "2h", id="runtime-words"),
        pytest.param(res(max_runtime="0s"), "resources.max_runtime", "at least 1s", id="runtime-zero"),
        pytest.param(res(max_runtime="31d"), "resources.max_runtime", "at most 30d", id="runtime-long"),
        pytest.param(res(max_runtime="²"), "resources.max_runtime", "1h30m", id="runtime-superscript"),
        pytest.param(res(accelerators=8), "resources.accelerators", '"A100:8"', id="accelerators-number"),
        pytest.param(
            res(accelerators=["A100:8", 4]),
            "resources.accelerators",
            '"A100:8"',
            id="accelerators-mixed-list",
        ),
        pytest.param(
            res(accelerators="Z9000:8"), "resources.accelerators", "known: A100", id="model-unknown"
        ),
        pytest.param(
            res(accelerators=":8"), "resources.accelerators", "unknown accelerator ''", id="no-model"
        ),
        pytest.param(res(accelerators="A100:x"), "resources.accelerators", "whole number", id="count-text"),
        pytest.param(res(accelerators="A100:0"), "resources.accelerators", "1–64", id="count-zero"),
        pytest.param(res(accelerators="A100:65"), "resources.accelerators", "1–64", id="count-too-big"),
        pytest.param(
            res(accelerators=["A100:8", "Z9:8"]), "resources.accelerators[1]", "Z9", id="alt-indexed"
        ),
        pytest.param(doc(env={"1X": "a"}), "env", "invalid variable name '1X'", id="env-bad-name"),
        pytest.param(doc(env={"SUANLI_JOB": "a"}), "env", "set by suanli", id="env-reserved-prefix"),
        pytest.param(doc(env={"CUDA_VISIBLE_DEVICES": "0"}), "env", "set by suanli", id="env-reserved-cuda"),
        pytest.param(
            doc(env={"PORT": 8080}), "env.PORT", 'quote numbers and booleans: PORT: "8080"', id="env-number"
        ),
        pytest.param(doc(env={"DEBUG": True}), "env.DEBUG", 'booleans: DEBUG: "true"', id="env-boolean"),
        pytest.param(doc(env={"EMPTY": None}), "env.EMPTY", 'EMPTY: ""', id="env-null"),
        pytest.param(doc(env={"L": [1]}), "env.L", "a string (a variable holds text)", id="env-list"),
        pytest.param(
            doc(constraints={"max_price_per_hour": -1}),
            "constraints.max_price_per_hour",
            "positive price",
            id="price-negative",
        ),
        pytest.param(
            doc(constraints={"max_price_per_hour": "cheap"}),
            "constraints.max_price_per_hour",
            "38.00",
            id="price-text",
        ),
        pytest.param(  # once read as 1000: an exponent is no price anywhere else either
            doc(constraints={"max_price_per_hour": "1e3"}),
            "constraints.max_price_per_hour",
            "a decimal such as 38.00",
            id="price-exponent",
        ),
        pytest.param(
            doc(constraints={"max_price_per_hour": True}),
            "constraints.max_price_per_hour",
            "a price per hour such as 30.00",
            id="price-boolean",
        ),
        pytest.param(
            doc(constraints={"max_price_per_hour": "NaN"}),
            "constraints.max_price_per_hour",
            "positive price",
            id="price-nan",
        ),
        pytest.param(
            doc(inputs=[{"name": "d", "size": -5}]), "inputs[0].size", "at least 0Mi", id="size-negative"
        ),
        pytest.param(
            doc(resources=[1]), "resources", "must be a mapping of fields", id="resources-not-a-mapping"
        ),
        pytest.param(doc(resources=None), "resources", "not nothing (null)", id="resources-null"),
        pytest.param(doc(checkpoint_interval=0), "checkpoint_interval", "at least 1s", id="checkpoint-zero"),
        pytest.param(  # past any run time, and once past what the scheduler's date arithmetic holds
            doc(checkpoint_interval=2**70), "checkpoint_interval", "at most 30d", id="checkpoint-too-long"
        ),
        # bounds in the spec's own units, not pydantic's MiB and seconds
        pytest.param(
            res(max_runtime="99999d"), "resources.max_runtime", "at most 30d", id="runtime-too-long"
        ),
        pytest.param(doc(run=""), "run", "must not be empty", id="run-empty"),
    ],
)
def test_an_invalid_field_is_named_and_the_error_says_what_is_allowed(
    document: Any, field: str, says: str
) -> None:
    errors = errors_of(document)
    assert [e.field for e in errors] == [field]
    assert says in errors[0].message


def test_every_invalid_field_is_reported_at_once() -> None:
    errors = errors_of({"name": "Bad Name", "resources": {"nodes": 0, "cpus": "many"}})
    assert {e.field for e in errors} == {"name", "run", "resources.nodes", "resources.cpus"}


@pytest.mark.parametrize(
    ("accelerators", "accelerator_fields"),
    [
        pytest.param("Z9000:8", ["resources.accelerators"], id="one-string"),
        pytest.param(
            ["A100:8", "Z9000:8", "A100:x"],
            ["resources.accelerators[1]", "resources.accelerators[2]"],
            id="list",
        ),
    ],
)
def test_accelerator_errors_come_with_the_other_field_errors(
    accelerators: Any, accelerator_fields: list[str]
) -> None:
    errors = errors_of(
        {"name": "Bad Name", "run": "x", "resources": {"accelerators": accelerators, "nodes": 0}}
    )
    assert [e.field for e in errors] == ["name", "resources.nodes", *accelerator_fields]
    assert "unknown accelerator 'Z9000'" in errors[-len(accelerator_fields)].message


def test_a_malformed_accelerator_list_is_reported_once() -> None:
    errors = errors_of({"name": "Bad Name", "run": "x", "resources": {"accelerators": 8}})
    assert [e.field for e in errors] == ["name", "resources.accelerators"]


def test_spec_error_is_a_domain_error_whose_message_lists_the_fields() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec({"name": "x", "resources": {"nodes": 0}})
    assert isinstance(caught.value, DomainError)
    assert "run: is required" in str(caught.value)
    assert "resources.nodes:" in str(caught.value)


FULL = doc(
    project="acme/vision",
    image="pytorch/pytorch:2.3",
    setup="pip install -r requirements.txt",
    env={"SEED": "1"},
    workdir="/work",
    resources={
        "accelerators": ["H100:8", "a100:8"],
        "nodes": 4,
        "cpus": 64,
        "memory": "512Gi",
        "max_runtime": "2d",
    },
    retries=3,
    preemptible=True,
    checkpoint_interval="30m",
    objective="cheapest",
    constraints={
        "regions": ["cn-north"],
        "sites": ["pku"],
        "data_residency": "CN",
        "max_price_per_hour": "30.00",
    },
    inputs=[{"name": "imagenet", "size": "150Gi", "regions": ["cn-north"]}, {"name": "tokens"}],
)


@pytest.mark.parametrize(
    "document", [doc(), FULL, res(accelerators="T4")], ids=["minimal", "full", "one-gpu"]
)
def test_the_stored_form_is_json_and_parses_back_to_the_same_spec(document: dict[str, Any]) -> None:
    spec = parse_spec(document)
    stored = json.loads(json.dumps(spec.to_dict()))
    assert parse_spec(stored) == spec
    assert parse_spec({**stored, "project": "other"}) == replace(spec, project="other")


def test_the_stored_form_uses_units_a_machine_reads() -> None:
    stored = parse_spec(FULL).to_dict()
    assert stored["resources"]["memory_mib"] == 512 * 1024
    assert stored["resources"]["max_runtime_s"] == 2 * 86400
    assert stored["resources"]["accelerators"] == [
        {"model": "H100", "count": 8},
        {"model": "A100", "count": 8},
    ]
    assert stored["checkpoint_interval_s"] == 1800
    assert stored["inputs"][0]["size_mib"] == 150 * 1024


@pytest.mark.parametrize(
    "accelerators",
    [[{"type": "A100"}], [{"model": "A100"}], [7]],
    ids=["wrong-key", "no-count", "number"],
)
def test_a_malformed_stored_form_is_a_spec_error_not_a_crash(accelerators: list[Any]) -> None:
    errors = errors_of(doc(resources={"memory_mib": 1024, "accelerators": accelerators}))
    assert [e.field for e in errors] == ["resources.accelerators"]
