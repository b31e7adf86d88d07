"""The job spec: one YAML format for every engine, parsed and validated into a frozen `JobSpec`.

Parsing uses Pydantic at this edge only; what comes out is plain frozen dataclasses. Every error
names the field (a dotted path) and what is allowed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from suanli.domain.catalog import UnknownAccelerator, default_catalog
from suanli.domain.errors import FieldError, SpecError
from suanli.domain.money import RATE_RULE, parse_rate
from suanli.domain.requirements import RequirementError, is_requirement, models_meeting
from suanli.domain.resources import AcceleratorOption, Resources, parse_duration_s, parse_memory_mib

MAX_NODES = 1024
MAX_CPUS = 1024
MAX_MEMORY_MIB = 8 * 1024 * 1024  # 8 TiB per node
MAX_ACCELERATORS = 64
MAX_RUNTIME_S = 30 * 86400
MAX_RETRIES = 10
MAX_SCRIPT_BYTES = 64 * 1024
MAX_REF_CHARS = 1024  # an image reference (registry/name:tag@digest)
MAX_PATH_CHARS = 4096  # PATH_MAX
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
Objective = Literal["balanced", "cheapest", "fastest", "greenest"]
PriorityClass = Literal["low", "normal", "high"]
# A priority class's rank: higher goes first. `low` is interruptible: it may be preempted even when
# the job does not say it can resume.
PRIORITIES: dict[str, int] = {"low": -100, "normal": 0, "high": 100}
INTERRUPTIBLE = frozenset({"low"})


def _count(v: Any) -> Any:
    if isinstance(v, bool):  # YAML's `yes` and JSON's true are ints to pydantic: never what was meant
        raise ValueError("expected a whole number, not true or false")
    return v


def _flag(v: Any) -> Any:
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, not {v!r}")
    return v


def _memory(v: Any) -> int:
    if isinstance(v, str | int) and not isinstance(v, bool):
        return parse_memory_mib(v)
    raise ValueError("expected a size like 16Gi")


def _duration(v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, str | int) and not isinstance(v, bool):
        return parse_duration_s(v)
    raise ValueError("expected a duration like 2h")


def _accelerators(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return v
    raise ValueError('expected "MODEL:COUNT" (e.g. "A100:8") or a list of acceptable alternatives')


Count = Annotated[int, BeforeValidator(_count)]
Flag = Annotated[bool, BeforeValidator(_flag)]
Memory = Annotated[int, BeforeValidator(_memory)]
Duration = Annotated[int | None, BeforeValidator(_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class _Resources(_Strict):
    accelerators: Annotated[list[str], BeforeValidator(_accelerators)] = []
    nodes: Count = Field(1, ge=1, le=MAX_NODES)
    cpus: Count = Field(1, ge=1, le=MAX_CPUS)
    memory: Memory = Field(1024, ge=1, le=MAX_MEMORY_MIB)
    max_runtime: Duration = Field(None, ge=1, le=MAX_RUNTIME_S)


class _Constraints(_Strict):
    regions: list[str] = []
    sites: list[str] = []
    data_residency: str | None = None
    max_price_per_hour: str | None = None

    @field_validator("max_price_per_hour", mode="before")
    @classmethod
    def _price(cls, v: Any) -> str | None:
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float | str):
            raise ValueError("expected a price per hour such as 30.00")
        try:
            d = parse_rate(str(v))
        except ValueError:
            raise ValueError(f"must be a positive price per hour, {RATE_RULE}") from None
        if d <= 0:
            raise ValueError(f"must be a positive price per hour, {RATE_RULE}")
        return str(d)


class _Input(_Strict):
    name: str
    size: Memory | None = Field(None, ge=0)
    regions: list[str] = []


class _Spec(_Strict):
    name: str
    project: str | None = None
    kind: Literal["batch"] = "batch"
    image: str | None = Field(None, max_length=MAX_REF_CHARS)
    setup: str | None = Field(None, max_length=MAX_SCRIPT_BYTES)
    run: str = Field(min_length=1, max_length=MAX_SCRIPT_BYTES)
    env: dict[str, str] = {}
    workdir: str | None = Field(None, max_length=MAX_PATH_CHARS)
    resources: _Resources = _Resources()
    retries: Count = Field(0, ge=0, le=MAX_RETRIES)
    preemptible: Flag = False
    checkpoint_interval: Duration = Field(None, ge=1, le=MAX_RUNTIME_S)
    priority: PriorityClass = "normal"
    objective: Objective = "balanced"
    constraints: _Constraints = _Constraints()
    inputs: list[_Input] = []

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME.match(v):
            raise ValueError(
                "use 1–63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return v

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k in v if not ENV_KEY.match(k)]
        if bad:
            raise ValueError(
                f"invalid variable name {bad[0]!r}: letters, digits and '_', not starting with a digit"
            )
        reserved = [k for k in v if k.startswith("SUANLI_") or k == "CUDA_VISIBLE_DEVICES"]
        if reserved:
            raise ValueError(f"{reserved[0]} is set by suanli and cannot be overridden")
        return v


@dataclass(frozen=True)
class Constraints:
    regions: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    data_residency: str | None = None
    max_price_per_hour: str | None = None


@dataclass(frozen=True)
class DataInput:
    name: str
    size_mib: int | None = None
    regions: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobSpec:
    """A validated job spec; `to_dict()` is the normalized form the server stores and sends to sites."""

    name: str
    run: str
    project: str | None = None
    kind: str = "batch"
    image: str | None = Field(None, max_length=MAX_REF_CHARS)
    setup: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    workdir: str | None = None
    resources: Resources = field(default_factory=Resources)
    retries: int = 0
    preemptible: bool = False
    checkpoint_interval_s: int | None = None
    priority: str = "normal"
    objective: str = "balanced"
    constraints: Constraints = field(default_factory=Constraints)
    inputs: tuple[DataInput, ...] = ()

    @property
    def priority_rank(self) -> int:
        return PRIORITIES[self.priority]

    @property
    def evictable(self) -> bool:
        """Whether the scheduler may preempt it: it can resume (`preemptible`, or checkpoints), or
        its class is interruptible."""
        return self.preemptible or self.checkpoint_interval_s is not None or self.priority in INTERRUPTIBLE

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["env"] = dict(self.env)
        r = d["resources"]
        r["accelerators"] = [{"model": o.model, "count": o.count} for o in self.resources.accelerators]
        for key in ("regions", "sites"):
            d["constraints"][key] = list(d["constraints"][key])
        d["inputs"] = [{**i, "regions": list(i["regions"])} for i in d["inputs"]]
        return d


def parse_spec(document: Any) -> JobSpec:
    """Validate a decoded YAML/JSON document (or a normalized dict) into a JobSpec; raise SpecError."""
    if not isinstance(document, dict):
        raise SpecError([FieldError("(root)", "a job spec is a mapping with at least `name` and `run`")])
    document = _denormalize(document)
    try:
        raw = _Spec.model_validate(document)
    except ValidationError as exc:
        errors = [_field_error(e) for e in exc.errors()]
        # Report unknown models now too, not only after the user has fixed everything else.
        if not any(e.field.startswith("resources.accelerators") for e in errors):
            errors += _raw_accelerator_errors(document)
        raise SpecError(errors) from None
    options, errors = _accelerator_options(raw.resources.accelerators)
    if errors:
        raise SpecError(errors)
    r = raw.resources
    c = raw.constraints
    return JobSpec(
        name=raw.name,
        run=raw.run,
        project=raw.project,
        kind=raw.kind,
        image=raw.image,
        setup=raw.setup or None,
        env=tuple(sorted(raw.env.items())),
        workdir=raw.workdir,
        resources=Resources(options, r.nodes, r.cpus, r.memory, r.max_runtime),
        retries=raw.retries,
        preemptible=raw.preemptible,
        checkpoint_interval_s=raw.checkpoint_interval,
        priority=raw.priority,
        objective=raw.objective,
        constraints=Constraints(tuple(c.regions), tuple(c.sites), c.data_residency, c.max_price_per_hour),
        inputs=tuple(DataInput(i.name, i.size, tuple(i.regions)) for i in raw.inputs),
    )


def _denormalize(doc: dict[str, Any]) -> dict[str, Any]:
    """Accept the normalized form too (memory_mib, max_runtime_s, accelerator dicts), so it round-trips."""
    res = doc.get("resources")
    if not isinstance(res, dict) or not ({"memory_mib", "max_runtime_s"} & res.keys()):
        return doc
    res = dict(res)
    if "memory_mib" in res:
        res["memory"] = res.pop("memory_mib")
    if "max_runtime_s" in res:
        res["max_runtime"] = res.pop("max_runtime_s")
    accel = res.get("accelerators")
    if isinstance(accel, list):
        res["accelerators"] = [
            f"{a['model']}:{a['count']}" if isinstance(a, dict) and {"model", "count"} <= a.keys() else a
            for a in accel
        ]
    out = {**doc, "resources": res}
    if "checkpoint_interval_s" in out:
        out["checkpoint_interval"] = out.pop("checkpoint_interval_s")
    if isinstance(out.get("inputs"), list):
        out["inputs"] = [
            {("size" if k == "size_mib" else k): v for k, v in i.items()} if isinstance(i, dict) else i
            for i in out["inputs"]
        ]
    return out


def _raw_accelerator_errors(document: dict[str, Any]) -> list[FieldError]:
    """Catalog errors in the document's accelerator strings, when their shape is valid."""
    resources = document.get("resources")
    if not isinstance(resources, dict):
        return []
    try:
        values = _accelerators(resources.get("accelerators"))
    except ValueError:
        return []
    return _accelerator_options([v.strip() for v in values])[1]


def _accelerator_options(values: list[str]) -> tuple[tuple[AcceleratorOption, ...], list[FieldError]]:
    catalog = default_catalog()
    options: list[AcceleratorOption] = []
    errors: list[FieldError] = []
    for i, text in enumerate(values):
        where = "resources.accelerators" + (f"[{i}]" if len(values) > 1 else "")
        model, _, count = text.partition(":")
        try:
            n = int(count) if count else 1
        except ValueError:
            errors.append(FieldError(where, f"{text!r}: the count after ':' must be a whole number"))
            continue
        if not 1 <= n <= MAX_ACCELERATORS:
            errors.append(FieldError(where, f"{text!r}: count per node must be 1–{MAX_ACCELERATORS}"))
            continue
        if is_requirement(model):
            try:
                options += (AcceleratorOption(name, n) for name in models_meeting(model, catalog))
            except RequirementError as exc:
                errors.append(FieldError(where, f"{text!r}: {exc}"))
            continue
        try:
            options.append(AcceleratorOption(catalog.get(model).name, n))
        except UnknownAccelerator as exc:
            errors.append(FieldError(where, f"{exc}; or a requirement such as any[memory>=80GB]:{n}"))
    return tuple(dict.fromkeys(options)), errors


# Fields other schedulers name differently, which a spelling match would get wrong (`gpus` is
# closest to `cpus`, not to `accelerators`).
_OTHER_NAMES = {
    "gpus": "accelerators", "gpu": "accelerators", "gres": "accelerators",
    "mem": "memory", "time": "max_runtime", "timeout": "max_runtime", "walltime": "max_runtime",
    "time_limit": "max_runtime", "command": "run", "cmd": "run", "script": "run", "retry": "retries",
}  # fmt: skip


def _meant(name: str, allowed: Sequence[str]) -> str | None:
    """The allowed field a misspelt or foreign one most likely means, if any."""
    if _OTHER_NAMES.get(name) in allowed:
        return _OTHER_NAMES[name]
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.75)
    return close[0] if close else None


def _field_error(e: Any) -> FieldError:
    loc = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in e["loc"]).replace(".[", "[")
    msg = str(e["msg"]).removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        msg = "unknown field"
        parent = loc.rsplit(".", 1)[0] if "." in loc else ""
        allowed = _allowed_fields(parent)
        meant = _meant(loc.rsplit(".", 1)[-1], allowed)
        if meant:
            msg += f" (did you mean {meant}?)"
        if allowed:
            msg += f"; allowed: {', '.join(allowed)}"
    elif e["type"] == "missing":
        msg = "is required"
    elif e["type"] == "string_type" and len(e["loc"]) == 2 and e["loc"][0] == "env":
        msg = _env_value_hint(str(e["loc"][1]), e.get("input"))
    elif e["type"] in ("less_than_equal", "greater_than_equal") and str(e["loc"][-1]) in _IN_UNITS:
        bound = e["ctx"]["le" if e["type"] == "less_than_equal" else "ge"]
        side = "at most" if e["type"] == "less_than_equal" else "at least"
        msg = f"{side} {_IN_UNITS[str(e['loc'][-1])](int(bound))}"
    elif e["type"] in ("model_type", "dict_type"):
        msg = f"must be a mapping of fields (name: value lines), not {_kind(e.get('input'))}"
    elif e["type"] == "string_too_short":
        msg = "must not be empty"
    elif e["type"] == "string_too_long":
        msg = f"at most {e['ctx']['max_length']} characters"
    return FieldError(loc or "(root)", msg)


def _mib_text(mib: int) -> str:
    """Memory as the spec writes it: 8Ti, 16Gi, 512Mi."""
    for unit, size in (("Ti", 1024 * 1024), ("Gi", 1024)):
        if mib >= size and mib % size == 0:
            return f"{mib // size}{unit}"
    return f"{mib}Mi"


def _seconds_text(seconds: int) -> str:
    """A duration as the spec writes it: 30d, 12h, 90m, 1s."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# fields whose bounds pydantic states in the spec's internal units (MiB, seconds)
_IN_UNITS = {
    "memory": _mib_text,
    "size": _mib_text,
    "max_runtime": _seconds_text,
    "checkpoint_interval": _seconds_text,
}


def _kind(value: Any) -> str:
    return "nothing (null)" if value is None else f"{type(value).__name__} {value!r}"[:60]


def _env_value_hint(name: str, value: Any) -> str:
    """YAML reads `A: 1`, `A: true` and `A:` as a number, a boolean and null, not the text a
    variable holds: say how to write the value the user meant."""
    if isinstance(value, bool):
        meant = "true" if value else "false"
    elif isinstance(value, int | float):
        meant = str(value)
    elif value is None:
        meant = ""
    else:
        return "a string (a variable holds text)"
    return f'a string; quote numbers and booleans: {name}: "{meant}"'


def _allowed_fields(parent: str) -> list[str]:
    if parent.startswith("inputs"):
        return list(_Input.model_fields)
    models: dict[str, type[BaseModel]] = {"": _Spec, "resources": _Resources, "constraints": _Constraints}
    model = models.get(parent)
    return list(model.model_fields) if model else []
