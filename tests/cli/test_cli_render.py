"""Small renderings a person reads: ages, times, exit codes of finished jobs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from suanli.cli.exit_codes import exit_code_for_job, exit_code_for_status
from suanli.cli.render import age, items_of, when

NOW = datetime(2025, 1, 2, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-01-02T11:59:15Z", "45s"),
        ("2025-01-02T11:48:00+00:00", "12m"),
        ("2025-01-02T08:59:00.123456Z", "3h"),
        ("2024-12-31T12:00:00Z", "2d"),
        ("2025-01-02T12:00:05Z", "0s"),  # clock skew never shows a negative age
        (None, "-"),
        ("yesterday", "-"),
    ],
)
def test_age(value: str | None, expected: str) -> None:
    assert age(value, NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-01-02T03:04:05.678Z", "2025-01-02 03:04:05"),
        ("2025-01-02T03:04:05+00:00", "2025-01-02 03:04:05"),
        (None, "-"),
    ],
)
def test_when(value: str | None, expected: str) -> None:
    assert when(value) == expected


@pytest.mark.parametrize(
    ("job", "code"),
    [
        ({"state": "SUCCEEDED", "exit_code": None}, 0),
        ({"state": "FAILED", "exit_code": 42}, 42),
        ({"state": "FAILED", "exit_code": 0}, 1),
        ({"state": "FAILED", "exit_code": -15}, 143),
        ({"state": "FAILED", "exit_code": 300}, 1),
        ({"state": "FAILED", "exit_code": True}, 1),
        ({"state": "CANCELLED", "exit_code": None}, 1),
    ],
)
def test_exit_code_for_job(job: dict[str, object], code: int) -> None:
    assert exit_code_for_job(job) == code


@pytest.mark.parametrize(
    ("status", "code"), [(400, 2), (401, 4), (403, 4), (404, 3), (422, 2), (429, 2), (500, 1)]
)
def test_exit_code_for_status(status: int, code: int) -> None:
    assert exit_code_for_status(status) == code


def test_a_spending_limit_has_its_own_exit_code_apart_from_other_conflicts() -> None:
    assert exit_code_for_status(409, "budget_exceeded") == 6  # top up or raise the cap, then retry
    assert exit_code_for_status(409, "over_budget") == 6
    assert exit_code_for_status(409, "exists") == 2


def test_items_of_accepts_pages_and_bare_lists() -> None:
    assert items_of({"items": [{"a": 1}], "next_cursor": None}) == [{"a": 1}]
    assert items_of([{"a": 1}, "junk"]) == [{"a": 1}]
    assert items_of(None) == []
