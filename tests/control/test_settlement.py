"""Settlement on both databases: payables per provider and site, reconciled against the site's
usage sequence; a gap and a duplicate are flagged, and the duplicate is charged once."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from billing_builders import NOW, OPERATOR, World, charge, hold, job, report, world

from suanli.control import holds, ledger, settlement
from suanli.control.errors import Forbidden, Invalid, NotFound
from suanli.control.principal import Principal
from suanli.domain.billing import check_sequence
from suanli.domain.ledger import Usage
from suanli.store import Database
from suanli.store.tables import UsageRecord


def site_view(db: Database, w: World, month: str = "2026-11") -> dict[str, Any]:
    with db.read() as tx:
        view = settlement.settlement(tx, OPERATOR, provider=w.provider, month=month)
    [provider] = view["providers"]
    assert provider["reconciles"], provider
    return dict(provider, site=provider["sites"][0])


def test_a_gap_and_a_duplicate_are_flagged_and_the_duplicate_is_charged_once(db: Database) -> None:
    with db.transaction() as tx:
        w = world(tx)
        _, a1 = job(tx, w, "one")
        _, a2 = job(tx, w, "two")
        _, a3 = job(tx, w, "three")
        _, a4 = job(tx, w, "four")
        records = [
            report(tx, a1, 1, NOW, 1800),
            report(tx, a2, 2, NOW, 3600),
            # seq 3 never arrives
            report(tx, a3, 4, NOW, 600),
            report(tx, a2, 5, NOW, 3600),  # the site numbered a2's hour again
        ]
        charged = [charge(tx, r) for r in records]
        hold(tx, a4)
        report(tx, a4, 6, NOW, 60)  # reported on a priced pool, not charged yet
    assert charged[3] is None and None not in charged[:3]
    p = site_view(db, w)
    s = p["site"]
    assert s["gaps"] == [{"from": 3, "to": 3}]
    assert [(d["seq"], d["repeats"], d["charged_twice"]) for d in s["duplicates"]] == [(5, 2, False)]
    assert [u["seq"] for u in s["uncharged"]] == [6] and p["flags"] == 3
    # a line per attempt, its charges summed: a2's hour charged once
    assert sorted((line["job"], line["charges"], line["payable"]["minor"]) for line in s["lines"]) == sorted(
        [(a1.job_id, 1, 1_440), (a2.job_id, 1, 2_880), (a3.job_id, 1, 480)]
    )
    # 1 fen per accelerator-second for the tenant, 80% of it payable to the provider
    assert p["totals"] == [
        {
            "currency": "CNY",
            "payable": {"minor": 4_800, "currency": "CNY", "text": "48.00 CNY"},
            "charged": {"minor": 6_000, "currency": "CNY", "text": "60.00 CNY"},
            "paid": {"minor": 0, "currency": "CNY", "text": "0.00 CNY"},  # nothing paid out yet:
            "owed": {"minor": 4_800, "currency": "CNY", "text": "48.00 CNY"},  # all of it is owed
            "overpaid": False,
        }
    ]
    assert [m["minor"] for m in s["payable"]] == [4_800]
    rows = settlement.rows({"month": "2026-11", "providers": [p]})
    assert [r["kind"] for r in rows] == ["job"] * 3 + ["gap", "duplicate", "uncharged"]


def test_what_a_record_repeats_is_read_by_its_interval_as_the_whole_sequence_would_say(db: Database) -> None:
    """`is_duplicate` reads only the earlier records that may cover the same time (by the index of
    where records end); it finds what `check_sequence` finds over every earlier record: meeting end
    to start is not a repeat, overlapping is, an instant repeats only the same instant, and a record
    without times only one with the same (missing) times."""
    rng = random.Random(7)
    with db.transaction() as tx:
        w = world(tx)
        _, attempt = job(tx, w, "metered")
        _, other = job(tx, w, "other")
        earlier: list[UsageRecord] = []
        for seq in range(1, 121):
            start = NOW + timedelta(seconds=300 * rng.randrange(12))
            seconds = rng.choice((300, 300, 600, 0, 150))
            whose = other if seq % 10 == 0 else attempt
            times = {"started_at": start, "ended_at": start + timedelta(seconds=seconds)}
            if seq % 17 == 0:
                times = {"started_at": None, "ended_at": None}
            tx.jobs.add_usage(site_id=whose.site_id, seq=seq, attempt=whose, now=NOW, wall_seconds=seconds,
                              cpu_seconds=0, accelerator_seconds=seconds, **times)  # fmt: skip
            tx.flush()
            [record] = tx.billing.usage_at(whose.site_id, [seq])
            mine = [u for u in earlier if u.attempt_id == record.attempt_id]
            found = check_sequence(
                [settlement.reported(record)], [], 0, [settlement.reported(u) for u in mine]
            )
            expected = found.duplicates[0][1] if found.duplicates else None
            got = settlement.is_duplicate(tx, record)
            assert (got.seq if got else None) == expected, (seq, times)
            earlier.append(record)
        assert sum(settlement.is_duplicate(tx, u) is not None for u in earlier) > 30  # repeats were tried


def test_a_long_attempts_earlier_months_are_not_read_but_a_repeat_of_them_is_still_flagged(
    db: Database,
) -> None:
    """A month's settlement reads, of its attempts' earlier records, only those that may overlap one
    of the month's (ending after the month's earliest start): an attempt metered all October costs
    its last record, not its month; a November record repeating an October interval is still
    found, and so is one without times."""
    october = NOW.replace(month=10, day=1, hour=0)
    day = timedelta(days=1)
    no_times = {
        "wall_seconds": 0,
        "cpu_seconds": 0,
        "accelerator_seconds": 0,
        "started_at": None,
        "ended_at": None,
    }
    with db.transaction() as tx:
        w = world(tx)
        _, attempt = job(tx, w, "long", october)
        for seq in range(1, 32):  # a record a day, October 1st to 31st, each received as it ends
            report(
                tx,
                attempt,
                seq,
                october + (seq - 1) * day,
                86_400,
                recorded=october + seq * day - timedelta(seconds=1),
            )
        tx.jobs.add_usage(site_id=w.site_id, seq=32, attempt=attempt, now=october, **no_times)  # type: ignore[arg-type]
        # in November: October 31st's noon hour again, and a second record without times
        report(tx, attempt, 33, october + 30.5 * day, 3_600)
        tx.jobs.add_usage(site_id=w.site_id, seq=34, attempt=attempt, now=NOW, **no_times)  # type: ignore[arg-type]
    with db.read() as tx:
        november = october + 31 * day
        _, read = tx.sequences.of_attempts(
            w.site_id, {attempt.id}, since=november, until=NOW, reaching=october + 30.5 * day
        )
        assert [seq for seq, *_ in read] == [
            31,
            32,
        ]  # the day that reaches the repeat, and the one without times
    s = site_view(db, w)["site"]
    assert [(d["seq"], d["repeats"]) for d in s["duplicates"]] == [(33, 31), (34, 32)]


def test_a_duplicate_that_was_charged_anyway_is_flagged_as_charged_twice(db: Database) -> None:
    with db.transaction() as tx:
        w = world(tx)
        _, a1 = job(tx, w, "one")
        first = report(tx, a1, 1, NOW, 600)
        again = report(tx, a1, 2, NOW, 600)
        charge(tx, first)
        # a charger that forgot `is_duplicate`
        holds.capture(tx, f"hold:{a1.id}", ledger.usage_key(again), Usage(600), NOW)
    s = site_view(db, w)["site"]
    assert [(d["seq"], d["charged_twice"]) for d in s["duplicates"]] == [(2, True)]
    assert (
        "CHARGED TWICE" in settlement.rows({"month": "2026-11", "providers": [site_view(db, w)]})[-1]["note"]
    )


def test_a_gap_across_the_month_boundary_and_a_refund(db: Database) -> None:
    october = NOW - timedelta(days=30)
    with db.transaction() as tx:
        w = world(tx)
        _, a1 = job(tx, w, "one", october)
        _, a2 = job(tx, w, "two")
        charge(tx, report(tx, a1, 1, october, 3600, recorded=october), at=october)
        charge(tx, report(tx, a2, 4, NOW, 1200))
        ledger.refund(tx, "refund:1", f"charge:usage:{w.site_id}:1", NOW, "op")
    p = site_view(db, w)
    assert p["site"]["gaps"] == [{"from": 2, "to": 3}]
    # November: 960 payable for seq 4, and October's 2880 given back
    assert p["totals"][0]["payable"]["minor"] == 960 - 2_880
    assert p["totals"][0]["owed"]["minor"] == 960  # what stands at November's end, October's included
    # October's charge is not November's line; its refund is, on the hold it was charged to
    lines = [
        (line["job"], line["charges"], line["refunds"], line["payable"]["minor"])
        for line in p["site"]["lines"]
    ]
    assert lines == [(a1.job_id, 0, 1, -2_880), (a2.job_id, 1, 0, 960)]
    october_view = site_view(db, w, "2026-10")
    assert october_view["totals"][0]["payable"]["minor"] == 2_880 and october_view["flags"] == 0
    assert october_view["totals"][0]["owed"]["minor"] == 2_880  # as October ended, before the refund


def test_usage_on_a_free_pool_is_not_flagged_but_usage_after_a_resolved_hold_is(db: Database) -> None:
    with db.transaction() as tx:
        free = world(tx, priced=False)
        _, a1 = job(tx, free, "demo")
        report(tx, a1, 1, NOW, 600)
        report(tx, a1, 2, NOW + timedelta(seconds=600), 600)
        priced = world(tx)
        _, a2 = job(tx, priced, "paid")
        charge(tx, report(tx, a2, 1, NOW, 600))
        holds.release(tx, hold(tx, a2), NOW)
        report(tx, a2, 2, NOW + timedelta(seconds=600), 600)  # came after its hold resolved
    p = site_view(db, free)
    assert (p["site"]["records"], p["site"]["uncharged"], p["flags"]) == (2, [], 0)
    p = site_view(db, priced)
    assert ([u["seq"] for u in p["site"]["uncharged"]], p["flags"]) == ([2], 1)


def test_who_sees_a_settlement(db: Database) -> None:
    with db.transaction() as tx:
        w = world(tx)
        other = world(tx)
    finance = Principal(
        kind="user", token_id="t1", user_id="u1", user_name="f", roles={w.provider_id: "finance"}
    )
    member = Principal(
        kind="user", token_id="t2", user_id="u2", user_name="m", roles={w.provider_id: "member"}
    )
    tenant = Principal(kind="user", token_id="t3", user_id="u3", user_name="t", roles={w.org_id: "owner"})
    with db.read() as tx:
        mine = settlement.settlement(tx, finance, provider=None, month="2026-11")
        assert [p["provider"] for p in mine["providers"]] == [w.provider]
        with pytest.raises(NotFound):
            settlement.settlement(tx, finance, provider=other.provider, month="2026-11")
        with pytest.raises(Forbidden):
            settlement.settlement(tx, member, provider=w.provider, month="2026-11")
        with pytest.raises(Forbidden):
            settlement.settlement(tx, tenant, provider=None, month="2026-11")
        with pytest.raises(Invalid):
            settlement.settlement(tx, OPERATOR, provider=None, month="2026-13")


def by_scanning(tx: Any, w: World, month: tuple[Any, Any]) -> dict[str, Any]:
    """The site's month reconciled by reading every record, as settlement did before ADR 0040: the
    whole sequence through `check_sequence`, every key's charge looked up."""
    start, end = month
    every = tx.billing.usage_at(w.site_id, range(1, 10_000))
    records = [u for u in every if start <= u.recorded_at < end]
    before = max((u.seq for u in every if u.recorded_at < start), default=0)
    earlier = [u for u in every if u.attempt_id in {r.attempt_id for r in records} and u.recorded_at < start]
    check = check_sequence(
        [settlement.reported(u) for u in records],
        [u.seq for u in every],
        before,
        [settlement.reported(u) for u in earlier],
    )
    charged = tx.ledger.charged_keys(ledger.usage_key(u) for u in every)
    held = tx.ledger.held_attempts({u.attempt_id for u in records})
    repeats = dict(check.duplicates)
    job_of = {u.seq: u.job_id for u in records}
    key = lambda seq: f"usage:{w.site_id}:{seq}"  # noqa: E731
    return {
        "records": len(records),
        "first_seq": check.first,
        "last_seq": check.last,
        "gaps": [{"from": a, "to": b} for a, b in check.gaps],
        "duplicates": [
            {
                "seq": s,
                "repeats": o,
                "job": job_of[s],
                "charged_twice": key(s) in charged and key(o) in charged,
            }
            for s, o in check.duplicates
        ],
        "uncharged": [
            u.seq
            for u in records
            if u.attempt_id in held and ledger.usage_key(u) not in charged and u.seq not in repeats
        ],
    }


@pytest.mark.parametrize("seed", range(6))
def test_the_sequence_checked_in_the_database_finds_what_reading_every_record_finds(
    db: Database, seed: int
) -> None:
    """Settlement counts a site's month, finds its gaps and narrows its repeats down in the
    database (ADR 0040); over random months (numbers skipped and filled late, records repeating
    the month's or an earlier month's, records without times or of an instant, attempts on a
    priced pool charged or not, another site's records between) it finds exactly what reading
    every record through `check_sequence` finds."""
    rng = random.Random(seed)
    november = (NOW.replace(day=1, hour=0), NOW.replace(month=12, day=1, hour=0))
    october = (november[0].replace(month=10), november[0])
    with db.transaction() as tx:
        w, other = world(tx), world(tx)
        _, elsewhere = job(tx, other, "elsewhere")
        attempts = [job(tx, w, f"j{n}", october[0])[1] for n in range(4)]
        held = attempts[:3]  # the fourth ran free: never held, never flagged
        for a in held:
            hold(tx, a, october[0])
        seq, late, clock = 0, [], october[0]
        cursor = {x.id: october[0] for x in attempts}  # where each attempt's metering has reached
        made: list[UsageRecord] = []
        for _ in range(rng.randint(20, 60)):
            seq += 1
            clock += timedelta(hours=rng.uniform(0, 60))  # the site numbers records as it sends them
            if rng.random() < 0.1:  # never received, or received late (next month)
                if rng.random() < 0.5:
                    late.append(seq)
                continue
            a = rng.choice(attempts)
            seconds = rng.choice((3_600, 3_600, 600, 0))
            start, kind = cursor[a.id], rng.random()
            if kind < 0.3 and made:  # repeats, wholly or in part, an earlier interval of its attempt
                base = rng.choice(made)
                a = next(x for x in attempts if x.id == base.attempt_id)
                start = (base.started_at or start) + timedelta(minutes=rng.choice((0, 10, -10, 50)))
            else:
                cursor[a.id] = start + timedelta(seconds=seconds)
            times: dict[str, Any] = {"started_at": start, "ended_at": start + timedelta(seconds=seconds)}
            if kind > 0.95:
                times = {"started_at": None, "ended_at": None}
            recorded = min(max(clock, start + timedelta(seconds=seconds)), november[1] - timedelta(seconds=1))
            tx.jobs.add_usage(site_id=w.site_id, seq=seq, attempt=a, now=recorded, wall_seconds=seconds,
                              cpu_seconds=0, accelerator_seconds=seconds, **times)  # fmt: skip
            tx.flush()
            [record] = tx.billing.usage_at(w.site_id, [seq])
            made.append(record)
            if a in held and rng.random() < 0.7:
                charge(tx, record, record.recorded_at)
            if rng.random() < 0.2:
                report(tx, elsewhere, seq, start, 60, recorded=recorded)  # the other site's own numbers
        for n in late:
            report(
                tx,
                attempts[0],
                n,
                november[1] - timedelta(hours=2),
                60,
                recorded=november[1] + timedelta(days=1),
            )
    flagged = 0
    with db.read() as tx:
        for month in (october, november):
            view = settlement.settlement(tx, OPERATOR, provider=w.provider, month=month[0].strftime("%Y-%m"))
            [s] = view["providers"][0]["sites"]
            got = {k: s[k] for k in ("records", "first_seq", "last_seq", "gaps", "duplicates")}
            got["uncharged"] = [u["seq"] for u in s["uncharged"]]
            assert got == by_scanning(tx, w, month), (seed, month)
            flagged += len(got["duplicates"]) + len(got["uncharged"])
    assert flagged, "the month has something to flag"
