"""The tenancy routes: orgs, their projects and members, API tokens, and who the caller is."""

from __future__ import annotations

from typing import Any

from suanli.client.base import RouteGroup, segment

__all__ = ["TenancyApi"]


def _page(limit: int | None, cursor: str | None) -> dict[str, Any]:
    return {"limit": limit, "cursor": cursor}


class TenancyApi(RouteGroup):
    """Typed calls for `/orgs`, `/tokens` and `/whoami`; every method returns the decoded JSON body."""

    # -- orgs --------------------------------------------------------------------------------------

    def create_org(self, name: str, kind: str, idempotency_key: str | None = None) -> dict[str, Any]:
        """Create an org; `kind` is `tenant` or `provider`."""
        body = {"name": name, "kind": kind}
        result: dict[str, Any] = self.request("POST", "/orgs", json=body, idempotency_key=idempotency_key)
        return result

    def list_orgs(self, *, limit: int | None = None, cursor: str | None = None) -> dict[str, Any]:
        """One page of the orgs the caller can see."""
        result: dict[str, Any] = self.request("GET", "/orgs", params=_page(limit, cursor))
        return result

    def get_org(self, name: str) -> dict[str, Any]:
        """One org."""
        result: dict[str, Any] = self.request("GET", f"/orgs/{segment(name)}")
        return result

    def set_quota(
        self,
        org: str,
        *,
        guaranteed_cu: str = "0",
        limit_cu: str | None = None,
        max_priority: str = "normal",
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Set an org's quota in compute units and the highest priority class it may use (operators)."""
        body = {"guaranteed_cu": guaranteed_cu, "limit_cu": limit_cu, "max_priority": max_priority}
        result: dict[str, Any] = self.request(
            "PUT", f"/orgs/{segment(org)}/quota", json=body, idempotency_key=idempotency_key
        )
        return result

    def disable_org(self, name: str) -> dict[str, Any]:
        """Disable an org: its members' tokens no longer reach it, and its queued jobs wait."""
        result: dict[str, Any] = self.request("POST", f"/orgs/{segment(name)}/disable")
        return result

    def enable_org(self, name: str) -> dict[str, Any]:
        """Undo `disable_org`: the org's members reach it again and its queued jobs are placed."""
        result: dict[str, Any] = self.request("POST", f"/orgs/{segment(name)}/enable")
        return result

    # -- projects ----------------------------------------------------------------------------------

    def create_project(
        self,
        org: str,
        name: str,
        idempotency_key: str | None = None,
        *,
        on_funds_exhausted: str | None = None,
    ) -> dict[str, Any]:
        """Create a project (a billing account) in `org`; `on_funds_exhausted`: stop (default) or continue."""
        body: dict[str, Any] = {"name": name}
        if on_funds_exhausted is not None:
            body["on_funds_exhausted"] = on_funds_exhausted
        result: dict[str, Any] = self.request(
            "POST", f"/orgs/{segment(org)}/projects", json=body, idempotency_key=idempotency_key
        )
        return result

    def update_project(self, org: str, name: str, *, on_funds_exhausted: str | None = None) -> dict[str, Any]:
        """Change a project's settings: what happens to its running jobs when its funds run out."""
        result: dict[str, Any] = self.request(
            "PATCH",
            f"/orgs/{segment(org)}/projects/{segment(name)}",
            json={"on_funds_exhausted": on_funds_exhausted},
        )
        return result

    def list_projects(
        self, org: str, *, limit: int | None = None, cursor: str | None = None
    ) -> dict[str, Any]:
        """One page of `org`'s projects."""
        result: dict[str, Any] = self.request(
            "GET", f"/orgs/{segment(org)}/projects", params=_page(limit, cursor)
        )
        return result

    def disable_project(self, org: str, name: str) -> dict[str, Any]:
        """Disable a project: no new jobs are accepted for it."""
        result: dict[str, Any] = self.request(
            "POST", f"/orgs/{segment(org)}/projects/{segment(name)}/disable"
        )
        return result

    # -- members -----------------------------------------------------------------------------------

    def add_member(
        self, org: str, user: str, role: str, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Add `user` to `org` with `role`; the server creates the user if new."""
        result: dict[str, Any] = self.request(
            "POST",
            f"/orgs/{segment(org)}/members",
            json={"user": user, "role": role},
            idempotency_key=idempotency_key,
        )
        return result

    def list_members(
        self, org: str, *, limit: int | None = None, cursor: str | None = None
    ) -> dict[str, Any]:
        """One page of `org`'s members and their roles."""
        result: dict[str, Any] = self.request(
            "GET", f"/orgs/{segment(org)}/members", params=_page(limit, cursor)
        )
        return result

    def disable_member(self, org: str, user: str) -> dict[str, Any]:
        """Remove `user`'s access to `org`."""
        result: dict[str, Any] = self.request("POST", f"/orgs/{segment(org)}/members/{segment(user)}/disable")
        return result

    # -- tokens ------------------------------------------------------------------------------------

    def create_token(
        self,
        name: str,
        *,
        user: str | None = None,
        expires_in: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Mint an API token; the answer's `token` is shown this once and never again."""
        body: dict[str, Any] = {"name": name}
        if user is not None:
            body["user"] = user
        if expires_in is not None:
            body["expires_in"] = expires_in
        result: dict[str, Any] = self.request("POST", "/tokens", json=body, idempotency_key=idempotency_key)
        return result

    def list_tokens(self, *, limit: int | None = None, cursor: str | None = None) -> dict[str, Any]:
        """One page of tokens (their metadata, never their secrets)."""
        result: dict[str, Any] = self.request("GET", "/tokens", params=_page(limit, cursor))
        return result

    def revoke_token(self, token_id: str) -> dict[str, Any]:
        """Revoke a token at once."""
        result: dict[str, Any] = self.request("POST", f"/tokens/{segment(token_id)}/revoke")
        return result

    # -- the caller --------------------------------------------------------------------------------

    def whoami(self) -> dict[str, Any]:
        """The caller: `{"user", "operator", "memberships": [{"org", "role"}]}`."""
        result: dict[str, Any] = self.request("GET", "/whoami")
        return result
