"""Where `suanli server` and `suanli up` listen: the URL to reach them, and a port in use refused first."""

from __future__ import annotations

import errno
import socket

from suanli.cli.context import fail
from suanli.cli.exit_codes import ExitCode

__all__ = ["listen_url", "refuse_if_port_taken"]


def listen_url(host: str, port: int) -> str:
    """The URL to reach a server listening on `host`: this machine's own address when it listens
    on every address, an IPv6 address in brackets."""
    shown = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def refuse_if_port_taken(host: str, port: int, hint: str) -> None:
    """Stop (exit 2) when the server could not listen on `host`:`port`, binding a probe on every
    address the name resolves to as uvicorn (asyncio) will. Done first: uvicorn binds only after
    the control plane has started, so a taken port would otherwise end the command after it had
    migrated the database, written tokens and led the scheduler."""
    try:
        addresses = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        fail(f"--host {host!r}: {exc.strerror}", ExitCode.USAGE)
    bound = 0
    for family, kind, proto, _, address in addresses:
        try:
            probe = socket.socket(family, kind, proto)
        except OSError:  # a family this machine lacks: asyncio skips it too
            continue
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            probe.bind(address)
            bound += 1
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                fail(f"port {port} is in use on {address[0]}: {hint}", ExitCode.USAGE)
            if exc.errno != errno.EADDRNOTAVAIL:  # asyncio skips such an address (bpo-30945)
                fail(f"cannot listen on {address[0]} port {port}: {exc.strerror or exc}", ExitCode.USAGE)
        finally:
            probe.close()
    if not bound:
        fail(f"--host {host!r}: not an address of this machine", ExitCode.USAGE)
