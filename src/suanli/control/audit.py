"""The audit trail: every change a person makes is recorded with who, when, what and on what, in
the same transaction as the change.

Money changes (top-ups, refunds, credit limits, budgets) record themselves with their amount and
reason (`record`), their target the request's path as every other change's. Every other change a person makes through the API (orgs, projects, members,
tokens, quotas, sites, prices, vouchers, cancels) is recorded at the API's one mutation seam
(`api.deps.Mutation.run` → `record_change`): the action is the route's name (`disable_org`), the
target its path (a creation's: the path of what it made), the detail the request body with anything secret-looking masked, and the amount
the sum the body names, if it names one (a voucher's face, a programme's budget, a pool's price),
else the one the made thing's answer names (a price book version's headline rate per hour, whose
body gives rates without a currency, or none at all where it keeps the version before's). Job submissions
are the product's ordinary use, not administration, and are left to the job's own events. Reading
the trail: operators see all of it, an org's owners, admins and finance members their org's
(`money.audit_events`), filtered by one of `ACTIONS`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from suanli.control.errors import Invalid
from suanli.control.principal import Principal
from suanli.control.views import ts
from suanli.domain.errors import FieldError
from suanli.domain.money import Money, parse_money
from suanli.store import Tx
from suanli.store.tables import AuditEvent

# Every action the trail records, so that a filter can refuse a name nothing records (`--action
# bogus` listed nothing, as if nothing had happened). Money changes record themselves under the
# first five; the others are the names of the routes a person calls through `api.deps.Mutation.run`.
# `record` refuses any other name, so a new route or call site fails its own tests until its name is
# added here. A renamed route keeps its old name here too while rows under it are kept.
ACTIONS = frozenset({
    # money, recorded with amount and reason
    "topup", "refund", "credit_limit", "budget", "payout",
    # tenancy
    "create_org", "set_quota", "disable_org", "enable_org", "create_project", "update_project",
    "disable_project", "add_member", "disable_member", "create_token", "revoke_token",
    # sites (`set_price`: a pool's one rate, or a price book version)
    "create_site", "new_enrollment_token", "disable_site", "enable_site", "update_site", "set_price",
    # vouchers
    "create_programme", "grant", "relate",
    # jobs (submissions are use, not administration: the job's events keep them)
    "cancel",
})  # fmt: skip


def known_action(action: str) -> str:
    """`action` if the trail records it; refused naming the allowed ones otherwise."""
    if action not in ACTIONS:
        raise Invalid(
            f"unknown action {action!r}", [FieldError("action", f"allowed: {', '.join(sorted(ACTIONS))}")]
        )
    return action


def record(
    tx: Tx,
    who: Principal,
    action: str,
    org_id: str | None,
    target: str,
    now: datetime,
    *,
    amount: Money | None = None,
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    if action not in ACTIONS:  # a bug, not bad input: see ACTIONS
        raise ValueError(f"audit action {action!r} is not in audit.ACTIONS")
    return tx.billing.add_audit(
        at=now,
        actor_id=who.key,
        actor=who.user_name or who.key,
        action=action,
        org_id=org_id,
        target=target,
        amount_minor=amount.minor if amount else None,
        currency=amount.currency if amount else None,
        reason=reason,
        detail=detail or {},
    )


_SECRET_WORDS = ("token", "secret", "password", "key")


def record_change(
    tx: Tx,
    who: Principal,
    action: str,
    target: str,
    params: dict[str, str],
    body: Any,
    now: datetime,
    *,
    created: Any = None,
) -> AuditEvent | None:
    """Record a change a person made through the API (see the module docstring); None when the
    caller is not a person (agents, enrollment tokens). `created`: the answer of a change that
    made something (201), whose target is then the new thing's path, not the collection's."""
    if who.kind != "user":
        return None
    detail = _masked(body) if isinstance(body, dict) else {}
    org_id = _org_of(tx, target, params, detail)
    amount = _amount_of(detail)
    if created is not None:
        target = _created_path(target, created, detail)
        if amount is None and isinstance(created, dict):
            amount = _amount_of(created)
    return record(tx, who, action, org_id, target, now, amount=amount, detail=detail)


def _created_path(collection: str, answer: Any, body: dict[str, Any]) -> str:
    """`POST /orgs/lab/projects {"name": "vision"}` made `/orgs/lab/projects/vision`: the new
    thing's id where the server gave it one (a token, a voucher), else the name or user the body
    gave it. Creations named by neither (a price version, an enrollment token, a relation) keep the
    path they were posted to."""
    named = answer.get("id") if isinstance(answer, dict) else None
    for key in ("name", "user"):
        named = named or body.get(key)
    return f"{collection}/{named}" if isinstance(named, str) and named else collection


# The fields that carry the one sum a change is about: a voucher's face, a programme's budget, a
# pool's price per hour (a body's, or a new price book version's answer: its headline rate, exact in
# minor units). The trail shows it as the change's amount, as money changes show theirs.
_AMOUNT_FIELDS = ("face", "budget", "price_per_hour")


def _amount_of(body: dict[str, Any]) -> Money | None:
    for field in _AMOUNT_FIELDS:
        text = body.get(field)
        if isinstance(text, str):
            try:
                return parse_money(text)
            except ValueError:  # the change refused it, or it is not one sum
                return None
    return None


def _masked(body: dict[str, Any]) -> dict[str, Any]:
    return {k: ("…" if any(word in k.lower() for word in _SECRET_WORDS) else v) for k, v in body.items()}


def _org_of(tx: Tx, target: str, params: dict[str, str], body: dict[str, Any]) -> str | None:
    """The org a change concerns: named in the path (`/orgs/{org}/…`, `/sites/{site}/…`), created by
    it (`POST /orgs`), or named in its body (`"org"`: a new site's owner); None: network-wide."""
    # an org's own routes name it `{name}` (`/orgs/{name}/quota`); its nested ones `{org}`
    named_in_path = params.get("name") if target.startswith("/orgs/") else None
    name = (
        params.get("org")
        or named_in_path
        or (body.get("name") if target == "/orgs" else None)
        or body.get("org")
    )
    if isinstance(name, str):
        org = tx.tenancy.org_by_name(name)
        return org.id if org else None
    # A site's routes name it `{site}` or, under `/sites/`, `{name}`: its provider org is concerned.
    site_name = params.get("site") or (params.get("name") if target.startswith("/sites/") else None)
    if site_name is not None:
        site = tx.sites.site_by_name(site_name)
        return site.org_id if site else None
    return None


# Money changes recorded before their targets were request paths: `org/project`, or a refund's job id
_OLD_MONEY_TARGETS = {"topup": "topups", "credit_limit": "credit-limit", "budget": "budget"}


def _path(action: str, target: str) -> str:
    """A row's target as a request path, as every change's is now (older money rows are rewritten)."""
    if target.startswith("/"):
        return target
    if action == "refund":
        return f"/jobs/{target}/refund"
    org, sep, project = target.partition("/")
    if action in _OLD_MONEY_TARGETS and sep:
        return f"/orgs/{org}/projects/{project}/{_OLD_MONEY_TARGETS[action]}"
    return target


# What a path's `collection/name` pairs name; the nested ones are named with their parent's name
_KINDS = {
    "orgs": "org", "projects": "project", "members": "member", "sites": "site", "pools": "pool",
    "tokens": "token", "voucher-programmes": "programme", "vouchers": "voucher", "jobs": "job",
}  # fmt: skip
_NESTED = frozenset({"projects", "members", "pools"})


def object_of(path: str) -> str:
    """What a change was made to, as a person names it: `/orgs/acme/projects/vision/topups` is
    `project acme/vision`, `/sites/sh/pools/a100/prices` is `pool sh/a100`, `/jobs/j1/refund` is
    `job j1`; a path naming nothing it knows (`/provider-relations`) is itself."""
    parts = path.strip("/").split("/")
    kind, name = "", ""
    for i in range(0, len(parts) - 1, 2):
        collection, named = parts[i], parts[i + 1]
        if collection not in _KINDS:
            break
        kind = _KINDS[collection]
        name = f"{name}/{named}" if collection in _NESTED and name else named
    return f"{kind} {name}" if kind else path


def view(row: AuditEvent) -> dict[str, Any]:
    amount = None
    if row.amount_minor is not None and row.currency:
        money = Money(row.amount_minor, row.currency)
        amount = {"minor": money.minor, "currency": money.currency, "text": str(money)}
    target = _path(row.action, row.target)
    return {
        "at": ts(row.at),
        "actor": row.actor,
        "action": row.action,
        "target": target,
        "object": object_of(target),
        "amount": amount,
        "reason": row.reason,
        "detail": row.detail,
    }
