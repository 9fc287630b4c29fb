"""Forward proxies for upstream calls: which one an origin goes through, and the CONNECT tunnel.

The environment is read as curl, requests and Go read it: `HTTPS_PROXY` for https upstreams,
`HTTP_PROXY` for http ones, `ALL_PROXY` for either, lower-case names first (the standard
library's reading, urllib.request), and `NO_PROXY` for the exceptions (host names, domain suffixes
with or without a leading dot, `host:port`, IP addresses and CIDR blocks, `*`). As Go does,
loopback upstreams (localhost, 127.0.0.0/8, ::1) never go through a proxy, so a local server and the
test suite's fakes work whatever the shell exports. The decision is made once per upstream URL,
when its route is first built (client.py), so a request pays nothing for it.

An https upstream is reached through a `CONNECT host:port` tunnel, then TLS to the upstream over it:
the proxy sees neither the request nor the key. An http upstream gets its request in absolute form
(`POST http://host/path`). Both may carry `Proxy-Authorization: Basic` from the proxy URL's user
and password, which never appear in a log or an error.

No library: the tunnel is one request and one status line before TLS (about 30 lines here), and
what follows is the client's own pooled connection (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote, urlsplit

from babelgate.errors import UpstreamConnectionFailed

_HEAD_LIMIT: Final = 16 * 1024
# What a refusal most often means, said beside its status.
_REFUSALS: Final = {
    407: ": the proxy wants credentials, or other ones, in the proxy URL",
    403: ": the proxy's policy forbids this destination",
}


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str
    port: int
    # The Proxy-Authorization value, when the URL had credentials: base64 is no secrecy, so it stays
    # out of the repr (a pool key, a debug log of one).
    authorization: str | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """How errors name it: host and port, never the credentials."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_proxy(url: str) -> Proxy:
    """An `http://[user:password@]host[:port]` proxy URL; ValueError (without the URL, which may hold
    a password) for anything else."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise ValueError("a proxy must be an http://host:port URL (the tunnel to an https upstream is encrypted)")
    try:
        port = parts.port or 80
    except ValueError:
        raise ValueError("the proxy URL's port is not a number") from None
    authorization = None
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        authorization = "Basic " + base64.b64encode(credentials).decode()
    return Proxy(parts.hostname, port, authorization)


def environment_proxy(scheme: str, host: str, port: int, environ: Mapping[str, str] | None = None) -> Proxy | None:
    """The proxy the environment names for this origin, or None."""
    if _loopback(host):
        return None
    proxies = _environment_proxies(environ)
    url = proxies.get(scheme) or proxies.get("all")
    if not url:
        return None
    if _excepted(host, port, proxies.get("no", "")):
        return None
    return parse_proxy(url)


def _excepted(host: str, port: int, no_proxy: str) -> bool:
    """Whether NO_PROXY names this origin: `*`, the host, a domain it is in (`example.com`,
    `.example.com` or `*.example.com`: the domain and every host below it, as curl reads them),
    `host:port`, an IP address (`[::1]:port` with a port) or a CIDR block."""
    host = host.lower().strip("[]")
    for entry in (item.strip().lower() for item in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        if entry.startswith("["):  # [IPv6]:port
            name, _, rest = entry[1:].partition("]")
            entry_port = rest.removeprefix(":")
        elif entry.count(":") == 1:  # host:port (a bare IPv6 address has more colons)
            name, _, entry_port = entry.partition(":")
        else:
            name, entry_port = entry, ""
        if entry_port and entry_port != str(port):
            continue
        name = name.removeprefix("*").lstrip(".")  # `*.corp.example` as Go reads it: `.corp.example`
        if host == name or host.endswith("." + name):
            return True
        try:
            if ipaddress.ip_address(host) in ipaddress.ip_network(name, strict=False):
                return True
        except ValueError:
            continue
    return False


def _environment_proxies(environ: Mapping[str, str] | None) -> dict[str, str]:
    """scheme (`https`, `http`, `all`, `no`) → value, by the standard library's rule
    (urllib.request.getproxies_environment), here so a test's mapping is read as the process's
    environment is: a lower-case name wins over the upper-case one, even when empty (then there is
    none); under CGI (`REQUEST_METHOD` set) `HTTP_PROXY` may be a client's header and is ignored."""
    environ = os.environ if environ is None else environ
    proxies: dict[str, str] = {}
    for name, value in environ.items():
        if value and name.lower().endswith("_proxy"):
            proxies[name.lower()[:-6]] = value
    if "REQUEST_METHOD" in environ:
        proxies.pop("http", None)
    for name, value in environ.items():
        if name.endswith("_proxy"):
            if value:
                proxies[name.lower()[:-6]] = value
            else:
                proxies.pop(name.lower()[:-6], None)
    return proxies


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def open_tunnel(proxy: Proxy, host: str, port: int, *, provider: str) -> socket.socket:
    """A socket connected to `proxy` on which `CONNECT host:port` succeeded: the caller starts TLS
    on it (`loop.create_connection(..., sock=…, ssl=…)`)."""
    loop = asyncio.get_running_loop()
    sock = await _connect(loop, proxy, provider)
    try:
        authority = f"[{host}]" if ":" in host else host
        lines = [f"CONNECT {authority}:{port} HTTP/1.1", f"Host: {authority}:{port}"]
        if proxy.authorization is not None:
            lines.append(f"Proxy-Authorization: {proxy.authorization}")
        await loop.sock_sendall(sock, ("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            data = await loop.sock_recv(sock, 4096)
            if not data or len(head) > _HEAD_LIMIT:
                raise ConnectionResetError
            head += data
    except OSError:
        sock.close()
        raise UpstreamConnectionFailed(
            provider=provider,
            raw_message=f"Could not connect to provider '{provider}': the proxy {proxy.label} closed the tunnel",
        ) from None
    except BaseException:
        sock.close()
        raise
    fields = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    status = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0
    if not 200 <= status < 300:
        sock.close()
        raise UpstreamConnectionFailed(
            provider=provider,
            raw_message=f"Could not connect to provider '{provider}': the proxy {proxy.label} "
            f"refused the tunnel to {host}:{port} (HTTP {status or 'garbage'}"
            f"{_REFUSALS.get(status, '')})",
        )
    return sock


async def _connect(loop: asyncio.AbstractEventLoop, proxy: Proxy, provider: str) -> socket.socket:
    """A TCP connection to the proxy, trying its addresses in turn (as create_connection does)."""
    try:
        infos = await loop.getaddrinfo(proxy.host, proxy.port, type=socket.SOCK_STREAM)
    except OSError:
        infos = []
    for family, kind, protocol, _, address in infos:
        sock = socket.socket(family, kind, protocol)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
        except OSError:
            sock.close()
            continue
        except BaseException:
            sock.close()
            raise
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise unreachable_proxy(proxy, provider)


def unreachable_proxy(proxy: Proxy, provider: str) -> UpstreamConnectionFailed:
    return UpstreamConnectionFailed(
        provider=provider,
        raw_message=f"Could not connect to provider '{provider}': the proxy {proxy.label} is unreachable",
    )
