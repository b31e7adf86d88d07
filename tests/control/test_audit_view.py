"""How the audit trail shows a row: money changes' targets are request paths, as every change's,
also for rows written before they were (then a money row's target was `org/project`, or a refund's
job id)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from suanli.control import audit
from suanli.store.tables import AuditEvent


def row(action: str, target: str) -> AuditEvent:
    return AuditEvent(
        at=datetime(2026, 11, 1, tzinfo=UTC), actor_id="op", actor="operator", action=action,
        org_id=None, target=target, amount_minor=100, currency="CNY", reason="", detail={},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("action", "stored", "shown"),
    [
        ("topup", "acme/research", "/orgs/acme/projects/research/topups"),
        ("credit_limit", "acme/research", "/orgs/acme/projects/research/credit-limit"),
        ("budget", "acme/research", "/orgs/acme/projects/research/budget"),
        ("refund", "job_01abc", "/jobs/job_01abc/refund"),
        ("topup", "/orgs/acme/projects/research/topups", "/orgs/acme/projects/research/topups"),
        ("create_org", "/orgs", "/orgs"),
    ],
)
def test_a_rows_target_is_shown_as_a_request_path(action: str, stored: str, shown: str) -> None:
    assert audit.view(row(action, stored))["target"] == shown


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/orgs/acme/projects/vision/topups", "project acme/vision"),
        ("/orgs/acme/members/ada/disable", "member acme/ada"),
        ("/orgs/acme/quota", "org acme"),
        ("/orgs/acme/payouts/tr_1", "org acme"),
        ("/sites/sh/pools/a100/prices", "pool sh/a100"),
        ("/sites/sh/enrollment-tokens", "site sh"),
        ("/voucher-programmes/hd/vouchers/v_1", "voucher v_1"),
        ("/tokens/t1/revoke", "token t1"),
        ("/jobs/j1/refund", "job j1"),
        ("/provider-relations", "/provider-relations"),  # names nothing it knows: the path itself
        ("/orgs", "/orgs"),
    ],
)
def test_a_change_is_named_by_what_it_was_made_to(path: str, named: str) -> None:
    assert audit.object_of(path) == named
