"""The sync JSON: reading launches and replies, and the usage outbox's sequence."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fake_control_plane import launch
from pydantic import ValidationError

from suanli.agent.backends.base import Allocation, PoolOffer, Usage
from suanli.agent.errors import InvalidLaunch
from suanli.agent.usage_outbox import UsageOutbox
from suanli.agent.wire import offer_json, parse_launch, parse_reply, unofferable, usage_json
from suanli.api.schemas import PoolIn


def test_a_launch_parses_into_values() -> None:
    parsed = parse_launch(launch("att_1", "echo hi", pool="gpu", gpus=2))
    assert (parsed.attempt_id, parsed.job_id, parsed.attempt, parsed.fencing_token) == (
        "att_1",
        "job_att_1",
        1,
        7,
    )
    assert parsed.pool == "gpu" and parsed.spec["run"] == "echo hi"
    assert parsed.allocation == Allocation(None, 2, 1, 64, (0,))


def broken(path: str, value: Any) -> dict[str, Any]:
    raw = launch("att_1", "true")
    *parents, leaf = path.split(".")
    target = raw
    for key in parents:
        target = target[key]
    target[leaf] = value
    return raw


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        (broken("attempt_id", None), "'attempt_id' is missing"),
        (broken("fencing_token", "7"), "'fencing_token' is missing or not a int"),
        (broken("attempt", True), "'attempt' is missing"),
        (broken("spec", "run"), "'spec' is missing"),
        (broken("spec.run", None), "'spec.run' has the wrong type"),
        (broken("spec.env", ["A=1"]), "'spec.env' has the wrong type"),
        (broken("spec.resources.max_runtime_s", "1h"), "'spec.resources.max_runtime_s'"),
        (broken("allocation.nodes", 0), "'allocation.nodes'"),
        (broken("allocation.accelerators_per_node", -1), "'allocation.accelerators_per_node'"),
    ],
)
def test_malformed_launches_say_which_field_is_wrong(raw: dict[str, Any], complaint: str) -> None:
    with pytest.raises(InvalidLaunch, match=complaint):
        parse_launch(raw)


@pytest.mark.parametrize(
    ("raw", "cancel", "ttl", "acked"),
    [
        ({}, (), None, None),
        (None, (), None, None),
        ({"cancel": ["a", 3], "lease_ttl": 30, "usage_acked_seq": 4, "extra": 1}, ("a",), 30.0, 4),
        ({"cancel": None, "lease_ttl": 0, "usage_acked_seq": "4"}, (), None, None),
    ],
)
def test_replies_are_read_leniently(
    raw: Any, cancel: tuple[str, ...], ttl: float | None, acked: int | None
) -> None:
    reply = parse_reply(raw)
    assert (reply.cancel, reply.lease_ttl, reply.usage_acked_seq) == (cancel, ttl, acked)


def usage(attempt_id: str, seconds: float = 1.6) -> Usage:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    return Usage(attempt_id, start, start, 2 * seconds, 0.4, seconds)


def test_usage_records_carry_whole_seconds_and_rfc3339_times() -> None:
    assert usage_json(3, usage("att_1")) == {
        "seq": 3,
        "attempt_id": "att_1",
        "started_at": "2025-01-01T00:00:00.000Z",
        "ended_at": "2025-01-01T00:00:00.000Z",
        "accelerator_seconds": 3,
        "cpu_seconds": 0,
        "wall_seconds": 2,
    }


def test_the_usage_sequence_survives_restarts_and_never_goes_back(tmp_path: Path) -> None:
    outbox = UsageOutbox(tmp_path / "usage.json")
    assert [outbox.add(usage("a")), outbox.add(usage("b"))] == [1, 2]
    assert outbox.has_new()
    outbox.delivered([1, 2])
    assert not outbox.has_new() and len(outbox.pending()) == 2  # sent again until acked

    reopened = UsageOutbox(tmp_path / "usage.json")
    assert [r["seq"] for r in reopened.pending()] == [1, 2] and reopened.has_new()
    reopened.acked(1)
    assert [r["seq"] for r in reopened.pending()] == [2]
    reopened.acked(9)  # the server has seen more than this state dir knows (restored from a backup)
    assert reopened.pending() == [] and reopened.add(usage("c")) == 10
    assert UsageOutbox(tmp_path / "usage.json").next_seq == 11


def test_a_new_state_dir_numbers_on_from_where_the_server_says(tmp_path: Path) -> None:
    outbox = UsageOutbox(tmp_path / "usage.json")
    assert outbox.add(usage("a")) == 1  # a fresh state dir on a site that had an agent before
    outbox.number_from(40)  # the server's next free number for the site
    assert [r["seq"] for r in outbox.pending()] == [1]  # numbered already: kept, the server places it
    assert outbox.add(usage("b")) == 40
    outbox.number_from(5)  # never back
    assert outbox.add(usage("c")) == 41 and UsageOutbox(tmp_path / "usage.json").next_seq == 42
    assert parse_reply({"usage_next_seq": 40}).usage_next_seq == 40
    assert parse_reply({"usage_next_seq": "40"}).usage_next_seq is None


def test_an_enrollment_that_cannot_succeed_says_what_to_do_instead_of_retrying() -> None:
    import threading

    import httpx
    import pytest

    from suanli.agent import credentials
    from suanli.agent.errors import AgentError
    from suanli.client import Client

    def answered(status: int, code: str) -> Client:
        body = {"status": status, "code": code, "detail": "refused", "title": "x", "type": "about:blank"}
        return Client(
            "http://s.test",
            "sle_x",
            transport=httpx.MockTransport(lambda _: httpx.Response(status, json=body)),
        )

    def tls_mismatch(_: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number")

    stop = threading.Event()
    with pytest.raises(AgentError, match="same --state-dir"):
        credentials._enroll(answered(401, "revoked_token"), "pku", stop, 1.0)
    with pytest.raises(AgentError, match="base URL"):
        credentials._enroll(answered(404, "not_found"), "pku", stop, 1.0)
    with pytest.raises(AgentError, match="http:// rather than https://"):
        credentials._enroll(
            Client("https://s.test", "sle_x", transport=httpx.MockTransport(tls_mismatch)), "pku", stop, 1.0
        )


@pytest.mark.parametrize(
    ("name", "accelerator", "per_node", "refused"),
    [
        ("gpu", "A100", 8, None),
        ("Batch.Q-1_a", None, 0, None),  # a Slurm partition's name, as it is
        ("x" * 64, None, 0, None),
        ("x" * 65, None, 0, "its name must be"),
        ("gpu@node", None, 0, "its name must be"),
        ("-gpu", None, 0, "its name must be"),
        ("gpü", None, 0, "its name must be"),
        ("gpu", "A" * 65, 1, "longer than 64 characters"),
        ("gpu", "A100", 65, "65 accelerators per node is more than 64"),
    ],
)
def test_a_pool_the_server_would_refuse_is_named_before_it_is_offered(
    name: str, accelerator: str | None, per_node: int, refused: str | None
) -> None:
    offer = PoolOffer(name, accelerator, per_node, 1, 4, 1024)
    why = unofferable(offer)
    assert (why is None) if refused is None else (why is not None and refused in why)
    # the server's own rule for a pool in the sync agrees
    try:
        PoolIn.model_validate(offer_json(offer))
    except ValidationError:
        assert why is not None
    else:
        assert why is None
