"""The `suanli` app itself: version, help, exit-code epilog, and the `serve` registration hook."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import subprocess
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest
import typer
from cli_server import Server
from typer.testing import CliRunner, Result

import suanli
from suanli.cli.main import _DEFERRED, _register_serve, app

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
    assert "[default: ~/.suanli]" in up and "--verbose -v Log debug detail too." in up
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


def test_the_cli_starts_without_the_server_or_the_simulator() -> None:
    """`suanli --version` or `suanli jobs` once waited ~2 s for FastAPI, SQLAlchemy and the scheduler."""
    heavy = ("fastapi", "sqlalchemy", "uvicorn", "numpy", "matplotlib", "suanli.sim", "suanli.store")
    probe = f"import sys, suanli.cli.main; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_deferred_commands_are_all_the_simulator_registers_and_listed_in_place() -> None:
    registered = typer.Typer()
    for module in set(_DEFERRED.values()):
        importlib.import_module(module).register(registered)
    assert set(typer.main.get_group(registered).commands) == set(_DEFERRED)
    group: Any = typer.main.get_command(app)
    ctx = typer.Context(group)
    names = group.list_commands(ctx)
    assert names[names.index("agent") :][: len(_DEFERRED) + 2] == [
        "agent",
        *_DEFERRED,
        "server",
    ]  # where they always were
    for name in _DEFERRED:
        command = group.get_command(ctx, name)
        assert command is not None and command.help and command.params


def test_help_names_every_spending_limit_that_exits_6(server: Server, run: Run) -> None:
    """A voucher grant over its programme's budget exits 6 as a submit over a hard-capped budget does;
    `suanli --help` says both."""
    said = " ".join(run("--help").stdout.split())
    assert "6 a spending limit reached (a project's hard-capped budget, a voucher programme's budget)" in said
    assert run("--profile", "op", "voucher", "programme", "hd", "--budget", "100.00 CNY").exit_code == 0
    over = run("--profile", "op", "voucher", "grant", "hd", "demo", "500.00", "--until", "2027-01-01")
    assert over.exit_code == 6, over.output


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    ctx = typer.Context(command)
    subs = getattr(command, "list_commands", lambda ctx: [])(ctx)
    return [path] + [
        p for name in subs for p in _command_paths(command.get_command(ctx, name), (*path, name))
    ]


def test_an_on_off_flag_shows_no_value_to_type_in_any_help(run: Run) -> None:
    """`--wait` takes no value (`--wait true` is refused), so no help shows it as `--wait <bool>`."""
    submit = run("submit", "--help").stdout
    wait = next(line for line in submit.splitlines() if "│ --wait " in line)
    assert "<bool>" not in wait and "Wait for the job to end" in wait, wait
    assert "<str>" in next(
        line for line in submit.splitlines() if "│ --project " in line
    )  # values still shown
    refused = run("submit", "x.yaml", "--wait", "true")  # as before: a flag takes no value
    assert refused.exit_code == 2 and "unexpected extra argument(s) (true)" in refused.stderr
    for path in _command_paths(typer.main.get_command(app)):
        said = run(*path, "--help")
        assert said.exit_code == 0 and "<bool>" not in said.stdout, (path, said.stdout)
