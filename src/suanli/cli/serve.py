"""`suanli server` and `suanli up`: run the control plane (and, for `up`, a local site) in the foreground."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer
import uvicorn

from suanli.api.app import create_app
from suanli.cli.config import save_profile
from suanli.cli.context import stderr
from suanli.control import bootstrap
from suanli.control.plane import ControlPlane, utcnow
from suanli.control.settings import Settings
from suanli.store import Database, sqlite_url

__all__ = ["register"]

log = logging.getLogger("suanli.server")
DEFAULT_PORT = 8600


def _settings(data_dir: Path | None, database_url: str | None) -> Settings:
    settings = Settings()
    if data_dir is not None:
        settings.data_dir = data_dir
    if database_url is not None:
        settings.database_url = database_url
    settings.data_dir = settings.data_dir.expanduser()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def _open(settings: Settings) -> Database:
    url = settings.database_url or sqlite_url(settings.data_dir)
    db = Database(url)
    db.migrate()
    return db


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    path.chmod(0o600)


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


DataDir = Annotated[
    Path | None,
    typer.Option(
        help="Where SQLite data, tokens and site state live.", envvar="SUANLI_DATA_DIR", show_envvar=True
    ),
]
DbUrl = Annotated[
    str | None,
    typer.Option(
        help="postgresql://… to use PostgreSQL (default: SQLite in the data dir).",
        envvar="SUANLI_DATABASE_URL",
        show_envvar=True,
    ),
]


def server(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
    data_dir: DataDir = None,
    database_url: DbUrl = None,
    demo: Annotated[bool, typer.Option(help="Also create the demo tenant on first start.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the control plane: the API server and the scheduling loop.

    On first start it creates the operator account and writes its token to DATA_DIR/operator.token
    (mode 0600). Stop with Ctrl-C; all state is in the database.
    """
    _logging(verbose)
    settings = _settings(data_dir, database_url)
    db = _open(settings)
    now = utcnow()
    first = bootstrap.ensure_demo(db, now) if demo else None
    operator = first.operator_token if first else bootstrap.ensure_operator(db, now)
    if operator:
        _write_secret(settings.data_dir / "operator.token", operator)
        stderr.print(f"operator token written to {settings.data_dir / 'operator.token'}")
    if first:
        _write_secret(settings.data_dir / "demo.token", first.tenant_token)
    _serve(ControlPlane(db, settings), host, port)


def up(
    port: Annotated[int, typer.Option(help="Port for the API.")] = DEFAULT_PORT,
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
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Start the whole network on this machine: API, scheduler and one local site.

    First start creates an operator, a demo tenant (org `demo`, project `default`) and a local site,
    and writes the CLI profile `local` so `suanli submit examples/hello.yaml` works at once.
    Ctrl-C stops everything; starting again keeps all data.
    """
    _logging(verbose)
    settings = _settings(data_dir, database_url)
    db = _open(settings)
    now = utcnow()
    server_url = f"http://127.0.0.1:{port}"
    first = bootstrap.ensure_demo(db, now)
    if first:
        _write_secret(settings.data_dir / "operator.token", first.operator_token)
        _write_secret(settings.data_dir / "demo.token", first.tenant_token)
        save_profile("local-operator", server_url, first.operator_token, make_current=False)
        config = save_profile("local", server_url, first.tenant_token, make_current=True)
        stderr.print(f"first start: CLI profile 'local' written to {config}")
    state_dir = settings.data_dir / f"agent-{site}"
    enroll = None
    if not (state_dir / "agent.token").exists():
        enroll = bootstrap.local_site_token(db, site, "local", now, force=True)
    agent_cmd = [
        sys.executable,
        "-m",
        "suanli",
        "agent",
        "--server",
        server_url,
        "--site",
        site,
        "--state-dir",
        str(state_dir),
    ]
    for spec in pool or []:
        agent_cmd += ["--pool", spec]
    env = {**os.environ, **({"SUANLI_AGENT_TOKEN": enroll} if enroll else {})}
    stderr.print(f"[bold]suanli is up[/bold]: API {server_url}  (docs {server_url}/docs)")
    stderr.print(
        f"  tenant token: {settings.data_dir / 'demo.token'}; operator token: "
        f"{settings.data_dir / 'operator.token'}"
    )
    stderr.print("  try: suanli submit examples/hello.yaml --wait    (Ctrl-C here stops everything)")
    starter = threading.Thread(target=_start_agent_when_ready, args=(server_url, agent_cmd, env), daemon=True)
    starter.start()
    try:
        _serve(ControlPlane(db, settings), "127.0.0.1", port)
    finally:
        _stop_agent()


_agent: list[subprocess.Popen[bytes]] = []


def _start_agent_when_ready(server_url: str, cmd: list[str], env: dict[str, str]) -> None:
    for _ in range(200):
        try:
            if httpx.get(f"{server_url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    _agent.append(subprocess.Popen(cmd, env=env))


def _stop_agent() -> None:
    for proc in _agent:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _serve(cp: ControlPlane, host: str, port: int) -> None:
    app = create_app(cp)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=5
    )
    uvicorn.Server(config).run()


def register(app: typer.Typer) -> None:
    app.command("server")(server)
    app.command("up")(up)
