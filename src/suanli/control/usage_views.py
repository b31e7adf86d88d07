"""Usage grouped by site, user, month or project: compute-hours from the usage records the sites
reported, and what was charged for them (net of refunds) from the ledger. CPU-hours are what was
held (the attempt's CPUs × its wall time), as charges price them; `cpu_used_hours` is the CPU time
the site reported (measured by the local backend, the allocation on Slurm and Ray).

Members of an org see its usage; the charged amounts only its owners, admins and finance members
(and operators): money is finance's. A provider org's members see the usage on its sites, by site
or month, without what its tenants were charged (what the provider is owed is the settlement's). Records count by when the server received them.

The records and their charges are grouped in the database (`BillingRepo.usage_sums`, ADR 0040):
per group and attempt, so that CPU-hours held can be reckoned from each attempt's allocation, and
never one row per record.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from suanli.control.accounts import org_for, require_user
from suanli.control.errors import Invalid
from suanli.control.ledger import cpu_seconds_held
from suanli.control.money import MONEY_ROLES, money_view
from suanli.control.principal import Principal
from suanli.control.views import ts
from suanli.domain.billing import hours
from suanli.domain.errors import FieldError
from suanli.store import Tx
from suanli.store.tables import Org

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
        sums, charged = tx.billing.usage_sums(by, since=since, until=until, site_ids=sites)
        money = False  # what tenants were charged is theirs; what the provider is owed: settlement
    else:
        org_ids = [org_for(tx, who, org).id] if org is not None else who.visible_orgs()
        money = who.operator or all(who.roles.get(o) in MONEY_ROLES for o in org_ids or [])
        sums, charged = tx.billing.usage_sums(by, since=since, until=until, org_ids=org_ids, charged=money)
    name = _namer(tx, by)
    attempts = tx.jobs.attempts_by_ids(sorted({attempt for _, attempt, *_ in sums}))
    groups: dict[str, _Group] = defaultdict(_Group)
    for key, attempt_id, records, wall, accelerator, cpu_used in sums:
        g = groups[name(key)]
        held = cpu_seconds_held(attempts.get(attempt_id), wall, cpu_used)
        g.records += records
        g.wall, g.accelerator, g.cpu, g.cpu_used = (
            g.wall + wall,
            g.accelerator + accelerator,
            g.cpu + held,
            g.cpu_used + cpu_used,
        )
    for key, cur, amount in charged:
        groups[name(key)].charged[cur] += amount
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


def _namer(tx: Tx, by: str) -> Callable[[str], str]:
    """A group's key as the database gives it (an id, or a month) → what the view shows."""
    if by == "month":
        return lambda month: month
    if by == "site":
        sites = {s.id: s.name for s in tx.sites.sites()}
        return lambda site_id: sites.get(site_id, site_id)
    if by == "user":
        users: dict[str, str] = {}

        def user(user_id: str) -> str:
            if user_id not in users:
                row = tx.tenancy.user(user_id)
                users[user_id] = row.name if row else user_id
            return users[user_id]

        return user
    orgs = {o.id: o.name for o in tx.tenancy.orgs()}
    projects: dict[str, str] = {}

    def project(project_id: str) -> str:
        if project_id not in projects:
            row = tx.tenancy.project(project_id)
            projects[project_id] = f"{orgs.get(row.org_id, row.org_id)}/{row.name}" if row else project_id
        return projects[project_id]

    return project
