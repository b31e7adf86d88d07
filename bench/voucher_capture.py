"""Voucher-capture benchmark: what one usage record's charge costs on a hold already charged many
times, when the org holds a voucher.

A voucher pays its share of what a hold was charged while the voucher was valid, floored on that
running total (`domain.ledger.split_charge`), so each capture asks what the hold's earlier charges
came to on either side of the vouchers' bounds (`LedgerRepo.past_charges`). With agents metering
every five minutes (ADR 0033) an attempt running a month is 8,640 charges. This makes a hold with
`N` charges of ten accelerator-seconds through the real service (`holds.capture`, a 30% voucher
live), then times further captures, each in its own transaction.

Columns: earlier charges on the hold; milliseconds for one capture (median of `--repeat`); seconds
it took to make the hold's charges.
Run: `.venv/bin/python bench/voucher_capture.py [--charges 1000,5000] [--database-url URL]`; by
default a SQLite file in a scratch directory; `--database-url` takes an empty PostgreSQL database.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from suanli.control import holds, ledger
from suanli.domain.ledger import Usage, Voucher
from suanli.store import Database, PoolOffer, sqlite_url

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def measure(url: str, charges: int, repeat: int) -> tuple[float, float]:
    db = Database(url)
    db.migrate()
    with db.transaction() as tx:
        org = tx.tenancy.add_org("lab", "tenant", NOW)
        project = tx.tenancy.add_project(org.id, "default", NOW)
        provider = tx.tenancy.add_org("dc", "provider", NOW)
        site = tx.sites.add_site("dc1", provider.id, "cn", NOW)
        tx.sites.offer(site.id, [PoolOffer("gpu", "A100", 8, 2, 64, 1024)], NOW)
        pool = tx.sites.pools([site.id])[0]
        tx.ledger.add_price_version(
            pool_id=pool.id, version=1, currency="CNY", tenant_accelerator_hour="36", tenant_cpu_hour="0",
            tenant_gb_hour="0", wholesale_accelerator_hour="30", wholesale_cpu_hour="0", wholesale_gb_hour="0",
            minimum_minor=0, effective_at=NOW - timedelta(days=1), created_by="bench", created_at=NOW,
        )  # fmt: skip
        programme = tx.ledger.add_programme("city", "district", "CNY", 10**9, NOW)
        voucher = Voucher("", "", org.id, "CNY", 10**8, Decimal("0.3"), NOW, NOW + timedelta(days=60))
        ledger.grant_voucher(tx, "grant", programme, voucher, NOW, "bench")
        ledger.topup(tx, "topup", project.id, 10**10, "CNY", NOW, "bench")
        holds.hold(tx, "h", project_id=project.id, pool_id=pool.id, amount=10**9, now=NOW)
    began = time.perf_counter()
    with db.transaction() as tx:
        for i in range(charges):
            holds.capture(tx, "h", f"u{i}", Usage(accelerator_seconds=10), NOW + timedelta(seconds=300 * i))
    made = time.perf_counter() - began
    times = []
    for k in range(repeat):
        with db.transaction() as tx:
            start = time.perf_counter()
            at = NOW + timedelta(seconds=300 * (charges + k))
            holds.capture(tx, "h", f"x{k}", Usage(accelerator_seconds=10), at)
            times.append(time.perf_counter() - start)
    db.close()
    return statistics.median(times) * 1000, made


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--charges", default="1000,5000", help="earlier charges on the hold, a size per run: N,…")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--database-url", help="default: SQLite in a scratch directory")
    args = ap.parse_args()
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"{'charges':>8} {'capture ms':>11} {'made in s':>10}")
    for size in (int(n) for n in args.charges.split(",")):
        with tempfile.TemporaryDirectory(prefix="suanli-bench-") as scratch:
            ms, made = measure(args.database_url or sqlite_url(Path(scratch)), size, args.repeat)
            print(f"{size:>8} {ms:>11.1f} {made:>10.0f}")


if __name__ == "__main__":
    main()
