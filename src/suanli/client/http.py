"""The HTTP client for `/api/v1`: auth, idempotency keys and problem-details errors."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from suanli.client.jobs import JobsApi
from suanli.client.money import MoneyApi
from suanli.client.sites import SitesApi
from suanli.client.tenancy import TenancyApi

__all__ = ["API_PREFIX", "ApiError", "Client", "ClientError", "ServerUnreachable"]

API_PREFIX = "/api/v1"


class ClientError(Exception):
    """Base of every error the client raises."""


class ServerUnreachable(ClientError):
    """The server could not be reached or did not answer in time."""


class ApiError(ClientError):
    """The server answered with a problem-details error."""

    def __init__(self, status: int, code: str, detail: str, errors: list[dict[str, Any]] | None = None):
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors or []
        super().__init__(f"{detail} ({code}, HTTP {status})")


class Client(JobsApi, MoneyApi, SitesApi, TenancyApi):
    """A thin, synchronous client; every method returns the decoded JSON body.

    The typed calls live with their routes (`jobs`, `sites`, `tenancy`); this class owns the transport.
    """

    def __init__(
        self,
        server: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        headers = {"User-Agent": "suanli-client"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.server + API_PREFIX, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send one request; mutating calls get an Idempotency-Key so a retry is safe. Returns the
        decoded JSON, or the text of a `text/*` answer."""
        headers: dict[str, str] = {}
        if method in ("POST", "PATCH", "PUT", "DELETE"):
            headers["Idempotency-Key"] = idempotency_key or secrets.token_urlsafe(16)
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            resp = self._http.request(
                method,
                path,
                json=json,
                params=clean,
                headers=headers,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"cannot reach {self.server}: {exc}") from exc
        if resp.status_code >= 400:
            raise _problem(resp)
        if not resp.content:
            return None
        if resp.headers.get("content-type", "").startswith("text/"):
            return resp.text  # a document (a statement as CSV or HTML), not JSON
        return resp.json()

    # -- health ------------------------------------------------------------------------------------

    def healthz(self) -> dict[str, Any]:
        """`{"status", "database", "version"}`; probes `/healthz` at the server root, then under the API."""
        try:
            result: dict[str, Any] = self.request("GET", self.server + "/healthz")
        except ApiError as exc:
            if exc.status != 404:
                raise
            result = self.request("GET", "/healthz")
        return result

    # -- agent endpoints ---------------------------------------------------------------------------

    def enroll(self, site: str) -> dict[str, Any]:
        """Spend this client's enrollment token for an agent token of `site`."""
        result: dict[str, Any] = self.request("POST", "/agent/enroll", json={"site": site})
        return result

    def agent_sync(self, body: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        """One sync round trip (see docs/api.md); `timeout` must exceed the body's `wait`."""
        result: dict[str, Any] = self.request("POST", "/agent/sync", json=body, timeout=timeout)
        return result


def _problem(resp: httpx.Response) -> ApiError:
    try:
        body = resp.json()
    except ValueError:
        return ApiError(resp.status_code, "http_error", resp.text[:200] or resp.reason_phrase)
    if not isinstance(body, dict):
        return ApiError(resp.status_code, "http_error", str(body)[:200])
    return ApiError(
        resp.status_code,
        str(body.get("code", "http_error")),
        str(body.get("detail") or body.get("title") or resp.reason_phrase),
        body.get("errors"),
    )
