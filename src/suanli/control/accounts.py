"""Orgs, projects, members, tokens and sites: the admin operations, with who may do each."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from suanli.control.auth import KIND_NAMES, issue
from suanli.control.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from suanli.control.principal import Principal
from suanli.domain.errors import FieldError
from suanli.domain.resources import parse_duration_s
from suanli.domain.spec import PRIORITIES
from suanli.domain.tokens import TokenKind
from suanli.store import Tx
from suanli.store.tables import Membership, Org, OrgQuota, Project, Site, User

ROLES = ("owner", "admin", "finance", "member", "viewer")
ORG_KINDS = ("tenant", "provider")
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")


def check_name(field: str, value: str, pattern: re.Pattern[str] = NAME) -> str:
    if not pattern.match(value):
        raise Invalid(
            f"invalid {field} {value!r}",
            [
                FieldError(
                    field,
                    "use lowercase letters, digits, '.', '_' or '-' (1–63), starting with a letter or digit",
                )
            ],
        )
    return value


def require_operator(who: Principal) -> None:
    if not who.operator:
        raise Forbidden("only platform operators may do this")


def require_user(who: Principal) -> None:
    """Tenant and operator routes: a site's agent or enrollment token is refused whatever it names."""
    if who.kind != "user":
        raise Forbidden("this route takes a user token (slt_… or slo_…), not a site's token")


def require_owner_rights(who: Principal, membership: Membership) -> None:
    """Only an owner (or an operator) may change or disable an owner: admins cannot remove them."""
    if membership.role == "owner" and not who.operator and who.roles.get(membership.org_id) != "owner":
        raise Forbidden("only an owner may change or disable an owner")


def org_for(tx: Tx, who: Principal, name: str, *, admin: bool = False) -> Org:
    require_user(who)
    org = tx.tenancy.org_by_name(name)
    visible = who.visible_orgs()
    if org is None or who.kind != "user" or (visible is not None and org.id not in visible):
        raise NotFound(f"no org {name!r}")
    if admin and not who.can_admin(org.id):
        raise Forbidden(f"you are not an owner or admin of {name}")
    return org


def create_org(tx: Tx, who: Principal, name: str, kind: str, now: datetime) -> Org:
    require_operator(who)
    check_name("name", name)
    if kind not in ORG_KINDS:
        raise Invalid(f"unknown org kind {kind!r}", [FieldError("kind", "allowed: tenant, provider")])
    if tx.tenancy.org_by_name(name):
        raise Conflict(f"org {name!r} already exists", code="exists")
    return tx.tenancy.add_org(name, kind, now)


def create_project(
    tx: Tx, who: Principal, org_name: str, name: str, now: datetime, *, on_funds_exhausted: str = "stop"
) -> Project:
    org = org_for(tx, who, org_name, admin=True)
    check_name("name", name)
    check_funds_policy(on_funds_exhausted)
    if tx.tenancy.project_by_name(org.id, name):
        raise Conflict(f"project {org_name}/{name} already exists", code="exists")
    project = tx.tenancy.add_project(org.id, name, now)
    project.on_funds_exhausted = on_funds_exhausted
    return project


def update_project(
    tx: Tx, who: Principal, org_name: str, name: str, *, on_funds_exhausted: str | None
) -> tuple[Project, str]:
    """Change a project's settings (the org's owners and admins, operators); returns it and its org name."""
    org = org_for(tx, who, org_name, admin=True)
    project = tx.tenancy.project_by_name(org.id, name)
    if project is None:
        raise NotFound(f"no project {org_name}/{name}")
    if on_funds_exhausted is not None:
        check_funds_policy(on_funds_exhausted)
        project.on_funds_exhausted = on_funds_exhausted
    return project, org.name


FUNDS_POLICIES = ("stop", "continue")  # projects.on_funds_exhausted; control/charging acts on "stop"


def check_funds_policy(value: str) -> None:
    if value not in FUNDS_POLICIES:
        raise Invalid(
            f"unknown funds policy {value!r}",
            [FieldError("on_funds_exhausted", f"allowed: {', '.join(FUNDS_POLICIES)}")],
        )


def add_member(tx: Tx, who: Principal, org_name: str, user_name: str, role: str, now: datetime) -> User:
    org = org_for(tx, who, org_name, admin=True)
    check_name("user", user_name, USER)
    if role not in ROLES:
        raise Invalid(f"unknown role {role!r}", [FieldError("role", f"allowed: {', '.join(ROLES)}")])
    if role == "owner" and not who.operator and who.roles.get(org.id) != "owner":
        raise Forbidden("only an owner may add another owner")
    user = tx.tenancy.user_by_name(user_name) or tx.tenancy.add_user(user_name, now)
    existing = tx.tenancy.membership(org.id, user.id)
    if existing:
        require_owner_rights(who, existing)
        existing.role, existing.disabled = role, False
    else:
        tx.tenancy.add_membership(org.id, user.id, role, now)
    return user


def create_token(
    tx: Tx,
    who: Principal,
    name: str,
    user_name: str | None,
    expires_in: str | None,
    operator: bool | None,
    now: datetime,
) -> tuple[str, str, datetime | None]:
    """A user token; members mint their own, org admins and operators for others. `operator` None
    mints the kind the caller holds for the caller (an operator's own new token is an operator
    token: a tenant token of the operator's account has no org and so no rights) and a tenant token
    for anyone else."""
    if who.kind != "user" or who.user_id is None:
        raise Forbidden("only users create user tokens")
    user = tx.tenancy.user(who.user_id)
    if user_name and user_name != who.user_name:
        target = tx.tenancy.user_by_name(user_name)
        shared = {m.org_id for m in tx.tenancy.memberships_of(target.id)} if target else set()
        if target is None or not (who.operator or any(who.can_admin(o) for o in shared)):
            raise NotFound(f"no user {user_name!r}")
        user = target
    assert user is not None
    if operator is None:
        operator = who.operator and user.id == who.user_id
    if operator and not (who.operator and user.is_operator):
        raise Forbidden("operator tokens are only for operators")
    try:
        seconds = parse_duration_s(expires_in or "90d")
    except ValueError as exc:
        raise Invalid(str(exc), [FieldError("expires_in", "a duration such as 30d or 12h")]) from None
    if not 60 <= seconds <= 3650 * 86400:  # checked before timedelta, which overflows on huge ones
        raise Invalid("expires_in out of range", [FieldError("expires_in", "between 1m and 3650d")])
    ttl = timedelta(seconds=seconds)
    kind = TokenKind.OPERATOR if operator else TokenKind.TENANT
    token_id, token = issue(tx, kind, name, now, ttl=ttl, user_id=user.id)
    return token_id, token, now + ttl


def create_site(
    tx: Tx, who: Principal, name: str, org_name: str, region: str, now: datetime
) -> tuple[Site, str]:
    org = org_for(tx, who, org_name, admin=True)
    check_name("name", name)
    if region:
        check_name("region", region)
    if org.kind != "provider":
        raise Invalid(f"org {org_name!r} is a tenant", [FieldError("org", "sites belong to provider orgs")])
    if tx.sites.site_by_name(name):
        raise Conflict(f"site {name!r} already exists", code="exists")
    site = tx.sites.add_site(name, org.id, region, now)
    return site, enrollment_token(tx, site, now)


def enrollment_token(tx: Tx, site: Site, now: datetime) -> str:
    _, token = issue(
        tx, TokenKind.ENROLLMENT, f"enroll {site.name}", now, ttl=timedelta(days=7), site_id=site.id
    )
    return token


def site_for(tx: Tx, who: Principal, name: str, *, admin: bool = False) -> Site:
    site = tx.sites.site_by_name(name)
    if site is None:
        raise NotFound(f"no site {name!r}")
    if admin and not who.can_admin(site.org_id):
        raise Forbidden(f"you do not administer site {name}")
    return site


def enroll(tx: Tx, who: Principal, site_name: str, now: datetime) -> str:
    """Spend an enrollment token for a long-lived agent token of the same site. A site has one agent:
    the agent tokens issued before are revoked, so an agent moved to a new machine cannot go on
    syncing from the old one (its next sync is refused, and it stops)."""
    if who.kind != "enrollment" or who.site_id is None:
        raise Forbidden("enroll with the site's enrollment token (sle_…)")
    site = tx.sites.site(who.site_id)
    if site is None or site.name != site_name:
        raise Forbidden(f"this enrollment token is not for site {site_name!r}")
    # Single use, even for two enrolls racing with the same token: only one spends it.
    if not tx.tenancy.spend_token(who.token_id, now):
        raise Unauthorized("this enrollment token was already used", code="revoked_token")
    site.enrolled_at = now
    tx.tenancy.revoke_site_tokens(site.id, KIND_NAMES[TokenKind.AGENT], now)
    _, token = issue(tx, TokenKind.AGENT, f"agent {site.name}", now, ttl=None, site_id=site.id)
    return token


def update_site(
    tx: Tx,
    who: Principal,
    name: str,
    *,
    region: str | None,
    pue: str | None,
    carbon_g_per_kwh: int | None,
    bandwidth_mbps: dict[str, int] | None = None,
) -> Site:
    """Set a site's region, energy profile and bandwidth (fields left None are unchanged)."""
    site = site_for(tx, who, name, admin=True)
    if region is not None:
        site.region = check_name("region", region) if region else ""
    if pue is not None:
        try:
            value = Decimal(pue)
        except InvalidOperation:
            value = Decimal(0)
        if not (value.is_finite() and Decimal(1) <= value <= Decimal(3)) or value != value.quantize(
            Decimal("0.001")
        ):
            raise Invalid("invalid pue", [FieldError("pue", "a number from 1.0 to 3.0, e.g. 1.25")])
        site.pue_milli = int(value * 1000)
    if carbon_g_per_kwh is not None:
        if not 0 <= carbon_g_per_kwh <= 2000:
            raise Invalid("invalid carbon_g_per_kwh", [FieldError("carbon_g_per_kwh", "0–2000 gCO2e/kWh")])
        site.carbon_g_per_kwh = carbon_g_per_kwh
    if bandwidth_mbps is not None:
        for region, mbps in bandwidth_mbps.items():
            if region != "*":
                check_name("bandwidth_mbps", region)
            if not isinstance(mbps, int) or not 1 <= mbps <= 10_000_000:
                raise Invalid(
                    "invalid bandwidth_mbps",
                    [FieldError(f"bandwidth_mbps.{region}", "Mbit/s from that region, 1–10000000")],
                )
        site.bandwidth_mbps = dict(bandwidth_mbps)
    return site


def set_quota(
    tx: Tx,
    who: Principal,
    org_name: str,
    *,
    guaranteed_cu: str,
    limit_cu: str | None,
    max_priority: str,
    now: datetime,
) -> OrgQuota:
    """Set an org's quota in compute units (operators only): `guaranteed` is always its own, up to
    `limit` (None: no limit) it may borrow idle capacity; `max_priority` is the highest class its
    jobs may ask for."""
    require_operator(who)
    org = org_for(tx, who, org_name)
    guaranteed = _cu_milli("guaranteed_cu", guaranteed_cu)
    limit = _cu_milli("limit_cu", limit_cu) if limit_cu is not None else None
    if limit is not None and limit < guaranteed:
        least = f"at least the guaranteed quota, {Decimal(guaranteed) / 1000} CU"
        raise Invalid("a limit below the guaranteed quota", [FieldError("limit_cu", least)])
    if max_priority not in PRIORITIES:
        raise Invalid("invalid quota", [FieldError("max_priority", f"one of {', '.join(PRIORITIES)}")])
    return tx.tenancy.set_quota(
        org.id, guaranteed_cu_milli=guaranteed, limit_cu_milli=limit, max_priority=max_priority, now=now
    )


def _cu_milli(field: str, text: str) -> int:
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0 or value > 10_000_000 or value != value.quantize(Decimal("0.001")):
        raise Invalid(
            "invalid quota", [FieldError(field, "compute units from 0, e.g. 64 or 12.5 (A100 = 1)")]
        )
    return int(value * 1000)
