"""Request context for routes: the control plane, the caller, and idempotent mutation."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from suanli.control import audit
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
    action: str = ""  # the route's name, e.g. `disable_org`
    target: str = ""  # the request path
    params: dict[str, str] = field(default_factory=dict)  # path parameters, by their meaning
    body: Any = None  # the request's JSON body, if any

    def run(self, change: Callable[[Tx], tuple[int, Any]], *, audited: bool = True) -> JSONResponse:
        """Apply `change` once per idempotency key. A change a person makes is put in the audit
        trail in the same transaction (`control.audit.record_change`), unless `audited=False`: a
        route that records itself (money) or is not administration (job submission)."""

        def recorded(tx: Tx) -> tuple[int, Any]:
            status, body = change(tx)
            if audited and status < 400:
                now = self.cp.clock()
                made = body if status == 201 else None
                audit.record_change(
                    tx, self.who, self.action, self.target, self.params, self.body, now, created=made
                )
            return status, body

        answer = self.cp.mutate(self.who, self.key, self.fingerprint, recorded)
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
        return JSONResponse(answer.body, status_code=answer.status, headers=headers)


async def mutation(
    request: Request, cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)
) -> Mutation:
    body = await request.body()
    fingerprint = request_hash(request.method, request.url.path, body)
    route = request.scope.get("route")
    return Mutation(
        cp,
        who,
        request.headers.get("idempotency-key"),
        fingerprint,
        action=getattr(route, "name", "") or request.url.path,
        target=request.url.path.removeprefix("/api/v1"),
        params=_meaning(getattr(route, "path", ""), dict(request.path_params)),
        body=_json(body),
    )


def _meaning(template: str, params: dict[str, str]) -> dict[str, str]:
    """Path parameters by what they name: `/orgs/{name}` and `/orgs/{org}/…` both give `org`,
    `/sites/{name}` and `/sites/{site}/…` give `site`."""
    out = dict(params)
    if "name" in out and template.startswith("/api/v1/orgs/{name}"):
        out["org"] = out.pop("name")
    elif "name" in out and template.startswith("/api/v1/sites/{name}"):
        out["site"] = out.pop("name")
    return out


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
