"""Money with real processes: a priced pool, a local agent, a job charged to cash and a voucher."""

from __future__ import annotations

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
    spec = {"name": "train", "run": "sleep 2", "resources": {"accelerators": "A100:1", "max_runtime": "60s"}}
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
