"""Provider settlement: a month's payables per provider org and site, reconciled against the usage
records each site reported.

The payable lines are the ledger's charges and refunds of holds at the provider's sites; `paid`
is what payouts (`POST /orgs/{org}/payouts`) recorded in the month, and `owed` the payable
balance at the month's end (everything accrued less everything paid, since the beginning). The usage
side is the site's own sequence: a gap (numbers never received) or a duplicate (a record repeating
an attempt interval already reported under another number) is flagged, with whether the
duplicate was charged too (it must not be: whoever charges usage calls `is_duplicate` first), and
records that should have been charged and were not are listed: those of attempts that held funds
(a priced pool). Usage on a free pool (no price book in force: no hold) is never charged and not
flagged. Operators see every provider; a provider org's owners, admins
and finance members see their own.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from suanli.control.accounts import require_user
from suanli.control.charges import Posted, month_bounds, posted
from suanli.control.errors import Forbidden, Invalid, NotFound
from suanli.control.ledger import usage_key
from suanli.control.money import MONEY_ROLES, money_view
from suanli.control.principal import Principal
from suanli.control.views import ts
from suanli.domain.billing import Reported, SequenceCheck, check_sequence, hours
from suanli.domain.errors import FieldError
from suanli.domain.ledger import TransferKind
from suanli.store import Tx
from suanli.store.tables import Org, Site, UsageRecord

COLUMNS = ("month", "provider", "site", "kind", "seq", "job", "transfer", "at", "amount", "currency", "note")


def reported(record: UsageRecord) -> Reported:
    return Reported(record.seq, record.attempt_id, record.started_at, record.ended_at)


def is_duplicate(tx: Tx, record: UsageRecord) -> UsageRecord | None:
    """The earlier record (lower seq) of the same attempt whose interval this one repeats, if
    any. The site numbered the same usage twice; the tenant pays for it once, so whoever charges
    usage records charges only those for which this is None."""
    earlier = tx.billing.usage_it_may_repeat(record)
    found = check_sequence([reported(record)], [], 0, [reported(u) for u in earlier]).duplicates
    return next((u for u in earlier if u.seq == found[0][1]), None) if found else None


def settlement(tx: Tx, who: Principal, *, provider: str | None, month: str) -> dict[str, Any]:
    start, end = month_bounds(month)
    orgs = _providers(tx, who, provider)
    return {"month": month, "providers": [_provider(tx, org, start, end) for org in orgs]}


def _providers(tx: Tx, who: Principal, name: str | None) -> list[Org]:
    require_user(who)
    if name is not None:
        org = tx.tenancy.org_by_name(name)
        if org is None or not (who.operator or org.id in who.roles):
            raise NotFound(f"no provider org {name!r}")
        if org.kind != "provider":
            raise Invalid(
                f"org {name!r} is a tenant", [FieldError("provider", "settlements are of provider orgs")]
            )
        if not (who.operator or who.roles[org.id] in MONEY_ROLES):
            raise Forbidden(
                f"only {name}'s owners, admins and finance members (or operators) see its settlement"
            )
        return [org]
    orgs = [o for o in tx.tenancy.orgs(who.visible_orgs()) if o.kind == "provider"]
    if who.operator:
        return orgs
    mine = [o for o in orgs if who.roles.get(o.id) in MONEY_ROLES]
    if not mine:
        raise Forbidden("settlements are for operators and providers' owners, admins and finance members")
    return mine


def _provider(tx: Tx, org: Org, start: datetime, end: datetime) -> dict[str, Any]:
    lines = posted(tx, start, end, provider_org_ids=[org.id])
    by_site: dict[str, list[Posted]] = defaultdict(list)
    payable: dict[str, int] = defaultdict(int)
    charged: dict[str, int] = defaultdict(int)
    for p in lines:
        by_site[p.hold.site_id].append(p)
        payable[p.hold.currency] += p.parts.payable
        charged[p.hold.currency] += p.parts.charged
    sites = [
        _site(tx, site, by_site.get(site.id, []), start, end)
        for site in tx.sites.sites()
        if site.org_id == org.id
    ]
    in_ledger = _payable_in_ledger(tx, org, start, end)
    paid: dict[str, int] = defaultdict(int)
    payouts = []
    for t in tx.ledger.transfers_between(start, end, kinds=[TransferKind.PAYOUT.value], refs=[org.id]):
        for e in tx.ledger.entries([t.id]):
            if e.account_id.startswith("payable:"):
                paid[e.currency] += e.amount_minor
                payouts.append(
                    {"transfer": t.id, "at": ts(t.at), "amount": money_view(e.amount_minor, e.currency)}
                )
    owed = _payable_in_ledger(tx, org, datetime(1970, 1, 1, tzinfo=UTC), end)  # at the month's end
    moved = {cur: payable[cur] - paid[cur] for cur in set(payable) | set(paid)}
    return {
        "provider": org.name,
        "totals": [
            {
                "currency": cur,
                "payable": money_view(payable[cur], cur),
                "charged": money_view(charged[cur], cur),
                "paid": money_view(paid[cur], cur),
                "owed": money_view(owed.get(cur, 0), cur),
                # paid out beyond what it earned (a refund after a payout): it owes that back
                "overpaid": owed.get(cur, 0) < 0,
            }
            for cur in sorted(set(payable) | set(paid) | set(owed))
        ],
        # The lines and payouts account for every movement of the provider's payable accounts in the month.
        "reconciles": in_ledger == {cur: v for cur, v in moved.items() if v},
        "payouts": payouts,
        "flags": sum(len(s["gaps"]) + len(s["duplicates"]) + len(s["uncharged"]) for s in sites)
        + sum(1 for v in owed.values() if v < 0),
        "sites": sites,
    }


def _payable_in_ledger(tx: Tx, org: Org, start: datetime, end: datetime) -> dict[str, int]:
    """What the provider's payable accounts moved in the month, read from the accounts themselves."""
    accounts = [a.id for a in tx.ledger.accounts(f"payable:{org.id}:")]
    return {cur: -v for cur, v in tx.ledger.sums_between(accounts, start, end).items() if v}


def _site(tx: Tx, site: Site, lines: list[Posted], start: datetime, end: datetime) -> dict[str, Any]:
    records = tx.billing.usage(since=start, until=end, site_ids=[site.id])
    check = _check(tx, site, [u for u, _, _ in records], start)
    keys = [usage_key(u) for u, _, _ in records] + [f"usage:{site.id}:{o}" for _, o in check.duplicates]
    charged = tx.ledger.charged_keys(keys)
    repeats = dict(check.duplicates)
    held = tx.ledger.held_attempts({a.id for _, _, a in records})
    job_of = {u.seq: j.id for u, j, _ in records}
    pools = {p.id: p.name for p in tx.sites.pools([site.id], include_withdrawn=True)}
    payable: dict[str, int] = defaultdict(int)
    for p in lines:
        payable[p.hold.currency] += p.parts.payable
    return {
        "site": site.name,
        "payable": [money_view(v, cur) for cur, v in sorted(payable.items())],
        "records": len(records),
        "first_seq": check.first,
        "last_seq": check.last,
        "gaps": [{"from": a, "to": b} for a, b in check.gaps],
        "duplicates": [
            {
                "seq": seq,
                "repeats": original,
                "job": job_of[seq],
                "charged_twice": f"usage:{site.id}:{seq}" in charged
                and f"usage:{site.id}:{original}" in charged,
            }
            for seq, original in check.duplicates
        ],
        "uncharged": [
            {
                "seq": u.seq,
                "job": j.id,
                "attempt": a.id,
                "recorded_at": ts(u.recorded_at),
                "hours": hours(u.wall_seconds),
            }
            for u, j, a in records
            if a.id in held and usage_key(u) not in charged and u.seq not in repeats
        ],
        "lines": [_line(p, pools) for p in lines],
    }


def _check(tx: Tx, site: Site, records: list[UsageRecord], start: datetime) -> SequenceCheck:
    earlier = tx.billing.usage_of_attempts({u.attempt_id for u in records}, before=start)
    before = tx.billing.max_seq_before(site.id, start)
    return check_sequence(
        [reported(u) for u in records],
        tx.billing.usage_seqs(site.id, above=before, upto=max((u.seq for u in records), default=before)),
        before,
        [reported(u) for u in earlier if u.site_id == site.id],
    )


def _line(p: Posted, pools: dict[str, str]) -> dict[str, Any]:
    prefix, _, seq = (p.usage_key or "").rpartition(":")
    cur = p.hold.currency
    return {
        "at": ts(p.transfer.at),
        "transfer": p.transfer.id,
        "kind": p.transfer.kind,
        "job": p.hold.job_id,
        "pool": pools.get(p.hold.pool_id, p.hold.pool_id),
        "seq": int(seq) if prefix == f"usage:{p.hold.site_id}" and seq.isdigit() else None,
        "charged": money_view(p.parts.charged, cur),
        "payable": money_view(p.parts.payable, cur),
    }


def rows(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The settlement as one table (`COLUMNS`): each payout (negative: what it took off the payable),
    then every payable line and every flag, by site; first, a provider paid beyond what it earned."""
    out: list[dict[str, Any]] = []
    for p in view["providers"]:
        for t in p["totals"]:
            if t.get("overpaid"):
                owes = t["owed"]["text"].lstrip("-")
                out.append({"month": view["month"], "provider": p["provider"], "kind": "overpaid",
                            "currency": t["currency"], "note": f"paid beyond what it earned: owes back {owes}"})  # fmt: skip
        for paid in p.get("payouts", []):
            amount = paid["amount"]
            out.append(
                {"month": view["month"], "provider": p["provider"], "kind": "payout", "transfer": paid["transfer"],
                 "at": paid["at"], "amount": "-" + amount["text"].split()[0], "currency": amount["currency"]}
            )  # fmt: skip
        for s in p["sites"]:
            base = {"month": view["month"], "provider": p["provider"], "site": s["site"]}
            for line in s["lines"]:
                amount = line["payable"]
                out.append(
                    {**base, "kind": line["kind"], "seq": line["seq"], "job": line["job"],
                     "transfer": line["transfer"], "at": line["at"], "amount": amount["text"].split()[0],
                     "currency": amount["currency"]}
                )  # fmt: skip
            for g in s["gaps"]:
                note = f"seq {g['from']}-{g['to']} never received"
                out.append({**base, "kind": "gap", "seq": g["from"], "note": note})
            for d in s["duplicates"]:
                twice = "CHARGED TWICE" if d["charged_twice"] else "charged once"
                note = f"repeats seq {d['repeats']}; {twice}"
                out.append({**base, "kind": "duplicate", "seq": d["seq"], "job": d["job"], "note": note})
            for u in s["uncharged"]:
                out.append(
                    {**base, "kind": "uncharged", "seq": u["seq"], "job": u["job"], "at": u["recorded_at"],
                     "note": f"{u['hours']} h not charged"}
                )  # fmt: skip
    return out
