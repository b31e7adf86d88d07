"""A fake control plane for agent tests: the two agent endpoints of docs/api.md over httpx.MockTransport."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

ENROLL_TOKEN = "sle_" + "e" * 38
AGENT_TOKEN = "sla_" + "a" * 38
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}


def launch(attempt_id: str, run: str, *, pool: str = "cpu", gpus: int = 0, **spec: Any) -> dict[str, Any]:
    """A launch as the server sends it, with a small normalized spec."""
    return {
        "attempt_id": attempt_id,
        "job_id": "job_" + attempt_id,
        "attempt": 1,
        "fencing_token": 7,
        "pool": pool,
        "spec": {"name": "t", "run": run, "setup": None, "env": {}, "resources": {"max_runtime_s": None}}
        | spec,
        "allocation": {
            "accelerator": None,
            "accelerators_per_node": gpus,
            "cpus_per_node": 1,
            "memory_mib_per_node": 64,
            "nodes": [0],
        },
    }


@dataclass
class FakeControlPlane:
    """Answers syncs like the server: launches until reported, acks terminal reports, holds long polls."""

    lease_ttl: float = 30.0
    auto_ack: bool = True
    ack_usage: bool = True
    max_hold: float = 0.5  # long polls are held at most this long, to keep tests quick
    down: bool = False
    refuse_token: bool = False
    site: str | None = None  # the site its agent token is for; a sync naming another is refused
    syncs: list[dict[str, Any]] = field(default_factory=list)
    sync_times: list[float] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)
    enrollments: int = 0
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    state_seen_at: dict[tuple[str, str], float] = field(default_factory=dict)
    # bytes it had of each attempt's output when the attempt ended
    output_when_ended: dict[str, int] = field(default_factory=dict)
    # each usage record's attempt's state when the record came
    state_at_usage: dict[int, str] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)
    usage: dict[int, dict[str, Any]] = field(default_factory=dict)
    pending_launches: dict[str, dict[str, Any]] = field(default_factory=dict)
    cancels: set[str] = field(default_factory=set)
    kills: set[str] = field(default_factory=set)
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    # -- what tests do -----------------------------------------------------------------------------

    def add_launch(self, item: dict[str, Any]) -> None:
        with self._lock:
            self.pending_launches[item["attempt_id"]] = item
            self._lock.notify_all()

    def set_down(self, down: bool) -> None:
        with self._lock:
            self.down = down
            self._lock.notify_all()

    def cancel(self, attempt_id: str) -> None:
        with self._lock:
            self.cancels.add(attempt_id)
            self._lock.notify_all()

    def kill(self, attempt_id: str) -> None:
        with self._lock:
            self.kills.add(attempt_id)
            self._lock.notify_all()

    def wait_for(self, predicate: Callable[[FakeControlPlane], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; states={self.states} logs={self.logs}")
                self._lock.wait(min(left, 0.05))

    def state(self, attempt_id: str) -> str | None:
        report = self.states.get(attempt_id)
        return report["state"] if report else None

    def reported_ids(self) -> set[str]:
        with self._lock:
            return {a["id"] for a in self.syncs[-1]["attempts"]} if self.syncs else set()

    # -- the endpoints -----------------------------------------------------------------------------

    def _handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        body = json.loads(request.content or b"{}")
        if request.url.path == "/api/v1/agent/enroll":
            return self._enroll(token, body)
        if request.url.path == "/api/v1/agent/sync":
            if self.refuse_token or token != AGENT_TOKEN:
                return _problem(401, "unauthorized", "invalid token")
            if self.site is not None and body.get("site") != self.site:
                return _problem(403, "wrong_site", f"this agent token is site {self.site}'s")
            return self._sync(body)
        return _problem(404, "not_found", request.url.path)

    def _enroll(self, token: str, body: dict[str, Any]) -> httpx.Response:
        with self._lock:
            if token != ENROLL_TOKEN or self.enrollments:
                return _problem(401, "unauthorized", "enrollment token spent or invalid")
            self.enrollments += 1
        return httpx.Response(200, json={"token": AGENT_TOKEN, "site": body["site"]})

    def _sync(self, body: dict[str, Any]) -> httpx.Response:
        with self._lock:
            self._record(body)
            deadline = time.monotonic() + min(float(body.get("wait", 0)), self.max_hold)
            while not self._has_orders(body) and time.monotonic() < deadline and not self.down:
                self._lock.wait(deadline - time.monotonic())
            if self.down:
                raise httpx.ReadTimeout("server went away")
            reported = {a["id"] for a in body["attempts"]}
            reply: dict[str, Any] = {
                "launch": [item for aid, item in self.pending_launches.items() if aid not in reported],
                "cancel": sorted(self.cancels & reported),
                "kill": sorted(self.kills & reported),
                "ack": sorted(a["id"] for a in body["attempts"] if a["state"] in TERMINAL and self.auto_ack),
                "lease_ttl": self.lease_ttl,
                "usage_acked_seq": max(self.usage, default=0) if self.ack_usage else 0,
            }
            self.cancels -= set(reply["cancel"])
            self.kills -= set(reply["kill"])
        return httpx.Response(200, json=reply)

    def _record(self, body: dict[str, Any]) -> None:
        now = time.monotonic()
        self.syncs.append(body)
        self.sync_times.append(now)
        for attempt in body["attempts"]:
            self.states[attempt["id"]] = attempt
            self.state_seen_at.setdefault((attempt["id"], attempt["state"]), now)
            self.pending_launches.pop(attempt["id"], None)
        for chunk in body["logs"]:  # as a server does: the part it already has is skipped
            have = self.logs.get(chunk["attempt_id"], "").encode()
            data = chunk["data"].encode()
            if chunk["offset"] <= len(have) < chunk["offset"] + len(data):
                fresh = data[len(have) - chunk["offset"] :]
                self.logs[chunk["attempt_id"]] = (have + fresh).decode()
        for record in body["usage"]:
            self.usage.setdefault(record["seq"], record)
            self.state_at_usage.setdefault(record["seq"], self.state(record["attempt_id"]) or "")
        for attempt in body["attempts"]:  # as a server does: the sync's output is in when it ends it
            if attempt["state"] in TERMINAL and attempt["id"] not in self.output_when_ended:
                self.output_when_ended[attempt["id"]] = len(self.logs.get(attempt["id"], "").encode())
        self._lock.notify_all()

    def _has_orders(self, body: dict[str, Any]) -> bool:
        reported = {a["id"] for a in body["attempts"]}
        return bool(set(self.pending_launches) - reported or (self.cancels | self.kills) & reported)


def _problem(status: int, code: str, detail: str) -> httpx.Response:
    return httpx.Response(status, json={"status": status, "code": code, "detail": detail})
