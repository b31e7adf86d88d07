"""The agent's credential: which token it speaks with, enrolling for one, and keeping it in the state dir.

- an agent token (`sla_…`) given on the command line is used as is;
- an enrollment token (`sle_…`) is spent once, for an agent token saved to `<state_dir>/agent.token`
  (mode 0600); later starts use the saved token, whatever token they are given;
- no token at all uses the saved one.

A saved token the server refuses (HTTP 401) is moved aside to `agent.token.revoked` by
`retire_saved_token`, so that the next start with a fresh enrollment token enrolls again.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path

from suanli.agent.errors import AgentError
from suanli.client import ApiError, Client, ServerUnreachable

__all__ = ["agent_token", "retire_saved_token"]

log = logging.getLogger("suanli.agent")

TOKEN_FILE = "agent.token"


def agent_token(
    state_dir: Path,
    server: str,
    site: str,
    token: str | None,
    *,
    make_client: Callable[[str], Client],
    stop: threading.Event,
    max_backoff: float = 5.0,
) -> str:
    """The agent token to sync with; enrolls (retrying while the server is unreachable) when needed.

    `make_client(token)` builds a Client for `server`. Raises AgentError when there is no usable
    token or the server refuses the enrollment.
    """
    saved = state_dir / TOKEN_FILE
    if token and token.startswith("sla_"):
        return token
    if saved.exists():
        if token:
            log.info("using the agent token saved in %s; the given token is not needed", saved)
        return saved.read_text().strip()
    if not token:
        raise AgentError(
            f"no token: give an enrollment token (sle_…) or an agent token (sla_…); {saved} has none"
        )
    if not token.startswith("sle_"):
        raise AgentError("the agent needs an enrollment token (sle_…) or an agent token (sla_…)")
    issued = _enroll(make_client(token), site, stop, max_backoff)
    _save(saved, issued)
    log.info("enrolled as site %s; agent token saved to %s", site, saved)
    return issued


def retire_saved_token(state_dir: Path, token: str) -> None:
    """Move a refused saved token aside (only if it is the one in use)."""
    saved = state_dir / TOKEN_FILE
    try:
        if saved.read_text().strip() == token:
            saved.replace(saved.with_name(TOKEN_FILE + ".revoked"))
    except OSError:
        pass


def _enroll(client: Client, site: str, stop: threading.Event, max_backoff: float) -> str:
    # One key for every retry: a retry of an enrollment the server did commit gets the same answer.
    key = secrets.token_urlsafe(16)
    delay = 0.2
    warned = False
    with client:
        while True:
            try:
                reply = client.request("POST", "/agent/enroll", json={"site": site}, idempotency_key=key)
            except ServerUnreachable as exc:
                if "SSL" in str(exc) or "ssl" in str(exc):  # retrying cannot change how it answers
                    raise AgentError(
                        f"cannot enroll: {exc}; is the server's URL http:// rather than https:// (or the reverse)?"
                    ) from exc
                if not warned:
                    log.warning("cannot enroll yet: %s; retrying (Ctrl-C stops)", exc)
                    warned = True
                if stop.wait(delay):
                    raise AgentError("stopped before enrollment finished") from exc
                delay = min(max_backoff, delay * 2)
                continue
            except ApiError as exc:
                hint = ""
                if exc.status == 401 and exc.code == "revoked_token":
                    hint = (
                        f"; an enrollment token works once: if this agent enrolled before, start it with the "
                        f"same --state-dir (it keeps agent.token), else ask for a new one "
                        f"(suanli site enroll-token {site})"
                    )
                elif exc.status == 404:
                    hint = "; --server is the server's base URL, e.g. http://127.0.0.1:8600"
                raise AgentError(f"enrollment for site {site!r} refused: {exc}{hint}") from exc
            issued = reply.get("token") if isinstance(reply, dict) else None
            if not isinstance(issued, str) or not issued.startswith("sla_"):
                raise AgentError("enrollment answered without an agent token")
            return issued


def _save(path: Path, token: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.chmod(tmp, 0o600)
    tmp.replace(path)
