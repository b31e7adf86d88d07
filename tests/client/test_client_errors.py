"""Errors cross the client boundary as `ApiError` / `ServerUnreachable`; idempotency keys are sent."""

from __future__ import annotations

import httpx
import pytest
from client_fakes import FakeApi, ok, problem

import suanli.client
from suanli.client import ApiError, Client, ServerUnreachable


def test_public_api_is_pinned() -> None:
    assert sorted(suanli.client.__all__) == [
        "ApiError",
        "Client",
        "ClientError",
        "MalformedToken",
        "ServerUnreachable",
        "TOKEN_KINDS",
        "check_token_shape",
    ]


def test_problem_details_become_api_error_with_fields(api: FakeApi, client: Client) -> None:
    errors = [{"field": "resources.accelerators", "message": "unknown model 'Z100'"}]
    api.on("POST", "/api/v1/jobs", problem(422, "invalid_spec", "the job spec is invalid", errors))
    with pytest.raises(ApiError) as caught:
        client.submit_job({"name": "x"})
    assert (caught.value.status, caught.value.code, caught.value.detail) == (
        422,
        "invalid_spec",
        "the job spec is invalid",
    )
    assert caught.value.errors == errors


def test_non_json_error_body_still_becomes_api_error(api: FakeApi, client: Client) -> None:
    api.on("GET", "/api/v1/whoami", httpx.Response(502, text="Bad Gateway from the proxy"))
    with pytest.raises(ApiError) as caught:
        client.whoami()
    assert caught.value.status == 502
    assert "Bad Gateway" in caught.value.detail


def test_transport_error_becomes_server_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with (
        Client("http://nowhere.test", transport=httpx.MockTransport(refuse)) as client,
        pytest.raises(ServerUnreachable, match=r"nowhere\.test"),
    ):
        client.list_sites()


def test_submit_sends_the_given_idempotency_key(api: FakeApi, client: Client) -> None:
    api.on("POST", "/api/v1/jobs", ok({"id": "job_1"}, status=201))
    client.submit_job({"name": "x"}, idempotency_key="key-1")
    client.submit_job({"name": "x"}, idempotency_key="key-1")
    assert [r.headers["idempotency-key"] for r in api.requests] == ["key-1", "key-1"]


def test_each_mutation_without_a_key_gets_a_fresh_one(api: FakeApi, client: Client) -> None:
    api.on("POST", "/api/v1/jobs/j1/cancel", ok({"state": "CANCELLING"}, status=202))
    client.cancel_job("j1")
    client.cancel_job("j1")
    keys = [r.headers["idempotency-key"] for r in api.requests]
    assert len(set(keys)) == 2
    assert all(0 < len(k) <= 200 for k in keys)
