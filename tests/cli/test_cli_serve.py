"""`suanli up` and `suanli server`: options refused before anything starts, and the local agent's
life beside the server (`serve.py`, `local_agent.py`, `listen.py`). A whole `up` runs in
`tests/e2e/test_e2e_up.py`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from suanli.cli.listen import listen_url
from suanli.cli.local_agent import LocalAgent
from suanli.cli.serve import _open, _settings

Run = Callable[..., Result]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--pool", "B300:2"], "bad --pool value 'B300:2': 'B300' is not a model the network knows"),
        (["--pool", "cpu:1", "--pool", "cpu:2"], "pool name 'cpu' is given twice"),
        # as `make up POOL="cpu:2 A100:4"` is written; the Makefile splits it, `up` does not
        (["--pool", "cpu:2 A100:4"], "repeat it: --pool cpu:2 --pool A100:4"),
        (["--site", "Bad Site"], "bad --site 'Bad Site': use lowercase letters, digits, '.', '_' or '-'"),
        (["--site", "x" * 64], "bad --site"),
        (["--port", "99999"], "Invalid value for '--port'"),
        (["--port", "0"], "Invalid value for '--port'"),
    ],
)
def test_up_refuses_bad_options_before_it_starts_or_writes_anything(
    run: Run, tmp_path: Path, config_dir: Path, args: list[str], said: str
) -> None:
    """Once `up --pool B300:2` said "suanli is up" and wrote profiles, then ran with no site; and
    `--port 99999` ended in a traceback."""
    data = tmp_path / "data"
    result = run("up", "--data-dir", str(data), "--port", str(free_port()), *args)
    assert result.exit_code == 2, result.output
    assert said in " ".join(result.stderr.replace("│", " ").split())
    assert not data.exists() and not config_dir.exists()


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_server_refuses_a_port_out_of_range(run: Run, tmp_path: Path, port: str) -> None:
    result = run("server", "--data-dir", str(tmp_path / "data"), "--port", port)
    assert result.exit_code == 2 and "Invalid value for '--port'" in result.stderr
    assert not (tmp_path / "data").exists()


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_an_agent_that_exits_on_its_own_is_reported_with_its_code() -> None:
    agent = LocalAgent("local", python("raise SystemExit(4)"), dict(os.environ))
    reported: list[int | None] = []
    agent.run(lambda: None, lambda: reported.append(agent.exit_code))
    assert reported == [4]


def test_an_agent_stopped_by_up_is_not_reported() -> None:
    agent = LocalAgent("local", python("import time; time.sleep(60)"), dict(os.environ))
    reported: list[int | None] = []
    thread = threading.Thread(target=agent.run, args=(lambda: None, lambda: reported.append(agent.exit_code)))
    thread.start()
    deadline = time.monotonic() + 10
    while agent.proc is None and time.monotonic() < deadline:
        time.sleep(0.01)
    agent.stop()
    thread.join(timeout=10)
    assert not thread.is_alive() and reported == [] and agent.exit_code is None


def test_an_agent_stopped_before_the_server_is_ready_never_starts() -> None:
    agent = LocalAgent("local", python("raise SystemExit(4)"), dict(os.environ))
    reported: list[int | None] = []
    agent.run(agent.stop, lambda: reported.append(agent.exit_code))  # Ctrl-C while `up` waits
    assert agent.proc is None and reported == []


def test_a_new_data_dir_and_its_database_are_the_owners_alone(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "data", None)
    _open(settings).close()
    assert (settings.data_dir.stat().st_mode & 0o777) == 0o700
    assert ((settings.data_dir / "suanli.db").stat().st_mode & 0o777) == 0o600


def test_server_refuses_a_port_in_use_before_it_touches_the_database(run: Run, tmp_path: Path) -> None:
    """Once it migrated, wrote operator.token and led the scheduler, then died of `[Errno 98]`."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run("server", "--data-dir", str(tmp_path / "data"), "--port", str(port))
    assert result.exit_code == 2, result.output
    assert f"port {port} is in use on 127.0.0.1: another suanli server?" in " ".join(result.stderr.split())
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("host", "said"),
    [
        ("no-such-host.invalid", "--host 'no-such-host.invalid':"),
        ("192.0.2.1", "not an address of this machine"),
    ],
)
def test_server_refuses_a_host_it_cannot_listen_on(run: Run, tmp_path: Path, host: str, said: str) -> None:
    result = run("server", "--data-dir", str(tmp_path / "data"), "--host", host, "--port", str(free_port()))
    assert result.exit_code == 2 and said in result.stderr, result.output
    assert not (tmp_path / "data").exists()


def one_line_error(result: Result) -> str:
    """The error a start-up refusal ends with: one line, no traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and len(lines) == 1, result.output
    return lines[0]


def test_server_names_an_unsupported_database_url_and_the_form_to_write(run: Run, tmp_path: Path) -> None:
    result = run(
        "server",
        "--data-dir",
        str(tmp_path / "d"),
        "--port",
        str(free_port()),
        "--database-url",
        "mysql://u@h/db",
    )
    assert result.exit_code == 2
    said = one_line_error(result)
    assert "unsupported database URL scheme 'mysql'" in said and "postgresql://USER:PASSWORD@HOST" in said


def test_a_database_that_cannot_be_reached_is_one_line_with_the_password_hidden(
    run: Run, tmp_path: Path
) -> None:
    url = f"postgresql://suanli:s3cret@127.0.0.1:{free_port()}/suanli"  # nothing listens there
    result = run(
        "server", "--data-dir", str(tmp_path / "d"), "--port", str(free_port()), "--database-url", url
    )
    assert result.exit_code == 1
    said = one_line_error(result)
    assert said.startswith("error: cannot open the database postgresql://suanli:***@127.0.0.1:"), said
    assert "refused" in said and "is PostgreSQL running there?" in said and "s3cret" not in said


def test_a_postgresql_database_that_does_not_exist_is_named_with_how_to_create_it(
    run: Run, tmp_path: Path, pg_admin: str
) -> None:
    url = pg_admin.rsplit("/", 1)[0] + "/suanli_no_such_database"
    result = run(
        "server", "--data-dir", str(tmp_path / "d"), "--port", str(free_port()), "--database-url", url
    )
    assert result.exit_code == 1
    said = one_line_error(result)
    assert 'database "suanli_no_such_database" does not exist' in said and "createdb" in said, said


def test_postgres_scheme_is_read_as_postgresql(tmp_path: Path, database_url: str) -> None:
    """`postgres://` (what Heroku and many docs write) once ended in a 44-line traceback."""
    if not database_url.startswith("postgresql://"):
        pytest.skip("the alias is PostgreSQL's")
    settings = _settings(tmp_path / "d", database_url.replace("postgresql://", "postgres://", 1))
    assert settings.database_url == database_url
    _open(settings).close()  # migrates: the URL reached the database


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8600"),
        ("0.0.0.0", "http://127.0.0.1:8600"),
        ("::", "http://[::1]:8600"),
        ("::1", "http://[::1]:8600"),
        ("suanli.example.org", "http://suanli.example.org:8600"),
    ],
)
def test_the_url_a_server_prints_is_one_to_reach_it_by(host: str, url: str) -> None:
    assert listen_url(host, 8600) == url


def test_server_says_where_it_listens_and_how_the_operator_signs_in(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")}
    data = tmp_path / "data"
    command = [sys.executable, "-m", "suanli", "server", "--data-dir", str(data), "--port", str(port)]
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        said: list[str] = []
        deadline = time.monotonic() + 60
        assert proc.stderr is not None
        while time.monotonic() < deadline and not any("sign in with" in line for line in said):
            line = proc.stderr.readline()
            if not line:
                break
            said.append(line)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    text = " ".join("".join(said).split())
    assert f"suanli server listening on http://127.0.0.1:{port}" in text, text
    token = data / "operator.token"
    assert f"sign in with: suanli login --server http://127.0.0.1:{port} --token-file {token}" in text, text
    assert token.exists()
