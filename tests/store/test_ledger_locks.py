"""The ledger's lockers on PostgreSQL, where transactions run at once: a charge and a refund that
share a voucher wait on each other's accounts without a deadlock (each locks every account it may
touch in one ordered pass)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import text
from test_store_ledger import NOW, grant, seed, voucher

from suanli.control import holds, ledger
from suanli.domain.ledger import Usage, voucher_account
from suanli.store import Database


def _until_one_waits_on_a_lock(db: Database, timeout_s: float = 10.0) -> bool:
    """Whether another session of this database waits on a row lock within `timeout_s`."""
    ends = time.monotonic() + timeout_s
    with db.engine.connect() as conn:
        while time.monotonic() < ends:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar()
            if waiting:
                return True
            conn.rollback()
            time.sleep(0.02)
    return False


def test_a_refund_and_a_charge_sharing_a_voucher_wait_for_each_other_without_a_deadlock(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Project P's charge, paid in part by the org's voucher, is refunded while project Q of the same
    org is charged with that voucher. The charge has taken its locks and pauses until the refund
    waits on one of them; then both must finish. (Before the charge locked its payable and revenue
    accounts with its cash and vouchers, it held the voucher and waited for them while the refund
    held them and waited for the voucher: PostgreSQL aborted one as a deadlock.)"""
    if db.is_sqlite:
        pytest.skip("SQLite runs one writer at a time: no two lockers wait on each other")
    ids = seed(db)
    with db.transaction() as tx:
        second = tx.tenancy.add_project(ids["org"], "second", NOW).id
        ledger.topup(tx, "top-p", ids["project"], 100_000, "CNY", NOW, "op")
        ledger.topup(tx, "top-q", second, 100_000, "CNY", NOW, "op")
    vid = grant(db, ids, voucher(ids, "0.5", 50_000), "g")
    with db.transaction() as tx:
        holds.hold(tx, "hp", project_id=ids["project"], pool_id=ids["pool"], amount=9_000, now=NOW)
        charge = holds.capture(tx, "hp", "u1", Usage(accelerator_seconds=3600), NOW).id
        holds.hold(tx, "hq", project_id=second, pool_id=ids["pool"], amount=9_000, now=NOW)

    locked, refund_waited = threading.Event(), []
    split = holds.split_charge

    def pause_once_locked(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "charge":  # its accounts are locked by now
            locked.set()
            refund_waited.append(_until_one_waits_on_a_lock(db))
        return split(*args, **kwargs)

    monkeypatch.setattr(holds, "split_charge", pause_once_locked)
    failed: dict[str, BaseException] = {}

    def charge_q() -> None:
        try:
            with db.transaction() as tx:
                holds.capture(tx, "hq", "u2", Usage(accelerator_seconds=3600), NOW)
        except BaseException as exc:
            failed["charge"] = exc

    def refund_p() -> None:
        locked.wait(10)
        try:
            with db.transaction() as tx:
                ledger.refund(tx, "r", charge, NOW, "op")
        except BaseException as exc:
            failed["refund"] = exc

    threads = [
        threading.Thread(target=charge_q, name="charge"),
        threading.Thread(target=refund_p, name="refund"),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert refund_waited == [True]  # the refund did wait on the charge's locks: the race was run
    assert failed == {}
    with db.read() as tx:
        assert ledger.balance(tx, voucher_account(vid)) == 50_000 - 1_800  # Q's half paid, P's paid back
        assert set(tx.ledger.sums_by_currency().values()) == {0}
