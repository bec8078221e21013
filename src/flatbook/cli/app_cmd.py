"""``flatbook app``: serve the interactive inventory-skew explainer (Dash) on this machine."""
from __future__ import annotations

import ipaddress
import re
import socket
from typing import Annotated

import typer

from ..app import DEFAULT_HOST, DEFAULT_PORT
from ..config import check_int
from ..errors import InputError
from .app import app

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def check_host(raw: str) -> str:
    """An IP address or a host name, or :class:`InputError` naming ``--host``."""
    host = raw.strip()
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if not _HOSTNAME.match(host):
        raise InputError("--host", f"got {raw!r}; allowed: an IP address (e.g. 127.0.0.1) or a host name")
    return host


def check_port(raw: str) -> int:
    """A TCP port from 1 to 65535, or :class:`InputError` naming ``--port``."""
    return check_int("--port", raw.strip() if isinstance(raw, str) else raw, 1, 65535)


def check_listen(host: str, port: int) -> None:
    """Fail early, as bad input, when host:port cannot be listened on (unknown host, port in use)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise InputError("--host", f"cannot resolve {host!r}: {e.strerror}") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as e:
            raise InputError("--port", f"cannot listen on {host}:{port}: {e.strerror}") from None


@app.command("app")
def app_command(
    host: Annotated[str, typer.Option("--host", metavar="HOST",
                                      help=f"Address to listen on (default {DEFAULT_HOST}: this machine only).")] = DEFAULT_HOST,
    port: Annotated[str, typer.Option("--port", metavar="PORT",
                                      help=f"TCP port, 1-65535 (default {DEFAULT_PORT}).")] = str(DEFAULT_PORT),
) -> None:
    """Serve the interactive inventory-skew explainer (quote panel, skew off vs on paths, presets)."""
    h = check_host(host)
    p = check_port(port)
    check_listen(h, p)
    from ..app.server import run

    run(h, p)
