"""A real control plane in-process for the CLI tests: the API on a SQLite database, reached through
an `httpx` transport, with an operator and a demo tenant signed in as profiles `op` and `default`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.control import bootstrap
from suanli.control.plane import ControlPlane
from suanli.control.settings import Settings
from suanli.store import Database

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
A100_POOL = {
    "name": "a100",
    "accelerator": "A100",
    "accelerators_per_node": 4,
    "cpus_per_node": 16,
    "memory_mib_per_node": 65536,
}


@dataclass
class Server:
    """The API (`http`), a transport onto it for `Client`s, and the first tokens."""

    http: TestClient
    transport: httpx.BaseTransport
    operator: str
    tenant: str

    def ok(self, method: str, path: str, token: str, **kw: Any) -> Any:
        resp = self.http.request(method, "/api/v1" + path, headers={"Authorization": f"Bearer {token}"}, **kw)
        assert resp.status_code < 300, resp.text
        return resp.json()

    def add_site(self, name: str, org: str = "dc") -> str:
        """A provider site (and its org, the first time); returns its enrollment token."""
        if self.http.get(
            f"/api/v1/orgs/{org}", headers={"Authorization": f"Bearer {self.operator}"}
        ).is_error:
            self.ok("POST", "/orgs", self.operator, json={"name": org, "kind": "provider"})
        site = self.ok("POST", "/sites", self.operator, json={"name": name, "org": org})
        return str(site["enrollment_token"])

    def enroll(self, site: str, enrollment_token: str, pools: list[dict[str, Any]]) -> str:
        """Spend the enrollment token as an agent would and offer `pools`; returns the agent token."""
        agent = str(self.ok("POST", "/agent/enroll", enrollment_token, json={"site": site})["token"])
        self.ok("POST", "/agent/sync", agent, json={"pools": pools, "attempts": []})
        return agent


@contextmanager
def running_server(tmp_path: Path) -> Iterator[Server]:
    db = Database(f"sqlite:///{tmp_path / 'suanli.db'}")
    db.migrate()
    cp = ControlPlane(db, Settings(data_dir=tmp_path), lambda: NOW)
    first = bootstrap.ensure_demo(db, NOW)
    assert first is not None
    with TestClient(create_app(cp, manage_plane=False)) as http:

        def relay(request: httpx.Request) -> httpx.Response:
            answer = http.request(
                request.method,
                request.url.raw_path.decode(),
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
                content=request.read(),
            )
            return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

        yield Server(http, httpx.MockTransport(relay), first.operator_token, first.tenant_token)
    db.close()
