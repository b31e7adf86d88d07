"""The money routes: balances, top-ups, price books, voucher programmes, vouchers and reports."""

from __future__ import annotations

from typing import Any

from suanli.client.base import RouteGroup, segment

__all__ = ["MoneyApi"]


class MoneyApi(RouteGroup):
    """Typed calls for balances, `/prices`, `/voucher-programmes`, `/vouchers`, statements,
    settlements, usage, budgets, credit limits and `/audit`; each returns the JSON body (a
    statement or settlement asked for as CSV or HTML: its text)."""

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
        reason: str = "",
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Add funds to a project (operators): `amount` such as "100.00" or "100.00 CNY"; `reason`
        goes to the audit trail."""
        result: dict[str, Any] = self.request(
            "POST",
            f"/orgs/{segment(org)}/projects/{segment(project)}/topups",
            json={"amount": amount, "transfer_id": transfer_id, "reason": reason},
            idempotency_key=idempotency_key,
        )
        return result

    def payout(
        self,
        provider: str,
        amount: str,
        reason: str,
        *,
        transfer_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Record a payment to a provider org (operators): what it is owed goes down by `amount`;
        `reason` (the payment's reference) goes to the audit trail."""
        result: dict[str, Any] = self.request(
            "POST",
            f"/orgs/{segment(provider)}/payouts",
            json={"amount": amount, "transfer_id": transfer_id, "reason": reason},
            idempotency_key=idempotency_key,
        )
        return result

    def refund_job(
        self, job_id: str, reason: str, *, attempt: int | None = None, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Refund every charge of a job (or of its attempt number `attempt`) not refunded yet
        (operators); `reason` goes to the audit trail."""
        body: dict[str, Any] = {"reason": reason}
        if attempt is not None:
            body["attempt"] = attempt
        result: dict[str, Any] = self.request(
            "POST",
            f"/jobs/{segment(job_id)}/refund",
            json=body,
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
        currency: str | None = None,
        minimum: str | None = None,
        effective_at: str | None = None,
    ) -> dict[str, Any]:
        """Append a price book version: rates per hour in major units keyed accelerator_hour, cpu_hour,
        gb_hour; what is left out (None: the currency) keeps the pool's newest version's."""
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
        """Issued, redeemed, restored, expired, clawed back and outstanding, by org and by provider."""
        result: dict[str, Any] = self.request("GET", f"/voucher-programmes/{segment(programme)}/report")
        return result

    def check_ledger(self) -> dict[str, Any]:
        """The ledger's truths checked on the database: `consistent`, what was `read`, and each
        check's findings (operators)."""
        result: dict[str, Any] = self.request("GET", "/ledger/check")
        return result

    def relate_provider(self, org: str, provider: str, note: str = "") -> dict[str, Any]:
        """Declare `org` related to provider `provider`: its vouchers never pay there."""
        body = {"org": org, "provider": provider, "note": note}
        result: dict[str, Any] = self.request("POST", "/provider-relations", json=body)
        return result

    def statement(
        self, org: str, *, month: str | None = None, project: str | None = None, format: str = "json"
    ) -> Any:
        """A month's statement of `org` (or one project): JSON, or the text of "csv" or "html"."""
        params = {"month": month, "project": project, "format": format}
        return self.request("GET", f"/orgs/{segment(org)}/statements", params=params)

    def settlements(
        self, *, provider: str | None = None, month: str | None = None, format: str = "json"
    ) -> Any:
        """Providers' payables for a month, reconciled with their sites' usage: JSON or CSV text."""
        params = {"provider": provider, "month": month, "format": format}
        return self.request("GET", "/settlements", params=params)

    def usage(
        self,
        *,
        by: str = "project",
        org: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> dict[str, Any]:
        """Compute-hours (and, for finance, charges) grouped by project, site, user or month."""
        params = {"by": by, "org": org, "since": since, "until": until}
        result: dict[str, Any] = self.request("GET", "/usage", params=params)
        return result

    def get_budget(self, org: str, project: str, *, month: str | None = None) -> dict[str, Any]:
        """The budget in force for `month` (default: this month), its spend, and threshold events."""
        path = f"/orgs/{segment(org)}/projects/{segment(project)}/budget"
        result: dict[str, Any] = self.request("GET", path, params={"month": month})
        return result

    def set_budget(
        self,
        org: str,
        project: str,
        amount: str,
        *,
        month: str,
        thresholds: list[int] | None = None,
        hard_cap: bool = False,
        reason: str = "",
    ) -> dict[str, Any]:
        """Set `project`'s budget for `month` (YYYY-MM, or "*" for every month without its own)."""
        body = {
            "month": month,
            "amount": amount,
            "thresholds": thresholds,
            "hard_cap": hard_cap,
            "reason": reason,
        }
        path = f"/orgs/{segment(org)}/projects/{segment(project)}/budget"
        result: dict[str, Any] = self.request("PUT", path, json=body)
        return result

    def set_credit_limit(self, org: str, project: str, limit: str, *, reason: str = "") -> dict[str, Any]:
        """How far below zero the project's cash may go (operators), e.g. "500.00 CNY"."""
        path = f"/orgs/{segment(org)}/projects/{segment(project)}/credit-limit"
        result: dict[str, Any] = self.request("PUT", path, json={"limit": limit, "reason": reason})
        return result

    def audit(self, *, org: str | None = None, action: str | None = None) -> dict[str, Any]:
        """The audit trail of every change people made (money changes with how much and why); `action`
        one of the names it records, else a 422 listing them."""
        result: dict[str, Any] = self.request("GET", "/audit", params={"org": org, "action": action})
        return result
