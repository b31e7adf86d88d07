"""A month's charges summed per hold in the database (`charges.hold_months`, ADR 0040), and usage
grouped there (`BillingRepo.usage_sums`), on both databases, against the same folded charge by
charge and record by record in Python: statements, settlements and the usage view are made of
these sums, so they must be exactly what the charges, refunds and records add up to."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta

import pytest
from billing_builders import NOW, World, charge, job, report, world

from suanli.control import ledger
from suanli.control.charges import hold_months, parts_by_transfer
from suanli.domain.billing import TENANT_SIDE, month_of, parts_of
from suanli.domain.ledger import account_kind
from suanli.store import Database, Tx
from suanli.store.tables import UsageRecord

NOVEMBER = (datetime(2026, 11, 1, tzinfo=NOW.tzinfo), datetime(2026, 12, 1, tzinfo=NOW.tzinfo))
OCTOBER = (datetime(2026, 10, 1, tzinfo=NOW.tzinfo), NOVEMBER[0])


def folded(tx: Tx, since: datetime, until: datetime, holds_of: set[str]) -> dict[str, tuple]:
    """Per hold of `holds_of`: (charges' parts, refunds' parts, #charges, #refunds, usage), read one
    transfer at a time as statements used to be made."""
    charges = [
        t for t in tx.ledger.transfers(kinds=["charge"]) if since <= t.at < until and t.ref in holds_of
    ]
    every = {t.id: t for t in tx.ledger.transfers(kinds=["charge"])}
    refunds = [
        t
        for t in tx.ledger.transfers(kinds=["refund"])
        if since <= t.at < until and every[t.ref].ref in holds_of
    ]
    parts = parts_by_transfer(tx, [t.id for t in (*charges, *refunds)])
    lines: dict[str, dict[str, list]] = defaultdict(lambda: {"charge": [], "refund": []})
    used: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for t in charges:
        lines[t.ref]["charge"].append(parts[t.id])
        _, site, seq = (t.once_key or "").split(":")
        [record] = tx.billing.usage_at(site, [int(seq)])
        for i, v in enumerate((record.wall_seconds, record.accelerator_seconds, record.cpu_seconds)):
            used[t.ref][i] += v
    for t in refunds:
        lines[every[t.ref].ref]["refund"].append(parts[t.id])
    out = {}
    for hold_id, kinds in lines.items():
        summed = [
            (sum(p.charged for p in ps), sum(p.payable for p in ps), sum(p.revenue for p in ps))
            for ps in (kinds["charge"], kinds["refund"])
        ]
        out[hold_id] = (*summed, len(kinds["charge"]), len(kinds["refund"]), tuple(used[hold_id]))
    return out


def summed(tx: Tx, since: datetime | None, until: datetime | None, **which: list[str]) -> dict[str, tuple]:
    return {
        m.hold.id: (
            (m.charges.charged, m.charges.payable, m.charges.revenue),
            (m.refunds.charged, m.refunds.payable, m.refunds.revenue),
            m.charged,
            m.refunded,
            m.usage,
        )
        for m in hold_months(tx, since, until, usage=since is not None, **which)
    }


def busy_month(tx: Tx, rng: random.Random) -> tuple[World, World]:
    """Two tenants on two providers' sites: jobs metered in intervals over October and November
    (some records charged in October), a few charges refunded in November, one record repeated."""
    worlds = world(tx), world(tx)
    seqs = {w.site_id: 0 for w in worlds}
    charged: list[str] = []
    for w in worlds:
        # in October, across the month's end, in November
        for n, began in enumerate(
            (NOW - timedelta(days=rng.randint(30, 40)), NOVEMBER[0] - timedelta(hours=2), NOW)
        ):
            _, attempt = job(tx, w, f"j{n}", began)
            at = began
            for _ in range(rng.randint(1, 12)):
                seqs[w.site_id] += 1
                seconds = rng.randint(1, 3_600)
                record = report(tx, attempt, seqs[w.site_id], at, seconds, recorded=at)
                charged.append(charge(tx, record, at) or "")
                at += timedelta(seconds=seconds)
            seqs[w.site_id] += 1
            report(tx, attempt, seqs[w.site_id], began, 60, recorded=at)  # repeats the first: not charged
    for i, charge_id in enumerate(c for c in charged if c and rng.random() < 0.2):
        ledger.refund(tx, f"refund:{i}", charge_id, NOW, "op")
    return worlds


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_months_sums_per_hold_are_its_charges_and_refunds_added_up(db: Database, seed: int) -> None:
    with db.transaction() as tx:
        a, b = busy_month(tx, random.Random(seed))
    with db.read() as tx:
        for w in (a, b):
            mine = {h.id for h in tx.ledger.holds(t.ref for t in tx.ledger.transfers(kinds=["charge"]))}
            mine = {h.id for h in tx.ledger.holds(mine) if h.project_id == w.project_id}
            for since, until in (NOVEMBER, OCTOBER):
                expected = folded(tx, since, until, mine)
                assert expected, "the month has charges"
                assert summed(tx, since, until, project_ids=[w.project_id]) == expected
                assert summed(tx, since, until, provider_org_ids=[w.provider_id]) == expected
            # a job's charges so far (`job_charges`): every charge and refund of its holds, ever
            ever = {
                h: (*v[:4], (0, 0, 0))
                for h, v in folded(
                    tx, datetime.min.replace(tzinfo=NOW.tzinfo), datetime.max.replace(tzinfo=NOW.tzinfo), mine
                ).items()
            }
            assert summed(tx, None, None, hold_ids=sorted(mine)) == ever
        assert any(m.refunded for m in hold_months(tx, *NOVEMBER)), "some refunds fell in November"


def test_a_refund_lands_on_its_charges_hold_in_the_month_it_is_dated(db: Database) -> None:
    october = NOW - timedelta(days=30)
    with db.transaction() as tx:
        w = world(tx)
        _, attempt = job(tx, w, "one", october)
        charge_id = charge(tx, report(tx, attempt, 1, october, 3_600, recorded=october), october)
        assert charge_id is not None
        ledger.refund(tx, "back", charge_id, NOW, "op")
    with db.read() as tx:
        [oct_line] = hold_months(tx, *OCTOBER, project_ids=[w.project_id], usage=True)
        [nov_line] = hold_months(tx, *NOVEMBER, project_ids=[w.project_id], usage=True)
    assert (oct_line.charged, oct_line.refunded, oct_line.net, oct_line.usage) == (
        1,
        0,
        3_600,
        (3_600, 3_600, 0),
    )
    # November holds only the refund: the money back, no usage (it was October's)
    assert (nov_line.charged, nov_line.refunded, nov_line.net, nov_line.usage) == (0, 1, -3_600, (0, 0, 0))
    assert nov_line.payable == -2_880 and nov_line.tenant == {"cash": -3_600}
    assert parts_of([]).charged == 0


def usage_folded(tx: Tx, by: str, records: list[UsageRecord]) -> dict[str, tuple]:
    """Per group: (records, Σ wall, Σ accelerator, Σ CPU reported, {currency: charged net}), record by
    record as the usage view used to make it."""
    out: dict[str, list] = {}
    for u in records:
        j = tx.jobs.get(u.job_id)
        assert j is not None
        key = {
            "project": j.project_id,
            "user": j.user_id,
            "site": u.site_id,
            "month": month_of(u.recorded_at),
        }[by]
        g = out.setdefault(key, [0, 0, 0, 0, defaultdict(int)])
        g[0], g[1], g[2], g[3] = (
            g[0] + 1,
            g[1] + u.wall_seconds,
            g[2] + u.accelerator_seconds,
            g[3] + u.cpu_seconds,
        )
        charge = tx.ledger.charges_by_once_key([ledger.usage_key(u)]).get(ledger.usage_key(u))
        if charge is None:
            continue
        refund = tx.ledger.charges_by_once_key([f"refund-of:{charge.id}"]).get(f"refund-of:{charge.id}")
        for t in (charge, refund):
            for e in tx.ledger.entries([t.id]) if t is not None else []:
                if account_kind(e.account_id) in TENANT_SIDE:
                    g[4][e.currency] += e.amount_minor
    return {k: (*g[:4], dict(g[4])) for k, g in out.items()}


@pytest.mark.parametrize("by", ["project", "user", "site", "month"])
def test_usage_grouped_in_the_database_is_its_records_added_up(db: Database, by: str) -> None:
    with db.transaction() as tx:
        a, b = busy_month(tx, random.Random(7))
    with db.read() as tx:
        every = list(tx.billing.usage_at(a.site_id, range(1, 100))) + list(
            tx.billing.usage_at(b.site_id, range(1, 100))
        )
        for since, until, orgs in ((None, None, [a.org_id, b.org_id]), (*NOVEMBER, [a.org_id])):
            records = [
                u for u in every
                if (since is None or since <= u.recorded_at < until) and tx.jobs.get(u.job_id).org_id in orgs
            ]  # fmt: skip
            sums, charged = tx.billing.usage_sums(by, since=since, until=until, org_ids=orgs, charged=True)
            got: dict[str, list] = {}
            for key, _, n, wall, accelerator, cpu in sums:
                g = got.setdefault(key, [0, 0, 0, 0, {}])
                g[0], g[1], g[2], g[3] = g[0] + n, g[1] + wall, g[2] + accelerator, g[3] + cpu
            for key, cur, amount in charged:
                got[key][4][cur] = got[key][4].get(cur, 0) + amount
            expected = usage_folded(tx, by, records)
            assert {k: tuple(g) for k, g in got.items()} == expected
            assert any(money for *_, money in expected.values())
        sites, _ = tx.billing.usage_sums("site", site_ids=[b.site_id])
        assert {key for key, *_ in sites} == {b.site_id}
        if by == "month":
            assert set(expected) == {"2026-11"} and set(usage_folded(tx, by, every)) == {"2026-10", "2026-11"}
