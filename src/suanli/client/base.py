"""The seam every group of routes builds on: one abstract `request` and safe path segments."""

from __future__ import annotations

import abc
from typing import Any
from urllib.parse import quote

__all__ = ["RouteGroup", "segment"]


def segment(value: str) -> str:
    """Quote one path segment, so a name such as `a/b` or `x y` cannot change the route."""
    return quote(str(value), safe="@:+")


class RouteGroup(abc.ABC):
    """A family of typed API calls; `Client` supplies the transport by implementing `request`."""

    @abc.abstractmethod
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
        """Send one request and return the decoded JSON body (None for an empty body)."""
