"""What every request's raw input must satisfy before a route sees it.

- A body is JSON: another Content-Type is refused with 415.
- A body larger than `max_body_bytes` is refused with 413 as it streams in, not after it has all
  been held in memory (a chunked upload names no length).
- A body is UTF-8 (400 otherwise: the JSON reader would decode UTF-16 or UTF-32 past these checks).
- No NUL character anywhere: not in the path, a query parameter or a JSON string. PostgreSQL's text
  cannot hold one, and no name, amount or command needs one; the answer is 422 naming the field. An
  agent's report is the exception: job output and engine messages are machine text a site cannot
  choose, so there each NUL becomes "?" (one byte for one, so log offsets stay in bytes, as
  `agent.backends.text.decoder` does for undecodable bytes).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request, Response

from suanli.api import problems

NUL = "\x00"
_ESCAPED_NUL = b"\\u0000"  # how JSON writes NUL; a raw NUL byte is not valid JSON at all
AGENT_PATHS = "/api/v1/agent/"


class TooLarge(Exception):
    pass


async def refused(request: Request, limit: int) -> Response | None:
    """The answer to a request whose raw input breaks a rule above, or None to let the route see
    it. A body read here is handed on to the route (Starlette passes a read body down)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        return problems.problem(413, "too_large", f"request body over {limit} bytes")
    field = nul_in_url(request)
    if field is not None:
        return _nul(field)
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    try:
        body = await read_body(request, limit)
    except TooLarge:
        return problems.problem(413, "too_large", f"request body over {limit} bytes")
    if body and not json_content(request.headers.get("content-type")):
        return problems.problem(
            415, "unsupported_media_type", "send the body as JSON (Content-Type: application/json)"
        )
    if body and not_utf8(body):
        return problems.problem(
            400,
            "invalid_body",
            "the body could not be read as JSON",
            [{"field": "(body)", "message": "JSON text in UTF-8"}],
        )
    if request.url.path.startswith(AGENT_PATHS):
        body = without_nul(body)
    elif (field := nul_in_json(body)) is not None:
        return _nul(field)
    request._body = body
    return None


def _nul(field: str) -> Response:
    return problems.problem(
        422,
        "invalid_request",
        "the request is invalid",
        [{"field": field, "message": "must not contain a NUL character (\\u0000)"}],
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused (`TooLarge`) as soon as more than `limit` bytes have come."""
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        parts.append(chunk)
    return b"".join(parts)


def json_content(content_type: str | None) -> bool:
    """Whether a body sent with this Content-Type is JSON: none given (clients that send JSON
    without saying so), `application/json`, or a `+json` type."""
    if not content_type:
        return True
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


def nul_in_url(request: Request) -> str | None:
    """The field a NUL is in: `path`, or `query.NAME` (as validation names them); None if none."""
    if NUL in request.scope.get("path", ""):
        return "path"
    for key, value in request.query_params.multi_items():
        if NUL in key or NUL in value:
            return "query." + key.replace(NUL, "\\u0000")
    return None


def not_utf8(body: bytes) -> bool:
    """A body that is not UTF-8 JSON text: a raw NUL byte (JSON text never holds one; UTF-16 and
    UTF-32, which the JSON reader would otherwise decode, are full of them) or invalid UTF-8."""
    if b"\x00" in body:
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def nul_in_json(body: bytes) -> str | None:
    """The dotted path of the first JSON string (or key) holding a NUL (`spec.env.X`, `pools.1.name`),
    `(body)` for a top-level string; None if there is none or the body is not JSON (the route says)."""
    if _ESCAPED_NUL not in body:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return _find(parsed, [])


def _find(value: Any, at: list[str]) -> str | None:
    if isinstance(value, str):
        return ".".join(at) or "(body)" if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                return ".".join([*at, key.replace(NUL, "\\u0000")])
            found = _find(item, [*at, key])
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _find(item, [*at, str(i)])
            if found is not None:
                return found
    return None


def without_nul(body: bytes) -> bytes:
    """The JSON body with each NUL in its strings written as "?" (the body as it was if it has none
    or is not JSON)."""
    if _ESCAPED_NUL not in body:
        return body
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    return json.dumps(_replace(parsed)).encode()  # ASCII escapes: a lone surrogate cannot fail it


def _replace(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(NUL, "?")
    if isinstance(value, dict):
        return {_replace(k): _replace(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v) for v in value]
    return value
