"""How a command reaches the server: the chosen profile, the client factory seam, errors → exit codes.

Every command that talks to the API does so inside `session()`, which resolves the profile, builds the
client through `make_client` (tests replace it with one on an `httpx.MockTransport`), and turns the
client's errors into one red line on stderr and the documented exit code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.markup import escape

from suanli.cli.config import ConfigError, NotLoggedIn, Profile, resolve_profile
from suanli.cli.exit_codes import ExitCode, exit_code_for_status
from suanli.client import ApiError, Client, ClientError, MalformedToken, ServerUnreachable, check_token_shape

__all__ = [
    "CliState",
    "check_server_url",
    "choice",
    "client_errors",
    "current_profile",
    "fail",
    "make_client",
    "session",
    "state",
    "stderr",
    "stdout",
]

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class CliState:
    """Options given before the command (`suanli --profile NAME jobs`)."""

    profile: str | None = None
    """`--profile`, or `$SUANLI_PROFILE` when it is not given."""
    profile_from_flag: bool = False
    """`--profile` was on the command line: that profile's server and token beat `$SUANLI_SERVER`
    and `$SUANLI_TOKEN` (see `resolve_profile`)."""


# One invocation per process: the root callback resets this before any command runs. (A module value
# rather than the Typer context because commands should not have to thread a context through.)
state = CliState()


def check_server_url(server: str) -> None:
    """A server is an http:// or https:// URL; anything else is a usage error, not an unreachable server."""
    if not server.lower().startswith(("http://", "https://")) or not urlsplit(server).netloc:
        fail(f"{server!r} is not a server URL: use e.g. http://127.0.0.1:8600", ExitCode.USAGE)
    if urlsplit(server).path.rstrip("/").endswith("/api/v1"):
        fail(
            f"{server!r}: give the server's base URL, without /api/v1 (e.g. http://127.0.0.1:8600)",
            ExitCode.USAGE,
        )


def make_client(server: str, token: str | None) -> Client:
    """Build the API client; the one seam tests replace to inject a fake transport."""
    return Client(server, token)


def fail(message: str, code: int, fields: list[dict[str, object]] | None = None) -> NoReturn:
    """Print `error: message` (and one line per field error) on stderr and exit with `code`."""
    stderr.print(f"[red]error:[/red] {escape(message)}")
    for item in fields or []:
        field = _field_of(item)
        said = escape(str(item.get("message") or item.get("msg") or ""))
        stderr.print(f"  {escape(_label(field))}: {said}")
    raise typer.Exit(code)


def _field_of(item: dict[str, object]) -> str:
    return str(item.get("field") or item.get("loc") or "?")


def _label(field: str) -> str:
    """The field as given on this command line (`_as_given`), else as the API named it."""
    try:
        return _as_given(field)
    except Exception:  # naming it as given is a courtesy; the error must still be said
        return field


# What the API says of a refusal when only its field errors say what was wrong
_GENERIC = "the request is invalid"


def _plainly(detail: str, errors: list[dict[str, object]]) -> tuple[str, list[dict[str, object]]]:
    """A refusal's headline as the user gave the command: one whose only news is its one field error
    (`the request is invalid`, `invalid pue`) becomes that error, named as typed (`--pue: a number
    from 1.0 to 3.0`); an `invalid FIELD …` names the field as typed (`invalid --region 'X'`)."""
    fields = [_field_of(e) for e in errors]
    # `invalid bandwidth_mbps` of its one error `bandwidth_mbps.cn`: an entry of a map says it all
    if len(errors) == 1 and detail in (
        _GENERIC,
        f"invalid {fields[0]}",
        f"invalid {fields[0].split('.')[0]}",
    ):
        said = str(errors[0].get("message") or errors[0].get("msg") or "invalid")
        return f"{_label(fields[0])}: {said}", []
    for field in fields:
        if detail == f"invalid {field}" or detail.startswith(f"invalid {field} "):
            return f"invalid {_label(field)}{detail[len('invalid ') + len(field) :]}", errors
    return detail, errors


# API fields that commands take under another name: `--until` is a voucher's `valid_until`.
_PARAM_OF = {
    "valid_until": "until",
    "providers": "provider",
    "sites": "site",
    "accelerators": "accelerator",
    "guaranteed_cu": "guaranteed",
    "limit_cu": "limit",
    "carbon_g_per_kwh": "carbon",
    "bandwidth_mbps": "bandwidth",
    # `price set`: a tenant rate is `--accelerator-hour`, even when left out (kept from the version before)
    "tenant_accelerator_hour": "accelerator_hour",
    "tenant_cpu_hour": "cpu_hour",
    "tenant_gb_hour": "gb_hour",
    "org": "provider",  # `payout PROVIDER`: the org paid (a command taking `--org` names it first)
}


def _as_given(field: str) -> str:
    """The API's field as the user gave it on this command line: `--reason` for `reason`,
    `--wholesale-accelerator-hour` for `wholesale.accelerator_hour`, `amount` for `body.amount`; the
    field itself when no argument or option given here carries it (e.g. a spec file's field)."""
    core, globals_ = _click_modules()
    ctx = globals_.get_current_context(silent=True)
    parts = field.split(".")
    if parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    if ctx is None or not parts:
        return field
    if len(parts) > 2:
        return field
    whole, last = "_".join(parts), parts[-1]
    # An option named for a whole dotted field is the one to give even when it was left out
    # (`wholesale.cpu_hour` is `--wholesale-cpu-hour`, not the `--cpu-hour` typed); any other only
    # if typed here (a spec file's `name` is not `--name`).
    nested = len(parts) == 2
    candidates = (
        (whole, not nested),
        (_PARAM_OF.get(whole), not nested),
        (last, True),
        (_PARAM_OF.get(last), True),
    )
    for name, typed_only in candidates:
        for param in ctx.command.params:
            if name is None or param.name != name:
                continue
            if param.param_type_name == "argument":  # the help lists it by its name
                return str(param.name)
            if not typed_only or ctx.get_parameter_source(name) is core.ParameterSource.COMMANDLINE:
                return str(max(param.opts, key=len))
    # An entry of a map typed as KEY=VALUE (`bandwidth_mbps.cn` is `--bandwidth cn=…`): the option and key.
    head = _PARAM_OF.get(parts[0], parts[0])
    if nested and ctx.get_parameter_source(head) is core.ParameterSource.COMMANDLINE:
        option = next(p for p in ctx.command.params if p.name == head)
        return f"{max(option.opts, key=len)} {parts[1]}"
    return field


def _click_modules() -> tuple[Any, Any]:
    """Click's `core` and `globals` as Typer runs them: newer Typers carry their own copy."""
    for package in ("typer._click", "click"):
        try:
            return importlib.import_module(f"{package}.core"), importlib.import_module(f"{package}.globals")
        except ImportError:
            continue
    raise ImportError("neither typer._click nor click is installed")


E = TypeVar("E", bound=StrEnum)


def choice(kind: type[E]) -> Callable[[str], E]:
    """The parser for an option of fixed values: `'bank' is not one of 'tenant', 'provider'` (typer's
    own check words it through pydantic, as `Value error, 'bank' is not one of …`)."""

    def parse(value: str) -> E:
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(repr(k.value) for k in kind)
            raise typer.BadParameter(f"{value!r} is not one of {allowed}") from None

    return parse


def current_profile() -> Profile:
    """The profile this invocation uses (global `--profile`, env, or the current one)."""
    try:
        return resolve_profile(state.profile if state.profile_from_flag else None)
    except NotLoggedIn as exc:
        fail(str(exc), ExitCode.AUTH)
    except ConfigError as exc:
        fail(str(exc), ExitCode.USAGE)


def _running(command: str) -> bool:
    """Whether this invocation runs `command` (its top-level name)."""
    _, globals_ = _click_modules()
    ctx = globals_.get_current_context(silent=True)
    return ctx is not None and ctx.command_path.split()[1:2] == [command]


@contextmanager
def client_errors(server: str) -> Iterator[None]:
    """Translate the client's errors raised in the block into a message and an exit code."""
    try:
        yield
    except ApiError as exc:
        message, errors = _plainly(exc.detail, exc.errors)
        if exc.status == 401 and not _running("login"):  # not back to the command that just failed
            message += " (run `suanli login` to sign in again)"
        fail(message, exit_code_for_status(exc.status, exc.code), errors)
    except ServerUnreachable as exc:
        fail(f"{exc} (is the server running? `make up` starts a local one)", ExitCode.UNREACHABLE)
    except MalformedToken as exc:
        fail(f"malformed token: {exc}", ExitCode.USAGE)
    except ClientError as exc:
        fail(f"{exc} (server {server})", ExitCode.FAILED)


@contextmanager
def session() -> Iterator[Client]:
    """A client for the chosen profile; client errors in the block end the command cleanly."""
    profile = current_profile()
    check_server_url(profile.server)
    if profile.token is not None:
        try:
            check_token_shape(profile.token)
        except MalformedToken as exc:
            where = "$SUANLI_TOKEN" if profile.token_from_env else f"profile {profile.name!r}"
            fail(f"the token of {where} is malformed: {exc}", ExitCode.USAGE)
    with client_errors(profile.server), make_client(profile.server, profile.token) as client:
        yield client
