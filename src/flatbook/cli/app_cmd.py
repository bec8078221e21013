"""``flatbook app``: serve the inventory-skew explainer and the live dashboard (Dash) on this machine."""

from __future__ import annotations

import ipaddress
import re
import socket
import urllib.parse
from typing import Annotated

import typer

from ..app import DEFAULT_HOST, DEFAULT_PORT
from ..config import check_int
from ..errors import InputError
from ..extras import require
from .policy_file import PolicyFileOpt, load_policy_files

app = typer.Typer()  # this module's commands; the root (flatbook.cli.root) mounts it

# the live engine's API address; = flatbook.app.live_page.DEFAULT_LIVE_URL (not imported: that module imports dash)
DEFAULT_LIVE_URL = "http://127.0.0.1:8765"
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


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


def check_live_url(raw: str) -> str:
    """The live engine's API as an http(s) URL without a trailing slash, or :class:`InputError` (``--live-url``)."""
    url = raw.strip()
    allowed = "allowed: an http(s) URL such as http://127.0.0.1:8765 or http://localhost:8765"
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InputError("--live-url", f"got {raw!r}; {allowed}")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise InputError("--live-url", f"got {raw!r}: the port must be 1-65535")
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME.match(host):
            raise InputError("--live-url", f"got {raw!r}: bad host {host!r}; {allowed}") from None
    if parts.username is not None or parts.password is not None:
        raise InputError("--live-url", f"got {raw!r}: no user or password in the URL")
    if parts.query or parts.fragment:
        raise InputError("--live-url", f"got {raw!r}: no query or fragment (the API paths are added to it)")
    return url.rstrip("/")


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
    host: Annotated[
        str,
        typer.Option(
            "--host", metavar="HOST", help=f"Address to listen on (default {DEFAULT_HOST}: this machine only)."
        ),
    ] = DEFAULT_HOST,
    port: Annotated[
        str, typer.Option("--port", metavar="PORT", help=f"TCP port, 1-65535 (default {DEFAULT_PORT}).")
    ] = str(DEFAULT_PORT),
    live_url: Annotated[
        str,
        typer.Option(
            "--live-url",
            metavar="URL",
            help="The live engine's API (`flatbook live`), read by the dashboard "
            f"at /live (default {DEFAULT_LIVE_URL}).",
        ),
    ] = DEFAULT_LIVE_URL,
    policy_file: PolicyFileOpt = None,
) -> None:
    """Serve the inventory-skew explainer at / and the live dashboard at /live.

    With ``--policy-file FILE.py`` the file's policies join the explainer's policy list.
    """
    require("app", field="flatbook app")
    h = check_host(host)
    p = check_port(port)
    u = check_live_url(live_url)
    load_policy_files(policy_file)  # before the warm-up, which quotes every listed policy
    check_listen(h, p)
    from ..app.server import run

    run(h, p, u)
