"""The one place errors become HTTP: RFC 9457 problem details with a stable `code`."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from suanli.control import errors as ce
from suanli.store import errors as se

log = logging.getLogger("suanli.api")

STATUS: dict[type[Exception], int] = {
    ce.Unauthorized: 401,
    ce.Forbidden: 403,
    ce.NotFound: 404,
    ce.Invalid: 422,
    ce.Conflict: 409,
    ce.Unavailable: 503,
    se.Conflict: 409,
    se.NotFound: 404,
    se.Unavailable: 503,
}


def problem(status: int, code: str, detail: str, errors: list[dict[str, str]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ce.ControlError)
    async def _control(_: Request, exc: ce.ControlError) -> JSONResponse:
        errors = [{"field": e.field, "message": e.message} for e in getattr(exc, "errors", [])]
        return problem(STATUS.get(type(exc), 400), exc.code, exc.detail, errors)

    @app.exception_handler(se.StoreError)
    async def _store(_: Request, exc: se.StoreError) -> JSONResponse:
        status = STATUS.get(type(exc), 500)
        code = {409: "conflict", 404: "not_found", 503: "unavailable"}.get(status, "store_error")
        return problem(status, code, str(exc) if status != 500 else "internal store error")

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            loc = [str(p) for p in e.get("loc", ()) if p != "body"]
            field = ".".join(loc) or "(body)"
            msg = "unknown field" if e.get("type") == "extra_forbidden" else str(e.get("msg", "invalid"))
            errors.append({"field": field, "message": msg})
        return problem(422, "invalid_request", "the request is invalid", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error"
        )
        return problem(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "internal", "internal server error; the server log has details")
