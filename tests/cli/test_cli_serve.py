"""`suanli up` and `suanli server`: options refused before anything starts, and the local agent's
life beside the server (`serve.py`). A whole `up` runs in `tests/e2e/test_e2e_up.py`."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from suanli.cli.serve import _LocalAgent, _open, _settings

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
    agent = _LocalAgent("local", python("raise SystemExit(4)"), dict(os.environ))
    reported: list[int | None] = []
    agent.run(lambda: None, lambda: reported.append(agent.exit_code))
    assert reported == [4]


def test_an_agent_stopped_by_up_is_not_reported() -> None:
    agent = _LocalAgent("local", python("import time; time.sleep(60)"), dict(os.environ))
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
    agent = _LocalAgent("local", python("raise SystemExit(4)"), dict(os.environ))
    reported: list[int | None] = []
    agent.run(agent.stop, lambda: reported.append(agent.exit_code))  # Ctrl-C while `up` waits
    assert agent.proc is None and reported == []


def test_a_new_data_dir_and_its_database_are_the_owners_alone(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "data", None)
    _open(settings).close()
    assert (settings.data_dir.stat().st_mode & 0o777) == 0o700
    assert ((settings.data_dir / "suanli.db").stat().st_mode & 0o777) == 0o600
