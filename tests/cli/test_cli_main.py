"""The `suanli` app itself: version, help, exit-code epilog, and the `serve` registration hook."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Callable

import pytest
import typer
from typer.testing import CliRunner, Result

import suanli
from suanli.cli.main import _register_serve

Run = Callable[..., Result]


def test_version(run: Run) -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"suanli {suanli.__version__}"


def test_help_lists_commands_and_exit_codes(run: Run) -> None:
    out = run("--help").stdout
    for command in ("login", "submit", "jobs", "logs", "sites", "site", "org", "token", "agent"):
        assert f" {command} " in out
    assert "Exit codes" in out and "5 server unreachable" in out


@pytest.mark.parametrize("group", ["site", "org", "project", "member", "token", "profiles"])
def test_every_group_has_help(run: Run, group: str) -> None:
    result = run(group, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.stdout


def test_usage_errors_exit_2(run: Run) -> None:
    assert run("jobs", "--limit", "0").exit_code == 2
    assert run("no-such-command").exit_code == 2


def test_serve_module_registers_its_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    serve = types.ModuleType("suanli.cli.serve")

    def register(app: typer.Typer) -> None:
        @app.command("up")
        def up() -> None:
            typer.echo("network up")

        @app.command("server")
        def server() -> None:
            typer.echo("serving")

    serve.register = register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "suanli.cli.serve", serve)
    app = typer.Typer()
    _register_serve(app)
    assert CliRunner().invoke(app, ["up"]).stdout == "network up\n"


def test_absent_serve_module_adds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "suanli.cli.serve", None)  # import fails as if the file were absent
    app = typer.Typer()
    _register_serve(app)
    assert app.registered_commands == []


class BrokenServe(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds `suanli.cli.serve` but fails to import it, as a half-written module would."""

    def find_spec(
        self, name: str, path: object, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        return importlib.util.spec_from_loader(name, self) if name == "suanli.cli.serve" else None

    def exec_module(self, module: types.ModuleType) -> None:
        raise ImportError("cannot import name 'build_app' from 'suanli.api'")


def test_broken_serve_module_still_explains_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "suanli.cli.serve", raising=False)
    monkeypatch.setattr(sys, "meta_path", [BrokenServe(), *sys.meta_path])
    app = typer.Typer()
    _register_serve(app)

    @app.callback()
    def root() -> None:
        pass

    result = CliRunner().invoke(app, ["up"])
    assert result.exit_code == 1
    assert "build_app" in result.stderr
    # With options too: the import error, not "No such option: --port".
    result = CliRunner().invoke(app, ["server", "--port", "8601", "--data-dir", "/tmp/x"])
    assert result.exit_code == 1
    assert "build_app" in result.stderr
    assert "No such option" not in result.output


def test_help_shows_defaults_and_describes_every_option(run: Run) -> None:
    up = " ".join(run("up", "--help").stdout.split())
    assert "[default: ~/.suanli]" in up and "--verbose -v <bool> Log debug detail too." in up
    login = run("login", "--help").stdout
    assert "127.0.0.1:8600" in login and "8000" not in login


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["org", "create", "x", "--kind", "bank"], "'bank' is not one of 'tenant', 'provider'"),
        (["member", "add", "acme", "ada", "--role", "boss"], "'boss' is not one of 'owner'"),
        (["usage", "--by", "week"], "'week' is not one of 'project'"),
    ],
)
def test_a_value_not_among_the_choices_is_named_plainly(run: Run, args: list[str], expected: str) -> None:
    result = run(*args)
    message = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 2 and expected in message and "Value error" not in message
