"""The FastAPI application: routers under /api/v1, problem details, body limit, plane life cycle."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from prometheus_client import Counter, Histogram
from starlette.requests import ClientDisconnect

from suanli import __version__
from suanli.api import inputs, problems
from suanli.api.docs_page import docs_page
from suanli.api.routes import agent, health, jobs, money, quote, sites, tenancy, workload
from suanli.control.plane import ControlPlane

PREFIX = "/api/v1"
REQUESTS = Counter("suanli_http_requests_total", "API requests", ["method", "route", "status"])
LATENCY = Histogram("suanli_http_request_seconds", "API request latency", ["method", "route"])


def create_app(cp: ControlPlane, *, manage_plane: bool = True) -> FastAPI:
    """Build the app; with `manage_plane` its lifespan starts and stops the scheduling loop."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_plane:
            cp.start()
        try:
            yield
        finally:
            if manage_plane:
                cp.stop()

    app = FastAPI(
        title="suanli",
        version=__version__,
        summary="An open computing power network: submit once, run on any provider's site.",
        lifespan=lifespan,
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,  # ours, below: Swagger UI pinned by version and integrity hash
        redoc_url=None,
    )
    app.state.plane = cp
    problems.install(app)
    limit = cp.settings.max_body_bytes

    @app.middleware("http")
    async def checked_input(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        refused = await inputs.refused(request, limit)
        if refused is not None:
            return refused
        return await call_next(request)

    @app.middleware("http")
    async def count_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except ClientDisconnect:  # the client went away mid-request: nobody to answer, not a bug
            response = Response(status_code=499)
        except Exception as exc:  # answered here, so it is counted and the connection stays open
            response = problems.unexpected(exc)
        route = request.scope.get("route")
        path = getattr(route, "path", "(unmatched)")
        REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        LATENCY.labels(request.method, path).observe(time.perf_counter() - started)
        return response

    for router in (
        jobs.router,
        quote.router,
        sites.router,
        tenancy.router,
        money.router,
        workload.router,
        agent.router,
        health.router,
    ):
        app.include_router(router, prefix=PREFIX)
    app.include_router(health.router)  # /healthz and /metrics at the root too

    async def docs() -> HTMLResponse:
        return docs_page(f"{PREFIX}/openapi.json", "suanli API")

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
    return app
