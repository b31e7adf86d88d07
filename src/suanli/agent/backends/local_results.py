"""What a local attempt's shim left in its control directory, read back: how a run ended
(`exit.json`), and how one ended that an agent which died left behind (`LocalBackend.adopted`)."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from suanli.agent.backends.base import AttemptState, Launch, launch_from_json

__all__ = ["LEFT", "left_outcome", "live_shim", "outcome", "read_exit", "read_launch"]


LEFT = "its agent ended while it ran"


def left_outcome(
    control: Path,
) -> tuple[AttemptState, int | None, str | None, datetime | None, datetime | None]:
    """How an attempt left by a dead agent ended (state, exit code, reason) and when it ran.

    A job that ended by itself keeps its outcome (it may have succeeded just before the agent died);
    one its shim stopped failed because the agent ended. Without a result (the shim was killed too)
    it ran from its launch until its output last changed, as far as anyone can tell.
    """
    launched = _mtime(control / "launch.json")
    result = read_exit(control / "exit.json")
    if result is None:
        ended = max(filter(None, [launched, _mtime(control / "output.log")]), default=None)
        return AttemptState.FAILED, None, f"{LEFT}; its outcome was not recorded", launched, ended
    started = _instant(result.get("started_at")) or launched
    ended = _instant(result.get("ended_at")) or _mtime(control / "exit.json")
    state, code, reason = outcome(None, result, None)
    if result.get("stopped") and state is not AttemptState.SUCCEEDED:
        state, reason = AttemptState.FAILED, f"{LEFT} ({reason})" if reason else LEFT
    return state, code, reason, started, ended


def live_shim(control: Path) -> int | None:
    """The pid of this attempt's shim while it runs and has not written its result; else None."""
    if (control / "exit.json").exists():
        return None
    try:
        pid = int((control / "shim.pid").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if str(control).encode() in cmdline.split(b"\0") else None


def read_launch(path: Path) -> Launch | None:
    try:
        return launch_from_json(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return None


def _instant(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return None


def outcome(
    intent: tuple[AttemptState, str] | None, result: dict[str, Any] | None, shim_status: int | None
) -> tuple[AttemptState, int | None, str | None]:
    """The reported state, exit code and reason of an ended attempt."""
    code: int | None = None
    if result is not None:
        code = result.get("exit_code")
        if code is None and result.get("signal"):
            code = 128 + int(result["signal"])
    if intent is not None:
        return intent[0], code, intent[1]
    if result is None:
        return AttemptState.FAILED, None, f"the job shim ended without a result (status {shim_status})"
    if code == 0 and result.get("phase") == "run":
        return AttemptState.SUCCEEDED, 0, None
    if code is None:
        return AttemptState.FAILED, None, "the job did not start"
    reason = (
        f"killed by {_signal_name(int(result['signal']))}" if result.get("signal") else f"exit code {code}"
    )
    if result.get("phase") == "setup":
        reason = f"setup failed: {reason}"
    return AttemptState.FAILED, code, reason


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def read_exit(path: Path) -> dict[str, Any] | None:
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) else None
