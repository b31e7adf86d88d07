"""Who you are and where you talk to: `login`, `logout`, `profiles`, `whoami`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from suanli.cli import context
from suanli.cli.config import (
    DEFAULT_PROFILE,
    ConfigError,
    config_path,
    load_config,
    remove_profile,
    save_profile,
    use_profile,
)
from suanli.cli.context import client_errors, fail, session, stderr, stdout
from suanli.cli.exit_codes import ExitCode
from suanli.cli.render import print_json, print_records
from suanli.client import TOKEN_KINDS, MalformedToken, check_token_shape

__all__ = ["register"]

JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]
profiles_app = typer.Typer(invoke_without_command=True)


def _read_token(token_file: Path | None, token_env: str | None) -> str:
    if token_file is not None and token_env is not None:
        fail("give the token one way: --token-file or --token-env, not both", ExitCode.USAGE)
    if token_file is not None:
        try:
            text = sys.stdin.read() if str(token_file) == "-" else token_file.read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"cannot read token file: {exc}", ExitCode.USAGE)
        return text.strip()
    if token_env is not None:
        value = os.environ.get(token_env)
        if not value:
            fail(f"environment variable {token_env} is not set or empty", ExitCode.USAGE)
        return value.strip()
    return str(typer.prompt("API token (input hidden)", hide_input=True, err=True)).strip()


def _mask(token: str | None) -> str:
    return f"{token[:4]}…{token[-4:]}" if token and len(token) > 12 else ("(none)" if not token else "…")


def login(
    server: Annotated[
        str | None,
        typer.Option(
            help="Server URL, e.g. http://127.0.0.1:8600.", envvar="SUANLI_SERVER", show_envvar=True
        ),
    ] = None,
    token_file: Annotated[
        Path | None, typer.Option(help="Read the token from this file (`-` for stdin).")
    ] = None,
    token_env: Annotated[
        str | None, typer.Option(metavar="VAR", help="Read the token from this environment variable.")
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            help="Save as this profile, which becomes the current one (default: the global --profile, "
            "or `default`).",
        ),
    ] = None,
) -> None:
    """Sign in to a server with an API token and save it as a profile, the current one from now on.

    The token is checked locally (prefix, length), then verified with the server (`/whoami`) before it
    is saved, with 0600 permissions, to the profiles file. Without --token-file or --token-env you are
    prompted for it (input hidden). Commands then use this profile unless given another
    (`suanli profiles use NAME` switches back).

    Examples:

    ```
    suanli login --server https://suanli.example.org
    suanli login --server http://127.0.0.1:8600 --token-file ~/token.txt --profile local
    suanli login --server https://suanli.example.org --token-env SUANLI_CI_TOKEN
    ```
    """
    name = profile or context.state.profile or DEFAULT_PROFILE
    stored = load_config().profiles.get(name)
    url = server or (stored.server if stored else None)
    if not url:
        fail("no server given: pass --server URL", ExitCode.USAGE)
    token = _read_token(token_file, token_env)
    try:
        kind = check_token_shape(token)
    except MalformedToken as exc:
        fail(f"malformed token: {exc}", ExitCode.USAGE)
    if kind in ("a", "e"):
        fail(
            f"this is a {TOKEN_KINDS[kind]} token; it is for `suanli agent`, not for signing in",
            ExitCode.USAGE,
        )
    context.check_server_url(url)
    with client_errors(url), context.make_client(url, token) as client:
        me = client.whoami()
    path = save_profile(name, url, token, make_current=True)
    who = me.get("user") or "?"
    role = " (operator)" if me.get("operator") else ""
    stdout.print(
        f"Logged in to {escape(url)} as [b]{escape(str(who))}[/b]{role}; profile {escape(name)!r} is now current."
    )
    stderr.print(f"[dim]saved to {escape(str(path))}[/dim]")


def logout(
    profile: Annotated[
        str | None, typer.Option(help="The profile to forget (default: the current one).")
    ] = None,
) -> None:
    """Forget a profile and its token (locally; the token stays valid until revoked).

    Example:

    ```
    suanli logout --profile staging
    ```
    """
    config = load_config()
    name = profile or context.state.profile or config.current
    if not name:
        fail("no current profile; nothing to log out of", ExitCode.USAGE)
    try:
        remove_profile(name)
    except ConfigError as exc:
        fail(str(exc), ExitCode.USAGE)
    stdout.print(f"Logged out of profile {escape(name)!r}.")


@profiles_app.callback()
def profiles(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List saved profiles (`*` marks the current one), or switch with `suanli profiles use NAME`.

    Tokens are shown masked.

    Examples:

    ```
    suanli profiles
    suanli profiles use staging
    ```
    """
    if ctx.invoked_subcommand is not None:
        return
    try:
        config = load_config()
    except ConfigError as exc:
        fail(str(exc), ExitCode.USAGE)
    rows = [
        {"name": p.name, "server": p.server, "token": _mask(p.token), "current": p.name == config.current}
        for p in config.profiles.values()
    ]
    if json_out:
        print_json({"current": config.current, "profiles": rows, "path": str(config_path())})
        return
    table = Table(box=None, pad_edge=False)
    for header in ("", "PROFILE", "SERVER", "TOKEN"):
        table.add_column(header, no_wrap=True)
    for row in rows:
        mark = "[green]*[/green]" if row["current"] else ""
        table.add_row(mark, escape(str(row["name"])), escape(str(row["server"])), escape(str(row["token"])))
    stdout.print(table if rows else "[dim]no profiles; run `suanli login`[/dim]")


@profiles_app.command("use")
def profiles_use(name: Annotated[str, typer.Argument(help="The profile to make current.")]) -> None:
    """Make NAME the current profile (`suanli profiles` lists them).

    Example: `suanli profiles use local-operator`
    """
    try:
        use_profile(name)
    except ConfigError as exc:
        fail(str(exc), ExitCode.USAGE)
    stdout.print(f"Now using profile {escape(name)!r}.")


def whoami(json_out: JsonOption = False) -> None:
    """Show who the current token belongs to, and its org memberships.

    Example:

    ```
    suanli whoami --json
    ```
    """
    profile = context.current_profile()
    with session() as client:
        me = client.whoami()
    if json_out:
        print_json(me)
        return
    operator = " [b](operator)[/b]" if me.get("operator") else ""
    source = "token from $SUANLI_TOKEN" if profile.token_from_env else f"profile {escape(profile.name)!r}"
    where = f"on {escape(profile.server)} ({source})"
    stdout.print(f"{escape(str(me.get('user')))}{operator} {where}")
    memberships = [m for m in me.get("memberships") or [] if isinstance(m, dict)]
    print_records(memberships, ("org", "role"), "no org memberships")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `suanli` app."""
    app.command()(login)
    app.command()(logout)
    app.add_typer(profiles_app, name="profiles")
    app.command()(whoami)
