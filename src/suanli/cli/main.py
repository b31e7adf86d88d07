"""The `suanli` command: the Typer app, its global options, and where every command is registered.

Commands live in small modules that each expose `register(app)`. `server` and `up` come from
`suanli.cli.serve` when that module is installed (it starts the control plane in-process, so it is the
one part of the CLI allowed to import below `suanli.client`). The simulator's commands are imported
only when one of them runs or `--help` lists them (`_DEFERRED`), so that `suanli jobs` does not wait
for the simulator and the scheduler to load.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

import suanli
from suanli.cli import (
    agent_cmd,
    auth_cmd,
    billing_cmd,
    context,
    jobs_cmd,
    ledger_cmd,
    money_cmd,
    price_cmd,
    sites_cmd,
    submit_cmd,
    tenancy_cmd,
)
from suanli.cli.context import CliState, fail
from suanli.cli.exit_codes import EXIT_CODES_HELP, ExitCode

__all__ = ["app", "main"]

SPELLED_APART = {
    ("sim", "compare"): "sim-compare",
    ("sim", "generate"): "sim-generate",
    ("sim", "export"): "sim-export",
}
"""Two-word commands that may also be written as two words: `suanli sim compare t.csv`."""

_DEFERRED = {
    "sim": "suanli.cli.sim_cmd",
    "sim-compare": "suanli.cli.sim_compare_cmd",
    "sim-generate": "suanli.cli.sim_generate_cmd",
    "sim-export": "suanli.cli.sim_export_cmd",
}
"""Commands whose module is imported only when the command is looked up (to run it, or for `--help`):
the simulator pulls in pydantic and the scheduler, which every other command would wait for."""


def _flag_shows_no_value(display_type_rich: Any) -> Any:
    """Typer's rich help gives an on/off flag a value to type, `--wait <bool>`, though `--wait true` is
    refused (a flag takes none); so its help shows none, as click's plain help does."""

    def shown(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag or self.count else display_type_rich(self, ctx)

    return shown


# One place for the help of every command (and of -h/--help itself, which click makes on demand).
if callable(getattr(TyperOption, "display_type_rich", None)):
    TyperOption.display_type_rich = _flag_shows_no_value(TyperOption.display_type_rich)  # type: ignore[method-assign]


class _Deferred(TyperCommand):
    """Holds the place of a `_DEFERRED` command, and so its place in `--help`, until it is loaded."""


class _Commands(TyperGroup):
    """The root group. `suanli sim compare` is `suanli sim-compare` (and `sim generate`
    `sim-generate`), unless a file of that name is there to replay: `suanli sim compare` then
    replays it, as `suanli sim TRACE` always has. A `_Deferred` stand-in is replaced by the real
    command the first time it is looked up."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:  # Typer's own (vendored) click types
        joined = SPELLED_APART.get((args[0], args[1])) if len(args) > 1 else None
        if joined is not None and not Path(args[1]).exists():
            return super().resolve_command(ctx, [joined, *args[2:]])
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if isinstance(command, _Deferred):
            loaded = typer.Typer(rich_markup_mode=app.rich_markup_mode)  # as the root's
            importlib.import_module(_DEFERRED[cmd_name]).register(loaded)
            for name, real in typer.main.get_group(loaded).commands.items():
                if name in _DEFERRED:
                    self.commands[name] = real  # the same key: its place in the listing stays
            command = super().get_command(ctx, cmd_name)
        return command


app = typer.Typer(
    cls=_Commands,
    name="suanli",
    rich_markup_mode="markdown",
    help="suanli (算力): submit jobs to an open computing power network, and run or manage its sites.",
    epilog=EXIT_CODES_HELP
    + "\n\nConfig: profiles live in $SUANLI_CONFIG_DIR/config.toml (default ~/.suanli); "
    "SUANLI_PROFILE, SUANLI_SERVER and SUANLI_TOKEN override it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"suanli {suanli.__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(help="Use this saved profile.", envvar="SUANLI_PROFILE", show_envvar=True),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Options that apply to every command."""
    source = ctx.get_parameter_source("profile")
    context.state = CliState(profile=profile, profile_from_flag=getattr(source, "name", "") == "COMMANDLINE")


def _register_serve(target: typer.Typer) -> None:
    """Register `server` and `up` from `suanli.cli.serve` when it is there.

    If the module exists but cannot be imported, the two commands still appear and explain why, rather
    than the whole CLI failing.
    """
    try:
        serve = importlib.import_module("suanli.cli.serve")
    except ModuleNotFoundError as exc:
        if exc.name == "suanli.cli.serve":
            return
        error: ImportError = exc
    except ImportError as exc:
        error = exc
    else:
        serve.register(target)
        return

    def unavailable() -> None:
        fail(f"the server is not available in this installation: {error}", ExitCode.FAILED)

    # Any options (`server --port 8600`) are taken, so the user sees why the command cannot run, not
    # "No such option: --port".
    settings = {"ignore_unknown_options": True, "allow_extra_args": True}
    for name in ("server", "up"):
        target.command(name, help="(unavailable: see the error it prints)", context_settings=settings)(
            unavailable
        )


def _not_loaded() -> None:  # never runs: `_Commands.get_command` replaces its command first
    raise RuntimeError("a deferred command ran before it was loaded")


_COMMANDS = (
    auth_cmd,
    submit_cmd,
    jobs_cmd,
    sites_cmd,
    tenancy_cmd,
    money_cmd,
    price_cmd,
    ledger_cmd,
    billing_cmd,
    agent_cmd,
)
for _module in _COMMANDS:
    _module.register(app)
for _name in _DEFERRED:
    app.command(_name, cls=_Deferred)(_not_loaded)
_register_serve(app)


def main() -> None:
    """The console script `suanli`."""
    app()
