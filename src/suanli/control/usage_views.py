"""Usage grouped by site, user, month or project: compute-hours from the usage records the sites
reported, and what was charged for them (net of refunds) from the ledger. CPU-hours are what was
held (the attempt's CPUs × its wall time), as charges price them; `cpu_used_hours` is the CPU time
the site reported (measured by the local backend, the allocation on Slurm and Ray).

Members of an org see its usage; the charged amounts only its owners, admins and finance members
(and operators): money is finance's. A provider org's members see the usage on its sites, by site
or month, without what its tenants were charged (what the provider is owed is the settlement's). Records count by when the server received them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from suanli.control.accounts import org_for, require_user
from suanli.control.charges import parts_by_transfer
from suanli.control.errors import Invalid
from suanli.control.ledger import usage_key
from suanli.control.money import MONEY_ROLES, money_view
from suanli.control.principal import Principal
from suanli.control.views import ts
from suanli.domain.billing import hours, month_of
from suanli.domain.errors import FieldError
from suanli.store import Tx
from suanli.store.tables import Attempt, Job, Org, UsageRecord

GROUPS = ("project", "site", "user", "month")
PROVIDER_GROUPS = ("site", "month")  # a provider sees its sites' usage, not its tenants' projects or users


@dataclass
class _Group:
    records: int = 0
    wall: int = 0
    accelerator: int = 0
    cpu: int = 0  # allocated CPU-seconds: CPUs held × wall time, what the charge prices
    cpu_used: int = 0  # as the site reported it: measured (local) or allocated (Slurm, Ray)
    charged: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def usage(
    tx: Tx,
    who: Principal,
    *,
    by: str,
    org: str | None,
    since: datetime | None,
    until: datetime | None,
) -> dict[str, Any]:
    require_user(who)
    if by not in GROUPS:
        raise Invalid(f"cannot group by {by!r}", [FieldError("by", f"allowed: {', '.join(GROUPS)}")])
    provider = _provider_asked(tx, who, org)
    if provider is not None:  # a provider's sites: the records run there, whoever's jobs they were
        if by not in PROVIDER_GROUPS:
            raise Invalid(
                f"a provider's usage cannot be grouped by {by}",
                [
                    FieldError(
                        "by",
                        f"allowed: {', '.join(PROVIDER_GROUPS)} (its tenants' projects and users are theirs)",
                    )
                ],
            )
        sites = [s.id for s in tx.sites.sites() if s.org_id == provider.id]
        records = tx.billing.usage(since=since, until=until, site_ids=sites)
        money = False  # what tenants were charged is theirs; what the provider is owed: settlement
    else:
        org_ids = [org_for(tx, who, org).id] if org is not None else who.visible_orgs()
        money = who.operator or all(who.roles.get(o) in MONEY_ROLES for o in org_ids or [])
        records = tx.billing.usage(since=since, until=until, org_ids=org_ids)
    charged = _charged(tx, [u for u, _, _ in records]) if money else {}
    keyer = _keyer(tx, by)
    groups: dict[str, _Group] = defaultdict(_Group)
    for u, job, attempt in records:
        g = groups[keyer(u, job, attempt)]
        g.records += 1
        held = attempt.cpus_per_node * len(attempt.nodes) * u.wall_seconds if attempt else u.cpu_seconds
        g.wall, g.accelerator, g.cpu, g.cpu_used = (
            g.wall + u.wall_seconds,
            g.accelerator + u.accelerator_seconds,
            g.cpu + held,
            g.cpu_used + u.cpu_seconds,
        )
        for cur, amount in charged.get(usage_key(u), {}).items():
            g.charged[cur] += amount
    return {
        "by": by,
        "since": ts(since),
        "until": ts(until),
        "items": [
            {
                "key": key,
                "records": g.records,
                "hours": hours(g.wall),
                "accelerator_hours": hours(g.accelerator),
                "cpu_hours": hours(g.cpu),
                "cpu_used_hours": hours(g.cpu_used),
                "charged": [money_view(v, c) for c, v in sorted(g.charged.items())] if money else None,
            }
            for key, g in sorted(groups.items())
        ],
    }


def _provider_asked(tx: Tx, who: Principal, org: str | None) -> Org | None:
    """The provider org whose sites' usage is asked for: the one named, or, named none, the one
    org of a caller who belongs to a single org and it a provider's; else None (tenants' usage)."""
    if org is not None:
        named = org_for(tx, who, org)
        return named if named.kind == "provider" else None
    visible = who.visible_orgs()
    if visible is None or len(visible) != 1:
        return None
    [only] = tx.tenancy.orgs(visible)
    return only if only.kind == "provider" else None


def _charged(tx: Tx, records: list[UsageRecord]) -> dict[str, dict[str, int]]:
    """usage key → {currency: amount charged for it, net of refunds}."""
    charges = tx.ledger.charges_by_once_key(usage_key(u) for u in records)
    refunds = tx.ledger.charges_by_once_key(f"refund-of:{c.id}" for c in charges.values())
    parts = parts_by_transfer(tx, [t.id for t in (*charges.values(), *refunds.values())])
    currency = {e.transfer_id: e.currency for e in tx.ledger.entries(parts)}
    out: dict[str, dict[str, int]] = {}
    for key, charge in charges.items():
        refund = refunds.get(f"refund-of:{charge.id}")
        for t in (charge, refund):
            if t is not None and t.id in parts:
                cur = currency[t.id]
                out.setdefault(key, {}).setdefault(cur, 0)
                out[key][cur] += parts[t.id].charged
    return out


def _keyer(tx: Tx, by: str) -> Any:
    if by == "month":
        return lambda u, j, a: month_of(u.recorded_at)
    if by == "site":
        sites = {s.id: s.name for s in tx.sites.sites()}
        return lambda u, j, a: sites.get(u.site_id, u.site_id)
    if by == "user":
        names: dict[str, str] = {}

        def user(u: UsageRecord, j: Job, a: Attempt) -> str:
            if j.user_id not in names:
                row = tx.tenancy.user(j.user_id)
                names[j.user_id] = row.name if row else j.user_id
            return names[j.user_id]

        return user
    orgs = {o.id: o.name for o in tx.tenancy.orgs()}
    projects: dict[str, str] = {}

    def project(u: UsageRecord, j: Job, a: Attempt) -> str:
        if j.project_id not in projects:
            row = tx.tenancy.project(j.project_id)
            projects[j.project_id] = f"{orgs.get(j.org_id, j.org_id)}/{row.name if row else j.project_id}"
        return projects[j.project_id]

    return project
