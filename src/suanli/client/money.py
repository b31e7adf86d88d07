"""The money routes: balances, top-ups, price books, voucher programmes, vouchers and reports."""

from __future__ import annotations

from typing import Any

from suanli.client.base import RouteGroup, segment

__all__ = ["MoneyApi"]


class MoneyApi(RouteGroup):
    """Typed calls for balances, `/prices`, `/voucher-programmes` and `/vouchers`; each returns the JSON body."""

    def get_balance(self, org: str) -> dict[str, Any]:
        """Each project's balance, credit limit, holds, available funds and arrears; the org's live vouchers."""
        result: dict[str, Any] = self.request("GET", f"/orgs/{segment(org)}/balance")
        return result

    def topup(
        self,
        org: str,
        project: str,
        amount: str,
        *,
        transfer_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Add funds to a project (operators): `amount` such as "100.00" or "100.00 CNY"."""
        result: dict[str, Any] = self.request(
            "POST",
            f"/orgs/{segment(org)}/projects/{segment(project)}/topups",
            json={"amount": amount, "transfer_id": transfer_id},
            idempotency_key=idempotency_key,
        )
        return result

    def list_prices(self, site: str | None = None) -> dict[str, Any]:
        """Every price book version (of one site's pools if `site` is given), with `in_force`."""
        result: dict[str, Any] = self.request("GET", "/prices", params={"site": site})
        return result

    def set_price_book(
        self,
        site: str,
        pool: str,
        *,
        tenant: dict[str, str],
        wholesale: dict[str, str],
        currency: str = "CNY",
        minimum: str | None = None,
        effective_at: str | None = None,
    ) -> dict[str, Any]:
        """Append a price book version: rates per hour in major units keyed accelerator_hour, cpu_hour, gb_hour."""
        body = {
            "currency": currency,
            "tenant": tenant,
            "wholesale": wholesale,
            "minimum": minimum,
            "effective_at": effective_at,
        }
        result: dict[str, Any] = self.request(
            "POST", f"/sites/{segment(site)}/pools/{segment(pool)}/prices", json=body
        )
        return result

    def list_programmes(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "/voucher-programmes")
        return result

    def create_programme(self, name: str, budget: str, issuer: str = "") -> dict[str, Any]:
        """A voucher programme with a budget cap on what it may grant, e.g. budget "1000000.00 CNY"."""
        body = {"name": name, "budget": budget, "issuer": issuer}
        result: dict[str, Any] = self.request("POST", "/voucher-programmes", json=body)
        return result

    def grant_voucher(
        self,
        programme: str,
        org: str,
        face: str,
        *,
        valid_until: str,
        share: str = "1",
        valid_from: str | None = None,
        providers: list[str] | None = None,
        sites: list[str] | None = None,
        accelerators: list[str] | None = None,
    ) -> dict[str, Any]:
        """Grant `org` a voucher of `face` from `programme`; `share` such as "0.3" or "30%"."""
        body = {
            "org": org,
            "face": face,
            "share": share,
            "valid_from": valid_from,
            "valid_until": valid_until,
            "providers": providers or [],
            "sites": sites or [],
            "accelerators": accelerators or [],
        }
        result: dict[str, Any] = self.request(
            "POST", f"/voucher-programmes/{segment(programme)}/vouchers", json=body
        )
        return result

    def list_vouchers(self, org: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "/vouchers", params={"org": org})
        return result

    def programme_report(self, programme: str) -> dict[str, Any]:
        """Issued, redeemed, expired, clawed back and outstanding, by org and by provider."""
        result: dict[str, Any] = self.request("GET", f"/voucher-programmes/{segment(programme)}/report")
        return result

    def relate_provider(self, org: str, provider: str, note: str = "") -> dict[str, Any]:
        """Declare `org` related to provider `provider`: its vouchers never pay there."""
        body = {"org": org, "provider": provider, "note": note}
        result: dict[str, Any] = self.request("POST", "/provider-relations", json=body)
        return result
