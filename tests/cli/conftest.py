"""Fixtures for the CLI tests: a private config dir, a fake API behind `make_client`, a runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_fakes import SERVER, TOKEN, FakeApi
from cli_server import Server, running_server
from typer.testing import CliRunner, Result

from suanli.cli import context, submit_cmd
from suanli.cli.config import save_profile
from suanli.cli.main import app
from suanli.client import Client


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty config dir and no SUANLI_* variables from the real environment."""
    for name in ("SUANLI_SERVER", "SUANLI_TOKEN", "SUANLI_PROFILE", "SUANLI_AGENT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    directory = tmp_path / "suanli-config"
    monkeypatch.setenv("SUANLI_CONFIG_DIR", str(directory))
    monkeypatch.setattr(submit_cmd, "RETRY_DELAYS", (0.0, 0.0, 0.0))
    monkeypatch.setattr(submit_cmd, "POLL_INTERVAL", 0.0)
    return directory


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    fake = FakeApi()
    monkeypatch.setattr(context, "make_client", fake.make_client)
    return fake


@pytest.fixture
def server(config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A real control plane in-process: profile `default` signs in as the demo tenant, `op` as the
    operator."""
    with running_server(tmp_path) as real:

        def make_client(server_url: str, token: str | None) -> Client:
            return Client(server_url, token, transport=real.transport)

        monkeypatch.setattr(context, "make_client", make_client)
        save_profile("default", SERVER, real.tenant, config_dir=config_dir)
        save_profile("op", SERVER, real.operator, make_current=False, config_dir=config_dir)
        yield real


@pytest.fixture
def logged_in(config_dir: Path) -> Path:
    return save_profile("default", SERVER, TOKEN, config_dir=config_dir)


@pytest.fixture
def run() -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), input=input, env=env)

    return invoke
