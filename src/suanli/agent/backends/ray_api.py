"""Ray's Jobs REST API and State API on the dashboard port, over HTTP (httpx), as values.

The agent never imports `ray` (docs/adr/0011-ray-backend-over-http.md): every call here is one HTTP
request to `address` (`http://127.0.0.1:8265`). Failures become `BackendError` carrying Ray's own
message; `RayUnreachable` when the dashboard does not answer (down, restarting, network), so that
callers keep their last known state instead of failing attempts. Parsers are pure and tested on
recorded real outputs (tests/agent/fixtures/ray/).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from suanli.agent.errors import BackendError

__all__ = [
    "RayApi",
    "RayJob",
    "RayNode",
    "RayUnreachable",
    "Submission",
    "error_message",
    "parse_job",
    "parse_jobs",
    "parse_nodes",
]


class RayUnreachable(BackendError):
    """Ray's dashboard did not answer (down, restarting, network)."""


@dataclass(frozen=True)
class RayNode:
    """One node of the cluster as the State API lists it: its state and total resources."""

    node_id: str
    state: str
    resources: Mapping[str, float]


@dataclass(frozen=True)
class RayJob:
    """One job as the Jobs API shows it."""

    submission_id: str
    status: str
    message: str
    entrypoint: str
    metadata: Mapping[str, str]
    started_at: datetime | None
    ended_at: datetime | None
    exit_code: int | None
    error_type: str | None = None


@dataclass(frozen=True)
class Submission:
    """What `POST /api/jobs/` takes (the fields suanli uses)."""

    submission_id: str
    entrypoint: str
    num_cpus: float
    num_gpus: float
    memory_bytes: int
    resources: Mapping[str, float] = field(default_factory=dict)
    env_vars: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "submission_id": self.submission_id,
            "entrypoint": self.entrypoint,
            "entrypoint_num_cpus": self.num_cpus,
            "entrypoint_num_gpus": self.num_gpus,
            "entrypoint_memory": self.memory_bytes,
            "runtime_env": {"env_vars": dict(self.env_vars)},
            "metadata": dict(self.metadata),
        }
        if self.resources:
            body["entrypoint_resources"] = dict(self.resources)
        return body


class RayApi:
    """A client for one Ray cluster's dashboard. Thread-safe (httpx.Client is)."""

    def __init__(
        self,
        address: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.address = address.rstrip("/")
        self._http = httpx.Client(base_url=self.address, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def version(self) -> dict[str, Any]:
        data = self._call("GET", "/api/version")
        return data if isinstance(data, dict) else {}

    def nodes(self) -> list[RayNode]:
        return parse_nodes(self._call("GET", "/api/v0/nodes", params={"detail": "1", "limit": "10000"}))

    def jobs(self) -> list[RayJob]:
        return parse_jobs(self._call("GET", "/api/jobs/"))

    def job(self, submission_id: str) -> RayJob | None:
        """The job, or None when Ray does not know it."""
        try:
            return parse_job(self._call("GET", f"/api/jobs/{submission_id}"))
        except _NotFound:
            return None

    def submit(self, submission: Submission) -> None:
        self._call("POST", "/api/jobs/", json=submission.body())

    def stop(self, submission_id: str) -> bool:
        """Ask Ray to stop the job; False when it had already ended or Ray does not know it."""
        try:
            data = self._call("POST", f"/api/jobs/{submission_id}/stop")
        except _NotFound:
            return False
        return bool(isinstance(data, dict) and data.get("stopped"))

    def logs(self, submission_id: str) -> str | None:
        """The job's whole output so far (Ray keeps no offsets), or None when Ray does not know it."""
        try:
            data = self._call("GET", f"/api/jobs/{submission_id}/logs")
        except _NotFound:
            return None
        return str(data.get("logs") or "") if isinstance(data, dict) else ""

    def delete(self, submission_id: str) -> None:
        with contextlib.suppress(_NotFound):
            self._call("DELETE", f"/api/jobs/{submission_id}")

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise RayUnreachable(
                f"Ray at {self.address} does not answer: {exc or type(exc).__name__}"
            ) from exc
        if response.status_code == 404:
            raise _NotFound(error_message(response.text) or f"{path} not found")
        if response.status_code >= 500 and response.status_code != 500:
            raise RayUnreachable(f"Ray at {self.address} answered {response.status_code}")
        if response.status_code >= 400:
            message = error_message(response.text) or f"HTTP {response.status_code}"
            raise BackendError(f"Ray refused {method} {path}: {message}")
        try:
            return response.json()
        except ValueError as exc:
            raise BackendError(f"Ray answered {method} {path} with something not JSON") from exc


class _NotFound(BackendError):
    pass


def error_message(text: str) -> str:
    """Ray's reason from an error body: the last line of its traceback, else the text itself."""
    text = text.strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        text = str(data.get("msg") or data.get("message") or data.get("detail") or text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    if lines[0].startswith("Traceback"):
        raised = [line for line in lines if re.match(r"^[\w.]+(Error|Exception)\b.*:", line)]
        return raised[-1] if raised else lines[-1]
    return "; ".join(lines[:3])


def parse_nodes(data: Any) -> list[RayNode]:
    """Nodes from `GET /api/v0/nodes?detail=1` (State API: `data.result.result`)."""
    rows = _dig(data, "data", "result", "result")
    nodes = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict):
            continue
        resources = row.get("resources_total") or {}
        nodes.append(
            RayNode(
                node_id=str(row.get("node_id", "")),
                state=str(row.get("state", "")),
                resources={str(k): float(v) for k, v in resources.items() if isinstance(v, int | float)},
            )
        )
    return nodes


def parse_jobs(data: Any) -> list[RayJob]:
    """Jobs from `GET /api/jobs/` (a list; only submitted jobs have a submission id)."""
    jobs = [parse_job(row) for row in data] if isinstance(data, list) else []
    return [job for job in jobs if job is not None]


def parse_job(data: Any) -> RayJob | None:
    if not isinstance(data, dict) or not data.get("submission_id"):
        return None
    metadata = data.get("metadata") or {}
    code = data.get("driver_exit_code")
    return RayJob(
        submission_id=str(data["submission_id"]),
        status=str(data.get("status", "")),
        message=str(data.get("message") or ""),
        entrypoint=str(data.get("entrypoint") or ""),
        metadata={str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {},
        started_at=_millis(data.get("start_time")),
        ended_at=_millis(data.get("end_time")),
        exit_code=int(code) if isinstance(code, int) else None,
        error_type=str(data["error_type"]) if data.get("error_type") else None,
    )


def _millis(value: Any) -> datetime | None:
    if not isinstance(value, int | float) or value <= 0:
        return None
    return datetime.fromtimestamp(value / 1000, UTC)


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
