"""Fakes shared by the cli tests: a recording API behind `httpx.MockTransport`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from suanli.client import Client
from suanli.domain.tokens import TokenKind, mint

TOKEN = mint(TokenKind.TENANT, bytes(range(24)))
SERVER = "http://suanli.test"
P = "/api/v1"

Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


def ok(body: Any = None, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {})


def problem(
    status: int, code: str, detail: str, errors: list[dict[str, str]] | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"status": status, "code": code, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def job(job_id: str = "job_01", state: str = "PENDING", **extra: Any) -> dict[str, Any]:
    return {
        "id": job_id,
        "name": "hello",
        "org": "acme",
        "project": "default",
        "state": state,
        "created_at": "2025-01-02T03:04:05Z",
        "exit_code": None,
        "reason": None,
        "attempts": [],
        **extra,
    }


@dataclass
class FakeApi:
    """Canned answers per `METHOD /api/v1/path` (the last repeats); records requests and clients made."""

    routes: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    clients: list[tuple[str, str | None]] = field(default_factory=list)

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self.routes[(method, P + path)] = list(answers)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.routes.get((request.method, request.url.raw_path.decode().split("?")[0]))
        if not queue:
            return problem(404, "not_found", f"no route {request.method} {request.url.path}")
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return answer(request) if callable(answer) else answer

    def make_client(self, server: str, token: str | None) -> Client:
        self.clients.append((server, token))
        return Client(server, token, transport=httpx.MockTransport(self.handle))

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)
