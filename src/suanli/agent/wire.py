"""The JSON of `POST /agent/sync` (docs/api.md): agent values to request fields, reply fields to values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from suanli.agent.backends.base import Allocation, AttemptStatus, Launch, PoolOffer, Usage
from suanli.agent.errors import InvalidLaunch
from suanli.domain.catalog import default_catalog
from suanli.domain.resources import MAX_ACCELERATORS_PER_NODE, POOL_NAME, POOL_NAME_RULE

__all__ = [
    "SyncReply",
    "attempt_json",
    "offer_json",
    "parse_launch",
    "parse_reply",
    "rfc3339",
    "unknown_model",
    "unofferable",
    "usage_json",
]


@dataclass(frozen=True)
class SyncReply:
    """What one sync answered; absent lists are empty, absent numbers None."""

    launch: tuple[Mapping[str, Any], ...] = ()
    cancel: tuple[str, ...] = ()
    kill: tuple[str, ...] = ()
    ack: tuple[str, ...] = ()
    lease_ttl: float | None = None
    usage_acked_seq: int | None = None
    usage_next_seq: int | None = None  # the server's: number new records from here on at least


def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def offer_json(offer: PoolOffer) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": offer.name,
        "accelerator": offer.accelerator,
        "accelerators_per_node": offer.accelerators_per_node,
        "nodes": offer.nodes,
        "cpus_per_node": offer.cpus_per_node,
        "memory_mib_per_node": offer.memory_mib_per_node,
    }
    if offer.max_runtime_s is not None:  # only engines with a limit (Slurm partitions) say it
        out["max_runtime_s"] = offer.max_runtime_s
    return out


def unofferable(offer: PoolOffer) -> str | None:
    """Why the server would refuse this pool in an offer (and with it the whole sync); None if it
    would not."""
    if not POOL_NAME.match(offer.name):
        return f"its name must be {POOL_NAME_RULE}"
    if offer.accelerator is not None and len(offer.accelerator) > 64:
        return f"its accelerator name {offer.accelerator[:64]!r}… is longer than 64 characters"
    if offer.accelerators_per_node > MAX_ACCELERATORS_PER_NODE:
        return f"{offer.accelerators_per_node} accelerators per node is more than {MAX_ACCELERATORS_PER_NODE}"
    return None


def unknown_model(offer: PoolOffer) -> bool:
    """Whether the pool's accelerator is no model of the catalog (an engine's untyped `GPU`). The
    server takes such an offer, but job specs name catalog models: no job can ever be placed there."""
    return offer.accelerator is not None and default_catalog().find(offer.accelerator) is None


def attempt_json(status: AttemptStatus, fencing_token: int) -> dict[str, Any]:
    return {
        "id": status.attempt_id,
        "fencing_token": fencing_token,
        "state": status.state.value,
        "exit_code": status.exit_code,
        "reason": status.reason,
        "started_at": rfc3339(status.started_at),
        "ended_at": rfc3339(status.ended_at),
    }


def usage_json(seq: int, usage: Usage) -> dict[str, Any]:
    """One usage record; seconds are whole numbers (rounded), as the API's example shows them."""
    return {
        "seq": seq,
        "attempt_id": usage.attempt_id,
        "started_at": rfc3339(usage.started_at),
        "ended_at": rfc3339(usage.ended_at),
        "accelerator_seconds": round(usage.accelerator_seconds),
        "cpu_seconds": round(usage.cpu_seconds),
        "wall_seconds": round(usage.wall_seconds),
    }


def parse_reply(raw: Any) -> SyncReply:
    """Read a sync reply leniently: the server may add fields, and omit empty ones."""
    if not isinstance(raw, Mapping):
        return SyncReply()
    ttl = raw.get("lease_ttl")
    acked = raw.get("usage_acked_seq")
    next_seq = raw.get("usage_next_seq")
    return SyncReply(
        launch=tuple(item for item in raw.get("launch") or () if isinstance(item, Mapping)),
        cancel=_ids(raw.get("cancel")),
        kill=_ids(raw.get("kill")),
        ack=_ids(raw.get("ack")),
        lease_ttl=float(ttl) if isinstance(ttl, int | float) and ttl > 0 else None,
        usage_acked_seq=acked if isinstance(acked, int) else None,
        usage_next_seq=next_seq if isinstance(next_seq, int) and next_seq > 0 else None,
    )


def parse_launch(raw: Mapping[str, Any]) -> Launch:
    """A launch from a sync reply; InvalidLaunch says which field is wrong."""
    allocation = _field(raw, "allocation", Mapping)
    nodes = allocation.get("nodes", [0])
    if not isinstance(nodes, list) or not all(isinstance(node, int) for node in nodes):
        raise InvalidLaunch("launch field 'allocation.nodes' must be a list of node indices")
    accelerator = allocation.get("accelerator")
    spec = _field(raw, "spec", Mapping)
    _check_spec(spec)
    return Launch(
        attempt_id=_field(raw, "attempt_id", str),
        job_id=_field(raw, "job_id", str),
        attempt=_field(raw, "attempt", int),
        fencing_token=_field(raw, "fencing_token", int),
        spec=spec,
        pool=_field(raw, "pool", str),
        allocation=Allocation(
            accelerator=accelerator if isinstance(accelerator, str) else None,
            accelerators_per_node=_count(allocation, "accelerators_per_node"),
            cpus_per_node=_count(allocation, "cpus_per_node"),
            memory_mib_per_node=_count(allocation, "memory_mib_per_node"),
            nodes=tuple(nodes),
        ),
    )


def _check_spec(spec: Mapping[str, Any]) -> None:
    """The spec fields an engine reads must have the types docs/api.md gives them."""
    resources = spec.get("resources")
    checks: list[tuple[str, Any, Any]] = [
        ("run", spec.get("run"), str),
        ("setup", spec.get("setup"), str | None),
        ("workdir", spec.get("workdir"), str | None),
        ("env", spec.get("env"), Mapping | None),
        ("resources", resources, Mapping | None),
    ]
    if isinstance(resources, Mapping):
        checks.append(("resources.max_runtime_s", resources.get("max_runtime_s"), int | float | None))
    for name, value, kind in checks:
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InvalidLaunch(f"launch field 'spec.{name}' has the wrong type ({type(value).__name__})")


def _field(raw: Mapping[str, Any], name: str, kind: Any) -> Any:
    value = raw.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InvalidLaunch(f"launch field {name!r} is missing or not a {getattr(kind, '__name__', kind)}")
    return value


def _count(allocation: Mapping[str, Any], name: str) -> int:
    value = allocation.get(name) or 0
    if not isinstance(value, int) or value < 0:
        raise InvalidLaunch(f"launch field 'allocation.{name}' must be a whole number, not {value!r}")
    return value


def _ids(value: Any) -> tuple[str, ...]:
    return tuple(item for item in value or () if isinstance(item, str))
