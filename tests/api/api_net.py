"""An in-process API on a real database with a hand-driven clock and scheduling loop (test harness)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.control import bootstrap
from suanli.control.plane import ControlPlane
from suanli.control.settings import Settings
from suanli.store import Database


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 25, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Net:
    """The API plus tokens for an operator and a demo tenant member."""

    http: TestClient
    cp: ControlPlane
    clock: Clock
    operator: str
    tenant: str

    def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, "/api/v1" + path, headers=headers, **kw)

    def ok(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        resp = self.call(method, path, token, **kw)
        assert resp.status_code < 300, resp.text
        return resp.json()

    def cycle(self) -> None:
        self.cp.loop.run_once()

    def add_site(self, name: str, pools: list[dict[str, Any]]) -> str:
        """Register a provider site, enroll its agent, send its first offer; returns the agent token."""
        if self.call("GET", "/orgs/dc", self.operator).status_code == 404:
            self.ok("POST", "/orgs", self.operator, json={"name": "dc", "kind": "provider"})
        enroll = self.ok("POST", "/sites", self.operator, json={"name": name, "org": "dc"})[
            "enrollment_token"
        ]
        agent = self.ok("POST", "/agent/enroll", enroll, json={"site": name})["token"]
        self.ok("POST", "/agent/sync", agent, json={"pools": pools, "attempts": []})
        return str(agent)

    def tenant_token(self, org: str, user: str) -> str:
        self.ok("POST", "/orgs", self.operator, json={"name": org, "kind": "tenant"})
        self.ok("POST", f"/orgs/{org}/projects", self.operator, json={"name": "default"})
        self.ok("POST", f"/orgs/{org}/members", self.operator, json={"user": user, "role": "owner"})
        return str(self.ok("POST", "/tokens", self.operator, json={"name": "t", "user": user})["token"])


CPU_POOL = {"name": "cpu", "cpus_per_node": 4, "memory_mib_per_node": 8192}
GPU_POOL = {
    "name": "gpu",
    "accelerator": "A100",
    "accelerators_per_node": 4,
    "cpus_per_node": 16,
    "memory_mib_per_node": 65536,
}


@contextmanager
def running_net(database_url: str, tmp_path: Any, **settings: Any) -> Iterator[Net]:
    """The harness on a fresh database, with `Settings` beyond the defaults the tests share."""
    db = Database(database_url)
    db.migrate()
    clock = Clock()
    config = Settings(data_dir=tmp_path, lease_ttl=30, lease_grace=10, start_timeout=120, **settings)
    cp = ControlPlane(db, config, clock)
    first = bootstrap.ensure_demo(db, clock())
    assert first is not None
    with TestClient(create_app(cp, manage_plane=False)) as http:
        yield Net(http, cp, clock, first.operator_token, first.tenant_token)
    db.close()
