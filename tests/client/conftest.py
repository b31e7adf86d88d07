"""Fixtures for the client tests: a fake API and a `Client` wired to it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from client_fakes import FakeApi

from suanli.client import Client


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def client(api: FakeApi) -> Iterator[Client]:
    with Client("http://suanli.test/", "slt_" + "a" * 38, transport=httpx.MockTransport(api.handle)) as c:
        yield c
