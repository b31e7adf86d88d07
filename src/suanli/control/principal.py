"""Who is calling: the authenticated principal and what it may see."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    """A user (tenant member or operator) or a site agent, as resolved from a bearer token."""

    kind: str  # "user" | "agent" | "enrollment"
    token_id: str
    user_id: str | None = None
    user_name: str | None = None
    operator: bool = False
    site_id: str | None = None
    # org id → role, for the user's active memberships.
    roles: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The scope of idempotency keys: one user, or one site."""
        return self.user_id or self.site_id or self.token_id

    def visible_orgs(self) -> list[str] | None:
        """Org ids whose objects the caller may see; None means all (operators)."""
        return None if self.operator else list(self.roles)

    def can_admin(self, org_id: str) -> bool:
        return self.operator or self.roles.get(org_id) in ("owner", "admin")

    def can_submit(self, org_id: str) -> bool:
        return self.operator or self.roles.get(org_id) in ("owner", "admin", "member")
