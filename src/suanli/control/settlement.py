"""Provider settlement: a month's payables per provider org and site, reconciled against the usage
records each site reported.

The payable lines are the ledger's charges and refunds of holds at the provider's sites, summed in
the database per hold (one attempt of a job at a pool: ADR 0040), so a month of metering costs a
few rows per attempt, not one per charge; `paid`
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
from suanli.control.charges import HoldMonth, hold_months, month_bounds
from suanli.control.errors import Forbidden, Invalid, NotFound
from suanli.control.ledger import site_usage_key
from suanli.control.money import MONEY_ROLES, money_view
from suanli.control.principal import Principal
from suanli.control.views import ts
from suanli.domain.billing import Reported, hours, repeats
from suanli.domain.errors import FieldError
from suanli.domain.ledger import TransferKind
from suanli.store import Tx
from suanli.store.sequences import UsageRow
from suanli.store.tables import Org, Site, UsageRecord

COLUMNS = ("month", "provider", "site", "kind", "seq", "job", "transfer", "at", "amount", "currency", "note")


def reported(record: UsageRecord) -> Reported:
    return Reported(record.seq, record.attempt_id, record.started_at, record.ended_at)


def is_duplicate(tx: Tx, record: UsageRecord) -> UsageRecord | None:
    """The earlier record (lower seq) of the same attempt whose interval this one repeats, if
    any. The site numbered the same usage twice; the tenant pays for it once, so whoever charges
    usage records charges only those for which this is None."""
    earlier = tx.billing.usage_it_may_repeat(record)
    found = repeats([reported(record)], [reported(u) for u in earlier])
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
    lines = hold_months(tx, start, end, provider_org_ids=[org.id])
    by_site: dict[str, list[HoldMonth]] = defaultdict(list)
    payable: dict[str, int] = defaultdict(int)
    charged: dict[str, int] = defaultdict(int)
    for m in lines:
        by_site[m.hold.site_id].append(m)
        payable[m.hold.currency] += m.payable
        charged[m.hold.currency] += m.net
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


def _site(tx: Tx, site: Site, lines: list[HoldMonth], start: datetime, end: datetime) -> dict[str, Any]:
    """The site's payables and its month of usage reconciled: counted, its gaps and the records
    that may repeat another found in the database, and only those read (the repeats' attempts),
    so a month of metering costs what it flags."""
    count, top, earliest = tx.sequences.summary(site.id, since=start, until=end)
    before = tx.sequences.max_seq_before(site.id, start)
    last = top if top is not None else before
    suspects = tx.sequences.may_repeat(site.id, since=start, until=end, reaching=earliest)
    month, earlier = tx.sequences.of_attempts(site.id, suspects, since=start, until=end, reaching=earliest)
    duplicates = repeats(_reported(month), _reported(earlier))
    originals = dict(duplicates)
    charged = tx.ledger.charged_keys(site_usage_key(site.id, n) for pair in duplicates for n in pair)
    job_of = {seq: job for seq, _, job, *_ in month}
    pools = {p.id: p.name for p in tx.sites.pools([site.id], include_withdrawn=True)}
    payable: dict[str, int] = defaultdict(int)
    for m in lines:
        payable[m.hold.currency] += m.payable
    return {
        "site": site.name,
        "payable": [money_view(v, cur) for cur, v in sorted(payable.items())],
        "records": count,
        "first_seq": before + 1,
        "last_seq": last,
        "gaps": [{"from": a, "to": b} for a, b in tx.sequences.gaps(site.id, above=before, upto=last)],
        "duplicates": [
            {
                "seq": seq,
                "repeats": original,
                "job": job_of[seq],
                "charged_twice": site_usage_key(site.id, seq) in charged
                and site_usage_key(site.id, original) in charged,
            }
            for seq, original in duplicates
        ],
        "uncharged": [
            {"seq": seq, "job": job, "attempt": attempt, "recorded_at": ts(at), "hours": hours(wall)}
            for seq, attempt, job, _, _, at, wall in tx.sequences.uncharged(site.id, since=start, until=end)
            if seq not in originals
        ],
        "lines": [_line(m, pools) for m in lines],
    }


def _reported(rows: list[UsageRow]) -> list[Reported]:
    return [Reported(seq, attempt, began, ended) for seq, attempt, _, began, ended, _, _ in rows]


def _line(m: HoldMonth, pools: dict[str, str]) -> dict[str, Any]:
    """One job's attempt at a pool: its charges and refunds of the month, summed."""
    cur = m.hold.currency
    return {
        "job": m.hold.job_id,
        "attempt": m.hold.attempt_id,
        "pool": pools.get(m.hold.pool_id, m.hold.pool_id),
        "charges": m.charged,
        "refunds": m.refunded,
        "from": ts(m.first),
        "to": ts(m.last),
        "charged": money_view(m.net, cur),
        "payable": money_view(m.payable, cur),
    }


def rows(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The settlement as one table (`COLUMNS`): each payout (negative: what it took off the payable),
    then every line (kind `job`: an attempt's charges and refunds, summed) and every flag, by site; first, a provider paid beyond what it earned."""
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
                    {**base, "kind": "job", "job": line["job"], "at": line["to"],
                     "amount": amount["text"].split()[0], "currency": amount["currency"], "note": _counted(line)}
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


def _counted(line: dict[str, Any]) -> str:
    """`pool gpu: 8,640 charges, 1 refund, 2026-11-01T00:05:00Z to 2026-11-30T23:55:00Z`, or `…, at
    2026-11-25T12:00:00Z` when all of them were then."""
    said = [f"{line['charges']:,} charge{'s' * (line['charges'] != 1)}"]
    if line["refunds"]:
        said.append(f"{line['refunds']:,} refund{'s' * (line['refunds'] != 1)}")
    when = f"at {line['to']}" if line["from"] == line["to"] else f"{line['from']} to {line['to']}"
    return f"pool {line['pool']}: {', '.join(said)}, {when}"
