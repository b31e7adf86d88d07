"""The site routes: list and inspect sites with their pools, add sites, enrollment tokens."""

from __future__ import annotations

from typing import Any

from suanli.client.base import RouteGroup, segment

__all__ = ["SitesApi"]


class SitesApi(RouteGroup):
    """Typed calls for `/sites`; every method returns the decoded JSON body."""

    def list_sites(self, *, limit: int | None = None, cursor: str | None = None) -> dict[str, Any]:
        """Sites with their pools and free capacity: `{"items": [...], "next_cursor": ...}`."""
        result: dict[str, Any] = self.request("GET", "/sites", params={"limit": limit, "cursor": cursor})
        return result

    def workload(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """One page of ended jobs as a trace (`/workload`): `{"items", "skipped", "next_cursor", ...}`."""
        params = {"since": since, "until": until, "cursor": cursor, "limit": limit}
        result: dict[str, Any] = self.request("GET", "/workload", params=params)
        return result

    def get_site(self, name: str) -> dict[str, Any]:
        """One site with its pools."""
        result: dict[str, Any] = self.request("GET", f"/sites/{segment(name)}")
        return result

    def create_site(
        self, name: str, org: str, region: str | None = None, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Register a site of provider `org`: `{"site": Site, "enrollment_token": "sle_…"}`."""
        body = {"name": name, "org": org, "region": region}
        result: dict[str, Any] = self.request("POST", "/sites", json=body, idempotency_key=idempotency_key)
        return result

    def update_site(
        self,
        name: str,
        *,
        region: str | None = None,
        pue: str | None = None,
        carbon_g_per_kwh: int | None = None,
        bandwidth_mbps: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        """Set a site's region, energy profile and bandwidth; fields left None are unchanged."""
        fields: dict[str, Any] = {
            "region": region,
            "pue": pue,
            "carbon_g_per_kwh": carbon_g_per_kwh,
            "bandwidth_mbps": bandwidth_mbps,
        }
        body = {k: v for k, v in fields.items() if v is not None}
        result: dict[str, Any] = self.request("PATCH", f"/sites/{segment(name)}", json=body)
        return result

    def set_pool_price(self, site: str, pool: str, price_per_hour: str | None) -> dict[str, Any]:
        """Price a pool per accelerator-hour (CPU-hour for a CPU pool), e.g. "38.00 CNY"; None unprices it."""
        result: dict[str, Any] = self.request(
            "POST",
            f"/sites/{segment(site)}/pools/{segment(pool)}/price",
            json={"price_per_hour": price_per_hour},
        )
        return result

    def new_enrollment_token(self, name: str) -> dict[str, Any]:
        """A fresh single-use enrollment token for site `name`."""
        result: dict[str, Any] = self.request("POST", f"/sites/{segment(name)}/enrollment-tokens")
        return result

    def disable_site(self, name: str) -> dict[str, Any]:
        """Stop placing new jobs on site `name`."""
        result: dict[str, Any] = self.request("POST", f"/sites/{segment(name)}/disable")
        return result

    def enable_site(self, name: str) -> dict[str, Any]:
        """Place jobs on site `name` again."""
        result: dict[str, Any] = self.request("POST", f"/sites/{segment(name)}/enable")
        return result
