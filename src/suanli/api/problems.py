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

BODY_UNREADABLE = "There was an error parsing the body"  # FastAPI's detail
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


# RFC 9110's names where Python 3.11's `HTTPStatus` still has the older ones
TITLES = {413: "Content Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content"}


def problem(status: int, code: str, detail: str, errors: list[dict[str, str]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status) or HTTPStatus(status).phrase,
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
            if e.get("type") == "json_invalid":  # its loc is a byte offset, not a field
                where = e.get("loc", ())[-1]
                reason = (e.get("ctx") or {}).get("error", "invalid")
                errors.append({"field": "(body)", "message": f"not valid JSON: {reason} (at byte {where})"})
                continue
            loc = [str(p) for p in e.get("loc", ()) if p != "body"]
            field = ".".join(loc) or "(body)"
            msg = "unknown field" if e.get("type") == "extra_forbidden" else str(e.get("msg", "invalid"))
            errors.append({"field": field, "message": msg})
        return problem(422, "invalid_request", "the request is invalid", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == BODY_UNREADABLE:  # FastAPI's, for what json.loads raised
            return problem(
                400,
                "invalid_body",
                "the body could not be read as JSON",
                [
                    {
                        "field": "(body)",
                        "message": "JSON in UTF-8, nested under 1,000 deep, numbers under 4,300 digits",
                    }
                ],
            )
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error"
        )
        return problem(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return unexpected(exc)


def unexpected(exc: Exception) -> JSONResponse:
    """A bug's answer: logged with its traceback, and nothing of it in the response."""
    log.exception("unhandled error", exc_info=exc)
    return problem(500, "internal", "internal server error; the server log has details")
