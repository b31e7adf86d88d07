"""Fakes shared by the client tests: a recording API behind `httpx.MockTransport`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeApi:
    routes: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, *answers: Answer) -> None:
        """Answer `method path` with `answers` in turn; the last one repeats."""
        self.routes[(method, path)] = list(answers)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.routes.get((request.method, request.url.raw_path.decode().split("?")[0]))
        if not queue:
            return httpx.Response(404, json={"status": 404, "code": "not_found", "detail": "no such route"})
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return answer(request) if callable(answer) else answer

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def ok(body: Any = None, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {})


def problem(
    status: int, code: str, detail: str, errors: list[dict[str, str]] | None = None
) -> httpx.Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": "x",
        "status": status,
        "code": code,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})
