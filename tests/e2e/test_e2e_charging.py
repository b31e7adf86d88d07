"""Money with real processes: a priced pool, a local agent, a job charged to cash and a voucher."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest
from e2e_net import Network, wait_for

from suanli.control import ledger
from suanli.domain.ledger import payable_account
from suanli.store import Database


@pytest.mark.lease(20)
def test_a_job_is_held_charged_and_the_ledger_reconciles(network: Network) -> None:
    network.start_agent("sh1", network.add_site("sh1"), "A100:2")
    tenant = network.add_tenant("acme", "ada")
    with network.client() as op:
        op.set_price_book(
            "sh1", "a100", tenant={"accelerator_hour": "3600.00"}, wholesale={"accelerator_hour": "3000.00"}
        )  # 1.00 per accelerator-second: a short job costs a few yuan
        op.topup("acme", "default", "1000.00")
        op.create_programme("haidian", "500.00")
        op.grant_voucher("haidian", "acme", "100.00", share="30%", valid_until="2099-01-01T00:00:00Z")
    # Output at its very end: the attempt is reported ended once that output is sent, and its last
    # usage record with it, so the hold is captured and released at once, not after the grace.
    spec = {
        "name": "train",
        "run": "sleep 2; echo done",
        "resources": {"accelerators": "A100:1", "max_runtime": "60s"},
    }
    with network.client(tenant) as c:
        job = c.submit_job(spec)
        running = wait_for("the job to be placed", lambda: c.get_job(job["id"])["state"] != "PENDING" or None)
        assert running
        done = wait_for(
            "the job to end", lambda: (j := c.get_job(job["id"]))["state"] == "SUCCEEDED" and j, timeout=60
        )
        assert done["site"] == "sh1"
    with network.client() as op:
        row = wait_for(
            "the hold to resolve",
            lambda: (r := op.get_balance("acme")["projects"][0])["held"]["minor"] == 0 and r,
            timeout=30,
        )
        report = op.programme_report("haidian")
    cash = 100_000 - row["balance"]["minor"]
    on_voucher = report["redeemed"]["minor"]
    charge = cash + on_voucher
    assert charge >= 200  # it ran at least two seconds on one accelerator
    assert on_voucher == charge * 3 // 10  # the voucher pays its 30 % share, rounded down
    assert report["reconciles"] is True and row["arrears"]["minor"] == 0
    db = Database(network.database_url)
    try:
        with db.read() as tx:
            assert all(v == 0 for v in tx.ledger.sums_by_currency().values())  # debits = credits
            provider = tx.tenancy.org_by_name("dc")
            assert provider is not None
            payable = ledger.balance(tx, payable_account(provider.id, "CNY"))
            assert payable == charge * 3000 // 3600 or abs(payable - charge * 5 // 6) <= 1
            [record] = tx.jobs.usage(job["id"])
            assert tx.ledger.charge_of_usage(ledger.usage_key(record)) is not None  # charged once
    finally:
        db.close()


@pytest.mark.lease(20)
def test_a_running_job_is_charged_as_it_runs_and_its_records_add_up(network: Network) -> None:
    network.start_agent("sh1", network.add_site("sh1"), "A100:2", extra=("--meter-every", "1"))
    tenant = network.add_tenant("acme", "ada")
    with network.client() as op:
        op.set_price_book(
            "sh1", "a100", tenant={"accelerator_hour": "3600.00"}, wholesale={"accelerator_hour": "3000.00"}
        )  # 1.00 per accelerator-second
        op.topup("acme", "default", "1000.00")
    spec = {"name": "train", "run": "sleep 8", "resources": {"accelerators": "A100:1", "max_runtime": "60s"}}
    with network.client(tenant) as c, network.client() as op:
        job = c.submit_job(spec)
        wait_for(
            "a charge while the job runs",
            lambda: (
                c.get_job(job["id"])["state"] == "RUNNING"
                and op.get_balance("acme")["projects"][0]["balance"]["minor"] < 100_000
            ),
            timeout=30,
        )
        wait_for("the job to end", lambda: c.get_job(job["id"])["state"] == "SUCCEEDED", timeout=60)
        row = wait_for(
            "the hold to resolve",
            lambda: (r := op.get_balance("acme")["projects"][0])["held"]["minor"] == 0 and r,
            timeout=30,
        )
    db = Database(network.database_url)
    try:
        with db.read() as tx:
            records = sorted(tx.jobs.usage(job["id"]), key=lambda r: r.seq)
            assert len(records) >= 3  # interim records, then the last one
            for before, after in itertools.pairwise(records):
                assert after.started_at == before.ended_at  # one after the other
            assert all(tx.ledger.charge_of_usage(ledger.usage_key(r)) is not None for r in records)
            wall = sum(r.wall_seconds for r in records)
            assert 8 <= wall <= 12
            assert 100_000 - row["balance"]["minor"] == wall * 100  # 1.00 a second, to the fen
            assert all(v == 0 for v in tx.ledger.sums_by_currency().values())
    finally:
        db.close()


def _minor(view: dict[str, Any]) -> int:
    return int(view["minor"])


@pytest.mark.lease(20)
def test_two_providers_a_voucher_and_every_report_agree_to_the_fen(network: Network) -> None:
    """A tenant with a 30% voucher runs a job at each of two providers: the statement, the voucher
    report and the provider settlements agree with each other and with the usage, to the fen."""
    network.start_agent("sh1", network.add_site("sh1"), "A100:2")
    with network.client() as op:
        op.create_org("zj", "provider")
        token = str(op.create_site("zj1", org="zj")["enrollment_token"])
    network.start_agent("zj1", token, "A100:2")
    tenant = network.add_tenant("acme", "ada")
    rates = {"sh1": (3600, 3000), "zj1": (7200, 6000)}  # per accelerator-hour: 1.00 and 2.00 a second
    with network.client() as op:
        for site, (price, wholesale) in rates.items():
            op.set_price_book(
                site,
                "a100",
                tenant={"accelerator_hour": f"{price}.00"},
                wholesale={"accelerator_hour": f"{wholesale}.00"},
            )
        op.topup("acme", "default", "1000.00")
        op.create_programme("haidian", "500.00")
        op.grant_voucher("haidian", "acme", "100.00", share="30%", valid_until="2099-01-01T00:00:00Z")
    spec = {"name": "train", "run": "sleep 2", "resources": {"accelerators": "A100:1", "max_runtime": "60s"}}
    with network.client(tenant) as c:
        jobs = {s: c.submit_job({**spec, "constraints": {"sites": [s]}})["id"] for s in rates}
        for job_id in jobs.values():
            wait_for("the job to end", lambda j=job_id: c.get_job(j)["state"] == "SUCCEEDED", timeout=90)
    with network.client() as op:
        wait_for(
            "the holds to resolve",
            lambda: op.get_balance("acme")["projects"][0]["held"]["minor"] == 0,
            timeout=30,
        )
        month = datetime.now(UTC).strftime("%Y-%m")
        statement = op.statement("acme", month=month)
        report = op.programme_report("haidian")
        settled = {p["provider"]: p for p in op.settlements(month=month)["providers"]}
    db = Database(network.database_url)
    try:
        with db.read() as tx:
            seconds = {s: tx.jobs.usage(j)[0].wall_seconds for s, j in jobs.items()}
            assert all(v == 0 for v in tx.ledger.sums_by_currency().values())  # debits = credits
    finally:
        db.close()
    # each job is charged its wall seconds × one accelerator × its pool's rate, to the fen
    lines = {line["site"]: _minor(line["amount"]) for line in statement["lines"]}
    assert lines == {s: seconds[s] * rates[s][0] // 36 for s in rates}
    total = sum(lines.values())
    assert [_minor(t) for t in statement["totals"]] == [total]
    funding = {f["source"]: _minor(f["amount"]) for f in statement["funding"]}
    assert funding["voucher:haidian"] == _minor(report["redeemed"]) and report["reconciles"] is True
    assert funding["voucher:haidian"] + funding["cash"] == total
    # each provider is owed its wholesale share of what ran there; the settlement reconciles
    for provider, site in (("dc", "sh1"), ("zj", "zj1")):
        owed = settled[provider]
        assert owed["reconciles"] is True and owed["flags"] == 0
        wholesale = Decimal(seconds[site] * rates[site][1]) / 36  # fen, rounded half-even (ADR 0009)
        assert _minor(owed["totals"][0]["payable"]) == int(wholesale.to_integral_value(ROUND_HALF_EVEN))
        assert _minor(owed["totals"][0]["charged"]) == lines[site]


def test_a_job_without_the_money_waits_with_the_reason_and_runs_after_a_top_up(network: Network) -> None:
    network.start_agent("sh1", network.add_site("sh1"), "A100:2")
    tenant = network.add_tenant("acme", "ada")
    with network.client() as op:
        op.set_price_book(
            "sh1", "a100", tenant={"accelerator_hour": "36.00"}, wholesale={"accelerator_hour": "30.00"}
        )
    spec = {"name": "train", "run": "true", "resources": {"accelerators": "A100:2", "max_runtime": "1h"}}
    with network.client(tenant) as c:
        job = c.submit_job(spec)["id"]
        why = wait_for("a reason", lambda: network.cli(tenant, "why", job).stdout or None)
        wait_for("the funds reason", lambda: "insufficient funds" in network.cli(tenant, "why", job).stdout)
        assert c.get_job(job)["state"] == "PENDING", why
        assert "needs 72.00 CNY, can hold 0.00 CNY" in network.cli(tenant, "why", job).stdout
        with network.client() as op:
            op.topup("acme", "default", "72.00")
        wait_for("the job to end", lambda: c.get_job(job)["state"] == "SUCCEEDED", timeout=60)


@pytest.mark.lease(20)
@pytest.mark.server_env(SUANLI_HOLD_WITHOUT_MAX_RUNTIME="6")
def test_a_running_job_is_stopped_when_its_funds_run_out(network: Network, tmp_path: Path) -> None:
    """A job without max_runtime holds 6 s of its price (the server's setting); the project has
    exactly that, so once it has run that long the loop stops it through the cancel path."""
    network.start_agent("sh1", network.add_site("sh1"), "A100:2")
    tenant = network.add_tenant("acme", "ada")
    with network.client() as op:
        op.set_price_book(
            "sh1", "a100", tenant={"accelerator_hour": "3600.00"}, wholesale={"accelerator_hour": "3000.00"}
        )  # 1.00 a second on one accelerator: the hold is 6.00
        op.topup("acme", "default", "6.00")
    marker = tmp_path / "ran-to-the-end"
    with network.client(tenant) as c:
        job = c.submit_job(
            {"name": "endless", "run": f"sleep 300; touch {marker}", "resources": {"accelerators": "A100:1"}}
        )
        ended = wait_for(
            "the job to be stopped",
            lambda: (j := c.get_job(job["id"]))["state"] in ("CANCELLED", "FAILED", "SUCCEEDED") and j,
            timeout=90,
        )
    assert ended["state"] == "CANCELLED" and "funds exhausted" in str(ended["reason"]), ended
    assert not marker.exists()
    with network.client() as op:
        row = wait_for(
            "the hold to resolve",
            lambda: (r := op.get_balance("acme")["projects"][0])["held"]["minor"] == 0 and r,
            timeout=30,
        )
    # what it ran is charged: the 6.00 it had, and the few seconds until it was stopped (a check
    # interval of the loop and the kill grace at most) as arrears
    assert row["balance"]["minor"] == 0 and 0 <= row["arrears"]["minor"] <= 30_00
