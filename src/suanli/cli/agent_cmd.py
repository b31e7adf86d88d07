"""`suanli agent`: run a provider site's agent in the foreground until SIGINT or SIGTERM.

The agent itself lives in `suanli.agent`; it is imported only when this command runs, so the rest of
the CLI works where the agent (or a backend's engine libraries) is not installed.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from suanli.cli.context import check_server_url, client_errors, fail, stderr
from suanli.cli.exit_codes import ExitCode, exit_code_for_status
from suanli.client import ApiError, MalformedToken, check_token_shape

__all__ = ["agent", "register", "resolve_agent_token"]

TOKEN_ENV = "SUANLI_AGENT_TOKEN"


def resolve_agent_token(token: str | None, token_file: Path | None) -> str | None:
    """The agent's token: `--token`, else `--token-file`, else `$SUANLI_AGENT_TOKEN`; shape-checked.

    None when none is given: the agent then uses the token it saved in its state dir at enrollment.
    """
    if token is None and token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            fail(f"cannot read --token-file: {exc.strerror or exc}", ExitCode.USAGE)
    if token is None:
        token = os.environ.get(TOKEN_ENV, "").strip() or None
    if token is None:
        return None
    try:
        kind = check_token_shape(token)
    except MalformedToken as exc:
        fail(f"malformed token: {exc}", ExitCode.USAGE)
    if kind not in ("a", "e"):
        fail("the agent needs a site token (sla_…) or an enrollment token (sle_…)", ExitCode.USAGE)
    return token


def _parse_pools(pools_module: Any, values: list[str]) -> tuple[Any, ...]:
    # `parse_pools` also refuses two pools of one name; fall back to one `parse_pool` per value.
    if hasattr(pools_module, "parse_pools"):
        return tuple(pools_module.parse_pools(values))
    return tuple(pools_module.parse_pool(value) for value in values)


def _parse_options(values: list[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key.strip():
            fail(f"--backend-opt {value!r}: use KEY=VALUE, e.g. partition=gpu", ExitCode.USAGE)
        out.append((key.strip(), val.strip()))
    return tuple(out)


def _refusal_code(exc: BaseException) -> ExitCode:
    """The exit code of an agent that could not start: the server's refusal (an enrollment token
    already used, or another site's: not allowed, 4) as any command's, else 1."""
    cause = exc.__cause__
    if not isinstance(cause, ApiError):
        return ExitCode.FAILED
    code = exit_code_for_status(cause.status, cause.code)
    # a 404 is a --server that is not the server's base URL, not a missing site (that is a 403)
    return ExitCode.USAGE if code is ExitCode.NOT_FOUND else code


def _install_stop_handlers(stop: threading.Event) -> dict[int, Any]:
    """SIGINT/SIGTERM ask the agent to stop cleanly; a second SIGINT interrupts at once."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        again = " (Ctrl-C again stops it at once)" if signum == signal.SIGINT else ""
        stderr.print(f"[dim]stopping the agent…{again}[/dim]")
        stop.set()

    return {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}


@contextmanager
def _log_to_stderr(verbose: bool) -> Iterator[None]:
    """The agent's own log (`suanli.agent`: enrolment, pools offered, attempts started and ended,
    lost and regained connections) on stderr while it runs; nothing per sync, and no HTTP client
    chatter, so a provider sees that it works without a stream of lines."""
    logger = logging.getLogger("suanli.agent")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def agent(
    server: Annotated[
        str, typer.Option(help="The suanli server URL.", envvar="SUANLI_SERVER", show_envvar=True)
    ],
    site: Annotated[str, typer.Option(help="The site's name, as `suanli site add` registered it.")],
    token: Annotated[
        str | None,
        typer.Option(
            help=f"Site (sla_) or enrollment (sle_) token; else --token-file, ${TOKEN_ENV}, or the token "
            "the agent saved in its state dir when it enrolled."
        ),
    ] = None,
    token_file: Annotated[Path | None, typer.Option(help="Read the token from this file.")] = None,
    backend: Annotated[str, typer.Option(help="The engine jobs run on: local, slurm, ray, ...")] = "local",
    pool: Annotated[
        list[str] | None,
        typer.Option(
            metavar="SPEC",
            help="A pool the site offers: KIND:COUNT, with NAME= before it and ,cpus=N or ,memory=SIZE "
            "after it if needed (e.g. A100:4, cpu:8, big=A100:8,cpus=32,memory=512Gi; KIND a model of "
            "the catalog, as job specs name them; SIZE as in job specs); repeat for several. Default: this machine's GPUs, "
            "else all its CPUs.",
        ),
    ] = None,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where the agent keeps its token and attempt state (default ~/.suanli/agent-SITE)."
        ),
    ] = None,
    sync_wait: Annotated[
        float, typer.Option(min=0, max=30, help="Seconds the server may hold a sync open (long poll).")
    ] = 20.0,
    meter_every: Annotated[
        float,
        typer.Option(
            min=1,
            max=86_400,
            help="Seconds between a running job's usage records: it is charged, and pays its provider, as it runs.",
        ),
    ] = 300.0,
    backend_opt: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KEY=VALUE",
            help="An engine option, e.g. partition=gpu (Slurm) or address=http://127.0.0.1:8265 (Ray); repeatable.",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail too.")] = False,
) -> None:
    """Run this site's agent: offer its pools to the network and run what it is given.

    Runs in the foreground until SIGINT (Ctrl-C) or SIGTERM, then stops cleanly. Logs to stderr
    what it offers and each change (enrolled, connected, attempt started or ended, connection lost).

    Examples:

    ```
    suanli agent --server https://suanli.example.org --site pku-a100 --token sle_... --backend local
    SUANLI_AGENT_TOKEN=sla_... suanli agent --server http://127.0.0.1:8600 --site lab --pool A100:4
    ```
    """
    check_server_url(server)
    secret = resolve_agent_token(token, token_file)
    try:
        runtime = importlib.import_module("suanli.agent.runtime")
        pools_module = importlib.import_module("suanli.agent.pools")
        errors = importlib.import_module("suanli.agent.errors")
        credentials = importlib.import_module("suanli.agent.credentials")
    except ImportError as exc:
        fail(f"the site agent is not available in this installation: {exc}", ExitCode.FAILED)
    try:
        config = runtime.AgentConfig(
            server=server,
            token=secret,
            site=site,
            backend=backend,
            pools=_parse_pools(pools_module, pool or []),
            state_dir=state_dir,
            sync_wait=sync_wait,
            meter_every=meter_every,
            backend_options=_parse_options(backend_opt or []),
        )
    except ValueError as exc:
        fail(str(exc), ExitCode.USAGE)
    saved = config.resolved_state_dir / credentials.TOKEN_FILE
    if secret is None and not saved.exists():
        fail(
            f"no token: give --token (an enrollment token, sle_…, from `suanli site enroll-token {site}`), "
            f"--token-file or ${TOKEN_ENV}; {saved} holds none",
            ExitCode.USAGE,
        )
    stop = threading.Event()
    previous = _install_stop_handlers(stop)
    try:
        with client_errors(server), _log_to_stderr(verbose):
            result = runtime.run_agent(config, stop=stop)
    except KeyboardInterrupt:
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except errors.AgentUnauthorized as exc:
        fail(f"the server refused the agent's token: {exc}", ExitCode.AUTH)
    except errors.AgentRefused as exc:  # a good token, another site's
        fail(str(exc), ExitCode.AUTH)
    except errors.AgentError as exc:
        fail(str(exc), _refusal_code(exc))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if isinstance(result, int) and not isinstance(result, bool):
        raise typer.Exit(result)


def register(app: typer.Typer) -> None:
    """Add `agent` to the `suanli` app."""
    app.command()(agent)
