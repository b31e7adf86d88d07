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
