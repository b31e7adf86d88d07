"""First start of an embedded network: an operator, a demo tenant, a local site, and their tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from suanli.control.accounts import enrollment_token
from suanli.control.auth import issue
from suanli.domain.tokens import TokenKind
from suanli.store import Database

OPERATOR = "operator"
DEMO_ORG = "demo"
DEMO_PROJECT = "default"
DEMO_USER = "demo"
PROVIDER_ORG = "local-provider"


@dataclass(frozen=True)
class FirstStart:
    """Tokens minted on first start (None when the network already existed)."""

    operator_token: str
    tenant_token: str


def ensure_operator(db: Database, now: datetime) -> str | None:
    """Create the operator account and return its token, or None if one exists already."""
    with db.transaction() as tx:
        if tx.tenancy.user_by_name(OPERATOR) is not None:
            return None
        user = tx.tenancy.add_user(OPERATOR, now, operator=True)
        _, token = issue(tx, TokenKind.OPERATOR, "bootstrap", now, ttl=timedelta(days=3650), user_id=user.id)
        return token


def ensure_demo(db: Database, now: datetime) -> FirstStart | None:
    """Operator + demo tenant org/project/member with a token; None when they exist already."""
    operator = ensure_operator(db, now)
    with db.transaction() as tx:
        if tx.tenancy.org_by_name(DEMO_ORG) is not None or operator is None:
            return None
        org = tx.tenancy.add_org(DEMO_ORG, "tenant", now)
        tx.tenancy.add_project(org.id, DEMO_PROJECT, now)
        user = tx.tenancy.user_by_name(DEMO_USER) or tx.tenancy.add_user(DEMO_USER, now)
        tx.tenancy.add_membership(org.id, user.id, "owner", now)
        _, tenant = issue(tx, TokenKind.TENANT, "demo", now, ttl=timedelta(days=3650), user_id=user.id)
    return FirstStart(operator, tenant)


def site_seen_since(db: Database, site_name: str, since: datetime) -> datetime | None:
    """When an agent of this site last synced, if that was at or after `since`; else None."""
    with db.transaction() as tx:
        site = tx.sites.site_by_name(site_name)
        seen = site.last_seen_at if site is not None else None
    return seen if seen is not None and seen >= since else None


def local_site_token(
    db: Database, site_name: str, region: str, now: datetime, *, force: bool = False
) -> str | None:
    """An enrollment token for the embedded local site; None if it is enrolled (unless `force`)."""
    with db.transaction() as tx:
        site = tx.sites.site_by_name(site_name)
        if site is None:
            org = tx.tenancy.org_by_name(PROVIDER_ORG) or tx.tenancy.add_org(PROVIDER_ORG, "provider", now)
            site = tx.sites.add_site(site_name, org.id, region, now)
        if site.enrolled_at is not None and not force:
            return None
        return enrollment_token(tx, site, now)
