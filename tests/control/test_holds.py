"""Holds opened many to a transaction (`holds.OpenHolds`, the applier's) against what other
transactions do meanwhile, on PostgreSQL, where they run at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from billing_builders import NOW, world

from suanli.control import charging, holds, ledger
from suanli.domain.ledger import InsufficientFunds, Usage, Voucher
from suanli.store import Database


@pytest.fixture
def pg(database_url: str) -> Iterator[Database]:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite runs one writing transaction at a time: these cannot overlap there")
    database = Database(database_url)
    database.migrate()
    try:
        yield database
    finally:
        database.close()


def test_a_capture_meanwhile_spends_voucher_room_the_next_hold_no_longer_counts(pg: Database) -> None:
    """The applier's first hold for project P1 is paid wholly by the org's voucher (100,000 of it
    left). While its transaction is open, a sync of the org's other project captures 90,000 against
    a hold that expected no voucher: vouchers pay first, so 10,000 is left. The applier's next hold
    of 60,000 cannot lean on the voucher any more, and P1's 30,000 of cash does not cover it."""
    with pg.transaction() as tx:
        w = world(tx, topup=30_000)
        other = tx.tenancy.add_project(w.org_id, "other", NOW - timedelta(days=60))
        ledger.topup(tx, "top-other", other.id, 1_000_000, "CNY", NOW - timedelta(days=40), "op")
        programme = tx.ledger.add_programme("district", "district", "CNY", 1_000_000, NOW)
        grant = Voucher(
            "", "", w.org_id, "CNY", 100_000, Decimal("1"), NOW - timedelta(days=1), NOW + timedelta(days=30)
        )
        ledger.grant_voucher(tx, "grant", programme, grant, NOW, "op")
        row = tx.jobs.add(
            org_id=w.org_id, project_id=other.id, user_id=w.user_id, name="j", spec={}, retries=0, now=NOW
        )
        attempt = tx.jobs.add_attempt(
            row, site_id=w.site_id, pool_id=w.pool_id, accelerator="A100", accelerators_per_node=1,
            cpus_per_node=1, memory_mib_per_node=0, nodes=[0], lease_expires_at=NOW, created_at=NOW,
        )  # fmt: skip
        holds.hold(
            tx, "theirs", project_id=other.id, pool_id=w.pool_id, amount=200_000, now=NOW,
            job_id=row.id, attempt_id=attempt.id,
        )  # fmt: skip
    with pg.transaction() as applier:
        kept = holds.OpenHolds(charging.lock_for_placements(applier, [w.project_id], [w.pool_id], NOW))
        price = ledger.price_in_force(applier, w.pool_id, NOW)
        first = holds.hold(
            applier, "first", project_id=w.project_id, pool_id=w.pool_id, amount=60_000, now=NOW,
            vouchers=True, price=price, kept=kept, new=True,
        )  # fmt: skip
        assert first.voucher_minor == 60_000
        with pg.transaction() as sync:  # commits before the applier goes on
            holds.capture(sync, "theirs", "usage:theirs:1", Usage(90_000), NOW)
        with pytest.raises(InsufficientFunds) as refused:
            holds.hold(
                applier, "second", project_id=w.project_id, pool_id=w.pool_id, amount=60_000, now=NOW,
                vouchers=True, price=price, kept=kept, new=True,
            )  # fmt: skip
        assert (refused.value.needed, refused.value.available) == (60_000, 30_000)
