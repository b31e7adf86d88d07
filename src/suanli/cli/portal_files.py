"""Serving the browser portal (`suanli.portal`) beside the API: its files at `/portal/`, with headers
that keep the page to its own code, and `/` sending a browser there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from suanli import portal

if TYPE_CHECKING:
    from fastapi import FastAPI

HEADERS = {
    "Content-Security-Policy": portal.CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # a new version is seen at once; unchanged files are revalidated cheaply
}


class PortalFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(HEADERS)
        return response


def add_portal(app: FastAPI) -> None:
    """Serve the portal at `/portal/` and send `GET /` there."""
    app.mount(portal.PATH, PortalFiles(directory=portal.STATIC, html=True), name="portal")

    async def to_portal() -> RedirectResponse:
        return RedirectResponse(f"{portal.PATH}/", status_code=307)

    app.add_api_route("/", to_portal, methods=["GET"], include_in_schema=False)
