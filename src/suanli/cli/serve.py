"""`suanli server` and `suanli up`: run the control plane (and, for `up`, a local site) in the foreground.

The control plane, the API app and uvicorn are imported inside the functions that use them, not at the
top: `main` imports this module for every command, and they take seconds to load. It is the one CLI
module allowed to import them; what needs none of them is in `listen.py` and `local_agent.py`.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from suanli.cli.config import ConfigError, config_path, link_local_network, load_config
from suanli.cli.context import fail, stderr
from suanli.cli.exit_codes import ExitCode
from suanli.cli.listen import listen_url, refuse_if_port_taken
from suanli.cli.local_agent import LocalAgent, agent_command, refuse_if_running, wait_until_healthy

if TYPE_CHECKING:
    import uvicorn

    from suanli.control.plane import ControlPlane
    from suanli.control.settings import Settings
    from suanli.store import Database

__all__ = ["register"]

log = logging.getLogger("suanli.server")
DEFAULT_PORT = 8600


def _settings(data_dir: Path | None, database_url: str | None) -> Settings:
    from suanli.control.settings import Settings

    settings = Settings()
    if data_dir is not None:
        settings.data_dir = data_dir
    if database_url is not None:
        settings.database_url = database_url
    if settings.database_url and settings.database_url.startswith("postgres://"):
        # the short scheme Heroku and libpq print; SQLAlchemy knows only `postgresql`
        settings.database_url = "postgresql://" + settings.database_url.removeprefix("postgres://")
    settings.data_dir = settings.data_dir.expanduser()
    # the ledger, tokens and job output live here: the owner's alone, as ~/.ssh is
    try:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot create the data dir {settings.data_dir}: {exc.strerror or exc}", ExitCode.USAGE)
    return settings


def _open(settings: Settings) -> Database:
    """The database, migrated to the newest schema; a URL or database that cannot be used ends the
    command with one line that says why and what to do, not the driver's traceback."""
    from suanli.store import Database, StoreError, Unavailable, sqlite_url

    url = settings.database_url or sqlite_url(settings.data_dir)
    if settings.database_url is None:  # a new database file (and its journal) readable by the owner alone
        (settings.data_dir / "suanli.db").touch(mode=0o600, exist_ok=True)
    try:
        db = Database(url)
    except StoreError:
        scheme = url.partition(":")[0]
        fail(
            f"--database-url: unsupported database URL scheme {scheme!r}: write "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE, or leave it out for SQLite in the data dir",
            ExitCode.USAGE,
        )
    try:
        db.migrate()
    except Unavailable as exc:
        db.close()
        fail(_unopenable(url, str(exc)), ExitCode.FAILED)
    return db


def _unopenable(url: str, reason: str) -> str:
    """One line for a database the server cannot open: the URL (password hidden), the driver's
    reason, and what to do about it."""
    from suanli.store import shown_url

    if "does not exist" in reason:
        fix = "create it (e.g. createdb), or point --database-url at one that exists"
    elif "password authentication failed" in reason or "no password supplied" in reason:
        fix = "check the user and password in --database-url"
    elif "refused" in reason or "could not translate host name" in reason or "timeout" in reason:
        fix = "is PostgreSQL running there? check the host and port in --database-url"
    else:
        fix = "check --database-url (or $SUANLI_DATABASE_URL)"
    return f"cannot open the database {shown_url(url)}: {reason}; {fix}"


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    path.chmod(0o600)


def _read_secret(path: Path) -> str | None:
    """A token `_write_secret` wrote; None if the file is gone or empty."""
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("alembic", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


DataDir = Annotated[
    Path | None,
    typer.Option(
        help="Where SQLite data, tokens and site state live. [default: ~/.suanli]",
        envvar="SUANLI_DATA_DIR",
        show_envvar=True,
    ),
]
DbUrl = Annotated[
    str | None,
    typer.Option(
        help="postgresql://USER:PASSWORD@HOST:PORT/DATABASE (postgres://… too) to use PostgreSQL "
        "(default: SQLite in the data dir).",
        envvar="SUANLI_DATABASE_URL",
        show_envvar=True,
    ),
]


def server(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = DEFAULT_PORT,
    data_dir: DataDir = None,
    database_url: DbUrl = None,
    demo: Annotated[bool, typer.Option(help="Also create the demo tenant on first start.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail too.")] = False,
) -> None:
    """Run the control plane: the API server and the scheduling loop.

    On first start it creates the operator account and writes its token to DATA_DIR/operator.token
    (mode 0600); once it listens it prints its URL and how the operator signs in (`suanli login
    --server URL --token-file DATA_DIR/operator.token`). Stop with Ctrl-C; all state is in the
    database.
    """
    refuse_if_port_taken(
        host, port, "another suanli server? Stop it, or listen elsewhere with --port (or --host)"
    )  # before the database is touched or a token written
    from suanli.control import bootstrap
    from suanli.control.plane import ControlPlane, utcnow

    _logging(verbose)
    settings = _settings(data_dir, database_url)
    db = _open(settings)
    now = utcnow()
    first = bootstrap.ensure_demo(db, now) if demo else None
    operator = first.operator_token if first else bootstrap.ensure_operator(db, now)
    token_file = (settings.data_dir / "operator.token").absolute()
    if operator:
        _write_secret(token_file, operator)
    if first:
        _write_secret(settings.data_dir / "demo.token", first.tenant_token)
    url = listen_url(host, port)
    cp = ControlPlane(db, settings)

    def started() -> None:
        all_addresses = " (every address of this machine)" if host in ("0.0.0.0", "::", "") else ""
        stderr.print(f"[bold]suanli server[/bold] listening on {url}{all_addresses}  (API docs {url}/docs)")
        if token_file.exists():
            written = "written to" if operator else "in"
            stderr.print(
                f"  operator token {written} {token_file}; sign in with: "
                f"suanli login --server {url} --token-file {token_file}"
            )
        else:  # another server on this database created the operator and wrote it to its own data dir
            stderr.print(
                f"  no operator token in {settings.data_dir}: the first server started on this database "
                "wrote it to its data dir (operator.token)"
            )

    _server(cp, host, port, before_exit=cp.signals.close, on_started=started).run()


def up(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port for the API.")] = DEFAULT_PORT,
    data_dir: DataDir = None,
    database_url: DbUrl = None,
    pool: Annotated[
        list[str] | None,
        typer.Option(
            metavar="SPEC",
            help="Pools of the local site, e.g. cpu:2 or A100:4 (fake slots). "
            "Default: this machine's GPUs, else all its CPUs.",
        ),
    ] = None,
    site: Annotated[str, typer.Option(help="Name of the local site.")] = "local",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail too.")] = False,
) -> None:
    """Start the whole network on this machine: API, scheduler and one local site.

    First start creates an operator, a demo tenant (org `demo`, project `default`) and a local site,
    and writes the CLI profiles `local` (current) and `local-operator`, so `suanli submit
    examples/hello.yaml` works at once. A second network (another --data-dir) gets `local-PORT`
    instead of taking those names and leaves the current profile as it is (`suanli --profile
    local-PORT …` reaches it); a network started again on another --port takes its profiles with it. Ctrl-C stops everything; starting again keeps all data.
    """
    _refuse_bad_options(site, pool or [])  # before anything is started or written
    from suanli.control import bootstrap
    from suanli.control.plane import ControlPlane, utcnow

    _logging(verbose)
    settings = _settings(data_dir, database_url)
    state_dir = settings.data_dir / f"agent-{site}"
    refuse_if_running(port, state_dir, settings.data_dir)  # before any profile or token is written
    db = _open(settings)
    now = utcnow()
    if not (state_dir / "agent.token").exists():
        _refuse_if_site_in_use(db, site, now, settings.lease_ttl)
    server_url = f"http://127.0.0.1:{port}"
    first = bootstrap.ensure_demo(db, now)
    if first:
        _write_secret(settings.data_dir / "operator.token", first.operator_token)
        _write_secret(settings.data_dir / "demo.token", first.tenant_token)
    tenant_token = _read_secret(settings.data_dir / "demo.token")
    if tenant_token:
        operator_token = _read_secret(settings.data_dir / "operator.token")
        said = link_local_network(server_url, tenant_token, operator_token, new=first is not None)
        for i, line in enumerate(said, 1):
            stderr.print(line + (f" ({config_path()})" if i == len(said) else ""))
    enroll = None
    if not (state_dir / "agent.token").exists():
        enroll = bootstrap.local_site_token(db, site, "local", now, force=True)
    env = {**os.environ, **({"SUANLI_AGENT_TOKEN": enroll} if enroll else {})}
    stderr.print(f"[bold]suanli is up[/bold]: API {server_url}  (docs {server_url}/docs)")
    if tenant_token:  # the token rides in the fragment, which a browser never sends to a server
        stderr.print(f"  portal: {server_url}/portal/#token={tenant_token}")
    stderr.print(
        f"  tenant token: {settings.data_dir / 'demo.token'}; operator token: "
        f"{settings.data_dir / 'operator.token'}"
    )
    stderr.print(
        f"  try: suanli {_profile_flag(tenant_token)}submit examples/hello.yaml --wait    "
        "(Ctrl-C here stops everything)"
    )
    agent = LocalAgent(site, agent_command(server_url, site, state_dir, pool or []), env)
    _serve_with_agent(ControlPlane(db, settings), port, agent)


def _refuse_bad_options(site: str, pools: list[str]) -> None:
    """Stop (exit 2) when the local site's name or a `--pool` would be refused later: the name by
    the rule every site's name follows, a pool by the agent, which would leave the network running
    with no site to run jobs."""
    from suanli.agent.pools import parse_pools
    from suanli.control.accounts import check_name
    from suanli.control.errors import Invalid

    try:
        check_name("--site", site)
    except Invalid as exc:
        fail(f"bad --site {site!r}: {'; '.join(e.message for e in exc.errors)}", ExitCode.USAGE)
    try:
        parse_pools(pools)
    except ValueError as exc:
        fail(str(exc), ExitCode.USAGE)


def _serve_with_agent(cp: ControlPlane, port: int, agent: LocalAgent) -> None:
    """Serve the API with the local agent beside it until either stops. Ctrl-C stops the agent
    first (it reports its last states), then the server; an agent that exits on its own stops the
    server too, and `up` fails: a network without its site would take jobs and never run them."""
    server_url = f"http://127.0.0.1:{port}"

    def before_exit() -> None:
        agent.stop()
        cp.signals.close()  # end open long polls so shutdown does not wait for them

    served = _server(cp, "127.0.0.1", port, before_exit=before_exit)

    def agent_exited() -> None:
        cp.signals.close()
        served.should_exit = True

    threading.Thread(
        target=agent.run, args=(lambda: wait_until_healthy(server_url), agent_exited), daemon=True
    ).start()
    try:
        served.run()
    finally:
        agent.stop()
    if agent.exit_code is not None:
        code = agent.exit_code
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        fail(
            f"the local agent (site {agent.site!r}) {how} (its log is above, on stderr); the server is "
            "stopped too: without its site the network would take jobs and never run them",
            ExitCode.FAILED,
        )


def _profile_flag(tenant_token: str | None) -> str:
    """`--profile NAME ` when this network's tenant profile is not the current one, else nothing."""
    try:
        config = load_config()
    except ConfigError:
        return ""
    here = next((p.name for p in config.profiles.values() if tenant_token and p.token == tenant_token), None)
    return f"--profile {here} " if here is not None and here != config.current else ""


def _refuse_if_site_in_use(db: Database, site: str, now: datetime, lease_ttl: float) -> None:
    """Stop (exit 2) when another agent syncs as this site (a network on another data dir over the
    same database): enrolling here would revoke its token and take the site from it."""
    from suanli.control import bootstrap

    seen = bootstrap.site_seen_since(db, site, now - timedelta(seconds=lease_ttl))
    if seen is not None:
        ago = max(0, round((now - seen).total_seconds()))
        fail(
            f"site {site!r} is online from another agent (its last sync {ago}s ago), likely a network "
            "started on another data dir over this database; name this one's local site with "
            "--site NAME (SITE=… with make up), or stop the other first",
            ExitCode.USAGE,
        )


def _server(
    cp: ControlPlane,
    host: str,
    port: int,
    before_exit: Callable[[], None] | None = None,
    on_started: Callable[[], None] | None = None,
) -> uvicorn.Server:
    """Uvicorn serving the API, with a hook that runs (on a thread, while the loop keeps serving)
    before a signal shuts it down, and one once it listens. The class is made here so that uvicorn
    loads only when a server starts."""
    import uvicorn

    from suanli.api.app import create_app
    from suanli.cli.portal_files import add_portal

    class Server(uvicorn.Server):
        exiting = False

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if before_exit is None or self.exiting:  # a second Ctrl-C: stop now
                super().handle_exit(sig, frame)
                return
            self.exiting = True

            def run_then_exit() -> None:
                try:
                    before_exit()
                finally:
                    uvicorn.Server.handle_exit(self, sig, frame)

            threading.Thread(target=run_then_exit, daemon=True).start()

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and on_started is not None:
                on_started()

    app = create_app(cp)
    add_portal(app)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return Server(config)


def register(app: typer.Typer) -> None:
    app.command("server")(server)
    app.command("up")(up)
