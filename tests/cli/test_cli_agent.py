"""`suanli agent`: options become an AgentConfig, the token is found, signals stop the agent cleanly."""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cli_server import Server
from typer.testing import Result

from suanli.domain.tokens import TokenKind, mint

Run = Callable[..., Result]
AGENT_TOKEN = mint(TokenKind.AGENT, bytes(range(24)))
ENROLL_TOKEN = mint(TokenKind.ENROLLMENT, bytes(range(24)))
BASE = ("agent", "--server", "http://s.test", "--site", "pku")


class AgentError(Exception):
    pass


class AgentRefused(AgentError):
    pass


class AgentUnauthorized(AgentRefused):
    pass


@dataclass(frozen=True)
class AgentConfig:
    server: str
    token: str | None
    site: str
    backend: str = "local"
    pools: tuple[Any, ...] = ()
    state_dir: Path | None = None
    sync_wait: float = 20.0
    meter_every: float = 300.0
    backend_options: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.backend != "local":
            raise ValueError(f"unknown backend {self.backend!r}; known: local")

    @property
    def resolved_state_dir(self) -> Path:
        return self.state_dir or Path.home() / ".suanli" / f"agent-{self.site}"


def parse_pool(text: str) -> tuple[str, str]:
    name, _, accel = text.partition("=")
    if not accel:
        raise ValueError(f"expected NAME=ACCELERATOR, got {text!r}")
    return (name, accel)


@dataclass
class FakeAgent:
    """Stands in for `suanli.agent.runtime`, `.pools` and `.errors`, so no real agent starts."""

    calls: list[tuple[AgentConfig, threading.Event]] = field(default_factory=list)
    behaviour: Callable[[threading.Event], Any] = lambda stop: None

    def run_agent(self, config: AgentConfig, stop: threading.Event | None = None) -> Any:
        assert stop is not None
        self.calls.append((config, stop))
        return self.behaviour(stop)


def module(name: str, **attrs: Any) -> types.ModuleType:
    fake = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(fake, key, value)
    return fake


@pytest.fixture
def agent(monkeypatch: pytest.MonkeyPatch) -> FakeAgent:
    fake = FakeAgent()
    for name, attrs in {
        "suanli.agent.runtime": {"AgentConfig": AgentConfig, "run_agent": fake.run_agent},
        "suanli.agent.pools": {"parse_pool": parse_pool},
        "suanli.agent.errors": {
            "AgentError": AgentError,
            "AgentRefused": AgentRefused,
            "AgentUnauthorized": AgentUnauthorized,
        },
        "suanli.agent.credentials": {"TOKEN_FILE": "agent.token"},
    }.items():
        monkeypatch.setitem(sys.modules, name, module(name, **attrs))
    return fake


def test_options_become_the_agent_config(agent: FakeAgent, run: Run, tmp_path: Path) -> None:
    result = run(
        *BASE, "--token", ENROLL_TOKEN, "--pool", "gpu=A100", "--pool", "cpu=none",
        "--state-dir", str(tmp_path), "--sync-wait", "5", "--meter-every", "60",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [(config, stop)] = agent.calls
    assert config == AgentConfig(
        server="http://s.test",
        token=ENROLL_TOKEN,
        site="pku",
        backend="local",
        pools=(("gpu", "A100"), ("cpu", "none")),
        state_dir=tmp_path,
        sync_wait=5.0,
        meter_every=60.0,
    )
    assert isinstance(stop, threading.Event) and not stop.is_set()


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--token", AGENT_TOKEN], {"SUANLI_AGENT_TOKEN": ENROLL_TOKEN}, AGENT_TOKEN),
        ([], {"SUANLI_AGENT_TOKEN": AGENT_TOKEN}, AGENT_TOKEN),
        (["--token-file", "{file}"], {"SUANLI_AGENT_TOKEN": ENROLL_TOKEN}, AGENT_TOKEN),
        ([], {}, None),  # the agent falls back to the token it saved when it enrolled
    ],
)
def test_token_comes_from_option_file_env_or_state(
    agent: FakeAgent, run: Run, tmp_path: Path, args: list[str], env: dict[str, str], expected: str | None
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(AGENT_TOKEN + "\n")
    (tmp_path / "agent.token").write_text(AGENT_TOKEN + "\n")
    argv = [a.replace("{file}", str(token_file)) for a in [*args, "--state-dir", "{dir}"]]
    argv = [a.replace("{dir}", str(tmp_path)) for a in argv]
    result = run(*BASE, *argv, env=env)
    assert result.exit_code == 0, result.output
    assert agent.calls[0][0].token == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--token", "sla_short"], "malformed token"),
        (["--token", mint(TokenKind.TENANT, bytes(24))], "site token"),
        (["--token-file", "/nonexistent/token"], "cannot read --token-file"),
        (["--pool", "gpu"], "expected NAME=ACCELERATOR"),
        (["--backend", "slurm"], "unknown backend 'slurm'"),
    ],
)
def test_bad_agent_input_exits_2(agent: FakeAgent, run: Run, args: list[str], message: str) -> None:
    result = run(*BASE, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert agent.calls == []


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ("127.0.0.1:8600", "is not a server URL"),
        ("http://", "is not a server URL"),
        ("http://127.0.0.1:8600/api/v1", "without /api/v1"),
    ],
)
def test_a_server_that_is_not_a_base_url_exits_2_before_anything_runs(
    agent: FakeAgent, run: Run, server: str, message: str
) -> None:
    result = run("agent", "--server", server, "--site", "pku", "--token", AGENT_TOKEN)
    assert result.exit_code == 2 and message in result.stderr
    assert agent.calls == []


@pytest.mark.parametrize(
    ("signum", "said"),
    [
        (signal.SIGTERM, "stopping the agent…\n"),  # from a service manager, or `suanli up` stopping
        (signal.SIGINT, "stopping the agent… (Ctrl-C again stops it at once)\n"),
    ],
)
def test_a_signal_sets_stop_says_so_and_handlers_are_restored(
    agent: FakeAgent, run: Run, signum: signal.Signals, said: str
) -> None:
    def stop_on_signal(stop: threading.Event) -> None:
        os.kill(os.getpid(), signum)
        assert stop.wait(5)

    agent.behaviour = stop_on_signal
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    result = run(*BASE, "--token", AGENT_TOKEN)
    assert result.exit_code == 0, result.output
    assert agent.calls[0][1].is_set()
    assert result.stderr.endswith(said), result.stderr
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def raises(exc: Exception) -> Callable[[threading.Event], None]:
    def behaviour(stop: threading.Event) -> None:
        raise exc

    return behaviour


@pytest.mark.parametrize(
    ("behaviour", "code", "message"),
    [
        (raises(AgentUnauthorized("token revoked")), 4, "refused the agent's token: token revoked"),
        (raises(AgentError("state dir in use by another agent")), 1, "state dir in use"),
        (lambda stop: 3, 3, ""),
    ],
)
def test_agent_outcomes_become_exit_codes(
    agent: FakeAgent, run: Run, behaviour: Callable[[threading.Event], Any], code: int, message: str
) -> None:
    agent.behaviour = behaviour
    result = run(*BASE, "--token", AGENT_TOKEN)
    assert result.exit_code == code
    assert message in result.stderr


def test_missing_agent_package_is_a_clear_error(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "suanli.agent.runtime", None)
    result = run(*BASE, "--token", AGENT_TOKEN)
    assert result.exit_code == 1
    assert "site agent is not available" in result.stderr


def test_real_agent_config_accepts_what_the_cli_builds(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runtime = pytest.importorskip("suanli.agent.runtime")
    seen: list[Any] = []
    monkeypatch.setattr(runtime, "run_agent", lambda config, stop=None: seen.append(config))
    result = run(
        *BASE, "--token", AGENT_TOKEN, "--pool", "A100:2,cpus=2,memory=1Gi", "--state-dir", str(tmp_path)
    )
    assert result.exit_code == 0, result.output
    [config] = seen
    assert (config.site, config.token, config.state_dir) == ("pku", AGENT_TOKEN, tmp_path)
    assert [p.name for p in config.pools] == ["a100"]


def test_the_agent_log_shows_on_stderr_while_it_runs_and_debug_only_with_verbose(
    agent: FakeAgent, run: Run
) -> None:
    def logs(stop: threading.Event) -> None:
        logging.getLogger("suanli.agent").info("site pku at http://s.test, backend local, offers cpu")
        logging.getLogger("suanli.agent.backends.slurm").info("attempt att_1 is Slurm job 7")
        logging.getLogger("suanli.agent").debug("sync detail")

    agent.behaviour = logs
    result = run(*BASE, "--token", AGENT_TOKEN)
    assert result.exit_code == 0, result.output
    assert "site pku at http://s.test, backend local, offers cpu" in result.stderr
    assert "attempt att_1 is Slurm job 7" in result.stderr and "sync detail" not in result.stderr
    assert result.stdout == ""
    assert "sync detail" in run(*BASE, "--token", AGENT_TOKEN, "--verbose").stderr
    assert logging.getLogger("suanli.agent").handlers == []  # removed when the agent stops


@pytest.fixture
def real_agent(server: Server, monkeypatch: pytest.MonkeyPatch) -> Server:
    """The real agent, talking to the real in-process server."""
    runtime = pytest.importorskip("suanli.agent.runtime")
    monkeypatch.setattr(
        runtime, "AgentConfig", functools.partial(runtime.AgentConfig, transport=server.transport)
    )
    return server


def test_an_agent_refused_for_a_spent_enrollment_token_exits_4(
    real_agent: Server, run: Run, tmp_path: Path
) -> None:
    enrollment = real_agent.add_site("pku")
    real_agent.enroll("pku", enrollment, [])  # an agent enrolled with it before
    result = run(*BASE, "--token", enrollment, "--pool", "cpu:1", "--state-dir", str(tmp_path / "new"))
    assert result.exit_code == 4, result.output  # not allowed, as `suanli --help` says; not 1
    assert "enrollment for site 'pku' refused: this enrollment token was already used" in result.stderr


def test_an_agent_refused_for_another_sites_token_exits_4(
    real_agent: Server, run: Run, tmp_path: Path
) -> None:
    enrollment = real_agent.add_site("thu")
    result = run(*BASE, "--token", enrollment, "--pool", "cpu:1", "--state-dir", str(tmp_path / "a"))
    assert result.exit_code == 4, result.output
    assert "this enrollment token is not for site 'pku'" in result.stderr
    agent_token = real_agent.enroll("thu", enrollment, [])  # a site token, of thu, started as pku
    result = run(*BASE, "--token", agent_token, "--pool", "cpu:1", "--state-dir", str(tmp_path / "b"))
    assert result.exit_code == 4, result.output
    assert "this agent token is site thu's, not pku's" in result.stderr


def test_an_agent_without_a_token_is_a_usage_error(real_agent: Server, run: Run, tmp_path: Path) -> None:
    real_agent.add_site("pku")
    result = run(*BASE, "--pool", "cpu:1", "--state-dir", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert (
        "error: no token: give --token (an enrollment token, sle_…, from `suanli site enroll-token pku`)"
        in (result.stderr)
    )
    assert f"{tmp_path / 'agent.token'} holds none" in result.stderr
