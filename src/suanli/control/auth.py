"""Bearer tokens → principals: shape and checksum first, then the stored digest, expiry and scope."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from suanli.control.errors import Unauthorized
from suanli.control.principal import Principal
from suanli.domain.errors import InvalidToken
from suanli.domain.tokens import TokenKind, digest, mint, parse_kind
from suanli.store import Tx

KIND_NAMES = {
    TokenKind.TENANT: "tenant",
    TokenKind.OPERATOR: "operator",
    TokenKind.AGENT: "agent",
    TokenKind.ENROLLMENT: "enrollment",
}


def issue(
    tx: Tx,
    kind: TokenKind,
    name: str,
    now: datetime,
    *,
    ttl: timedelta | None,
    user_id: str | None = None,
    site_id: str | None = None,
) -> tuple[str, str]:
    """Mint a token, store its digest; return (token id, the token itself — shown once)."""
    token = mint(kind, secrets.token_bytes(24))
    row = tx.tenancy.add_token(
        digest=digest(token),
        kind=KIND_NAMES[kind],
        name=name,
        now=now,
        expires_at=now + ttl if ttl else None,
        user_id=user_id,
        site_id=site_id,
    )
    return row.id, token


def authenticate(tx: Tx, token: str | None, now: datetime) -> Principal:
    if not token:
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'", code="missing_token")
    try:
        kind = parse_kind(token)
    except InvalidToken as exc:
        raise Unauthorized(str(exc), code="malformed_token") from None
    row = tx.tenancy.token_by_digest(digest(token))
    if row is None or row.kind != KIND_NAMES[kind]:
        raise Unauthorized("unknown token", code="unknown_token")
    # A spent enrollment token still names its caller, so that a retried enroll (same
    # Idempotency-Key) gets its first answer; `accounts.enroll` refuses any other use of it.
    spent_enrollment = kind is TokenKind.ENROLLMENT and row.used_at is not None
    if row.revoked_at is not None and not spent_enrollment:
        raise Unauthorized("token was revoked", code="revoked_token")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthorized("token expired", code="expired_token")
    if kind in (TokenKind.AGENT, TokenKind.ENROLLMENT):
        if row.site_id is None:
            raise Unauthorized("token is not bound to a site", code="unknown_token")
        site = tx.sites.site(row.site_id)
        # A disabled site's agent enrolls and syncs: it gets no new work, what runs there finishes
        # and is reported, and a new site can offer its pools to be priced before it takes any job.
        if site is None:
            raise Unauthorized("the token's site no longer exists", code="unknown_token")
        return Principal(
            kind="agent" if kind is TokenKind.AGENT else "enrollment", token_id=row.id, site_id=row.site_id
        )
    user = tx.tenancy.user(row.user_id) if row.user_id else None
    if user is None or user.disabled:
        raise Unauthorized("the token's user is disabled", code="user_disabled")
    operator = kind is TokenKind.OPERATOR and user.is_operator
    roles = {m.org_id: m.role for m in tx.tenancy.memberships_of(user.id)}
    disabled_orgs = {o.id for o in tx.tenancy.orgs(list(roles)) if o.disabled}
    roles = {org: role for org, role in roles.items() if org not in disabled_orgs}
    return Principal(
        kind="user", token_id=row.id, user_id=user.id, user_name=user.name, operator=operator, roles=roles
    )
