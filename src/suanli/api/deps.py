"""Request context for routes: the control plane, the caller, and idempotent mutation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from suanli.control.idempotency import request_hash
from suanli.control.plane import ControlPlane
from suanli.control.principal import Principal
from suanli.store import Tx


def plane(request: Request) -> ControlPlane:
    cp: ControlPlane = request.app.state.plane
    return cp


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def caller(request: Request, cp: ControlPlane = Depends(plane)) -> Principal:
    return cp.principal(bearer(request))


@dataclass
class Mutation:
    cp: ControlPlane
    who: Principal
    key: str | None
    fingerprint: str

    def run(self, change: Callable[[Tx], tuple[int, Any]]) -> JSONResponse:
        answer = self.cp.mutate(self.who, self.key, self.fingerprint, change)
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
        return JSONResponse(answer.body, status_code=answer.status, headers=headers)


async def mutation(
    request: Request, cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)
) -> Mutation:
    body = await request.body()
    fingerprint = request_hash(request.method, request.url.path, body)
    return Mutation(cp, who, request.headers.get("idempotency-key"), fingerprint)
