"""The pooled HTTP/1.1 client every provider sends its upstream calls with.

It is created without the event loop and connects on first use inside the running loop, so an
app mounted inside another app (whose lifespan we never see) works the same as one served alone.
Our own client rather than aiohttp's because the upstream call is the hot path's largest cost
after the HTTP server: measured on the fast path it took a third of the gateway's CPU per
request (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, Literal
from urllib.parse import quote, urlsplit

from babelgate.errors import InvalidRequest, UpstreamConnectionFailed
from babelgate.http.connection import MAX_ANSWER_BYTES, PooledResponse, StaleConnection
from babelgate.http.pool import ConnectionPool
from babelgate.http.proxy import Proxy, environment_proxy
from babelgate.http.timeouts import Timeouts

KEEPALIVE_SECONDS: Final = 30.0
# What aiohttp sent before: an upstream may compress (the connection decodes gzip and deflate).
_FIXED_HEADERS: Final = "Accept: */*\r\nAccept-Encoding: gzip, deflate\r\n"
# Set from the URL and the body; the same names from a provider's configured headers are dropped.
_OWN_HEADERS: Final = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_PATH_SAFE: Final = "/%:@!$&'()*+,;=-._~?"
_ROUTES_CACHED: Final = 1024


class UpstreamClient:
    """Sends requests upstream; every transport failure is a typed GatewayError."""

    def __init__(
        self,
        *,
        max_connections: int = 1000,
        tls: ssl.SSLContext | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        """`max_connections` per upstream origin; `tls` verifies https upstreams (default: the
        system's trusted certificates, host names checked); `max_answer_bytes` the largest answer read
        whole (a larger one is the upstream's protocol error as soon as it passes the limit; it may be
        changed at any time). Streams are not limited in length, their events are (streaming.py)."""
        self.max_answer_bytes = max_answer_bytes
        self._max_connections = max_connections
        self._pools: dict[tuple[Any, ...], ConnectionPool] = {}
        # url (or provider and url, for a provider with settings of its own) → (pool, request line and
        # Host header): providers call a handful of URLs, over and over.
        self._routes: dict[str | tuple[str, str], tuple[ConnectionPool, str]] = {}
        self._tls = tls
        self._header_blocks: dict[int, tuple[Mapping[str, str], str]] = {}
        self._closers: list[Callable[[], Awaitable[None]]] = []
        # Providers with TLS or proxy settings of their own (configure); every other provider uses
        # the defaults: system CAs, and the proxy the environment names for the origin.
        self._settings: dict[str, tuple[ssl.SSLContext | None, Proxy | Literal["env"] | None]] = {}

    def configure(
        self, provider: str, *, tls: ssl.SSLContext | None = None, proxy: Proxy | Literal["env"] | None = "env"
    ) -> None:
        """`provider`'s own TLS context (None: the default) and proxy (None: no proxy, "env": the
        environment's). Its routes and connections are its own from then on."""
        if tls is None and proxy == "env":
            self._settings.pop(provider, None)
        else:
            self._settings[provider] = (tls, proxy)
        for key in [key for key in self._routes if isinstance(key, tuple) and key[0] == provider]:
            del self._routes[key]

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Run `closer` when the client closes (for helpers with pools of their own)."""
        self._closers.append(closer)

    async def send(
        self,
        method: str,
        url: str,
        *,
        provider: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: Timeouts,
        lines: str = "",
    ) -> PooledResponse:
        """The response once its status and headers arrived; the body is still to be read. `lines`: header lines
        the caller wrote and checked itself (a signature's), after `headers`."""
        key: str | tuple[str, str] = url if provider not in self._settings else (provider, url)
        route = self._routes.get(key) or self._route(url, provider, key)
        pool, start = route
        head = (
            method
            + start
            + self._header_lines(headers)
            + lines
            + (f"Content-Length: {len(body)}\r\n\r\n" if body is not None else "\r\n")
        ).encode()
        deadline = None if timeouts.total is None else asyncio.get_running_loop().time() + timeouts.total
        for attempt in (1, 2):
            connection = await pool.acquire(provider=provider, connect_timeout=timeouts.connect)
            connection.provider, connection.read_timeout, connection.deadline = provider, timeouts.read, deadline
            connection.first_byte_timeout = timeouts.read if timeouts.first_byte is None else timeouts.first_byte
            connection.max_answer_bytes = self.max_answer_bytes
            try:
                return await connection.send(head, body)
            except StaleConnection:
                # The upstream closed a pooled connection as we sent on it: nothing reached it.
                if attempt == 2:
                    raise UpstreamConnectionFailed(provider=provider) from None
        raise AssertionError("unreachable")

    def _header_lines(self, headers: Mapping[str, str]) -> str:
        """The request's header lines. A read-only mapping (what providers prepare once per key) is
        rendered once: it cannot change, and it lives as long as the provider, so its id is not reused."""
        if type(headers) is not MappingProxyType:
            return _header_lines(headers)
        cached = self._header_blocks.get(id(headers))
        if cached is None or cached[0] is not headers:
            if len(self._header_blocks) >= _ROUTES_CACHED:
                self._header_blocks.clear()
            cached = self._header_blocks[id(headers)] = (headers, _header_lines(headers))
        return cached[1]

    def _route(self, url: str, provider: str, cache_key: str | tuple[str, str]) -> tuple[ConnectionPool, str]:
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname
        if scheme not in ("http", "https") or not host:
            raise UpstreamConnectionFailed(provider=provider)
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise UpstreamConnectionFailed(provider=provider) from None
        own_tls, proxy_setting = self._settings.get(provider, (None, "env"))
        tls = (own_tls or self._tls_context()) if scheme == "https" else None
        try:
            proxy = environment_proxy(scheme, host, port) if proxy_setting == "env" else proxy_setting
        except ValueError as exc:  # not cached: the next request reads the environment again
            names = "HTTPS_PROXY" if scheme == "https" else "HTTP_PROXY"
            raise UpstreamConnectionFailed(
                provider=provider,
                raw_message=f"Could not connect to provider "
                f"'{provider}': {names} (or ALL_PROXY) in the gateway's environment: "
                f"{exc}",
            ) from None
        key = (scheme, host, port, id(tls) if tls is not None else None, proxy)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = ConnectionPool(
                host, port, tls, limit=self._max_connections, keepalive=KEEPALIVE_SECONDS, proxy=proxy
            )
        target = quote(parts.path or "/", safe=_PATH_SAFE) + (
            f"?{quote(parts.query, safe=_PATH_SAFE)}" if parts.query else ""
        )
        default_port = port == (443 if scheme == "https" else 80)
        authority = (f"[{host}]" if ":" in host else host) + ("" if default_port else f":{port}")
        extra = ""
        if proxy is not None and scheme == "http":
            target = f"http://{authority}{target}"  # a proxy takes the absolute form
            if proxy.authorization is not None:
                extra = f"Proxy-Authorization: {proxy.authorization}\r\n"
        route = (pool, f" {target} HTTP/1.1\r\nHost: {authority}\r\n{extra}{_FIXED_HEADERS}")
        if len(self._routes) >= _ROUTES_CACHED:
            self._routes.clear()
        self._routes[cache_key] = route
        return route

    def websocket_route(self, url: str, provider: str) -> tuple[ssl.SSLContext | None, str | None]:
        """The TLS context (wss://) and the proxy URL (None: direct) of a WebSocket to `url` for `provider`: the
        same settings its HTTP requests go through (configure, the environment's proxies)."""
        parts = urlsplit(url)
        scheme = {"ws": "http", "wss": "https"}.get(parts.scheme.lower(), parts.scheme.lower())
        host = parts.hostname
        if scheme not in ("http", "https") or not host:
            raise UpstreamConnectionFailed(provider=provider)
        port = parts.port or (443 if scheme == "https" else 80)
        own_tls, proxy_setting = self._settings.get(provider, (None, "env"))
        tls = (own_tls or self._tls_context()) if scheme == "https" else None
        try:
            proxy = environment_proxy(scheme, host, port) if proxy_setting == "env" else proxy_setting
        except ValueError:
            raise UpstreamConnectionFailed(provider=provider) from None
        if proxy is None:
            return tls, None
        credentials = ""
        if proxy.authorization is not None:
            user, _, password = base64.b64decode(proxy.authorization.removeprefix("Basic ")).decode().partition(":")
            credentials = f"{quote(user, safe='')}:{quote(password, safe='')}@"
        host_part = f"[{proxy.host}]" if ":" in proxy.host else proxy.host
        return tls, f"http://{credentials}{host_part}:{proxy.port}"

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def connection_counts(self) -> tuple[int, int]:
        """Connections open to every upstream (in use, idle or connecting), and how many of them are
        idle in a keep-alive pool: what an operator or a leak test wants to see."""
        pools = list(self._pools.values())
        return sum(pool.open for pool in pools), sum(pool.idle for pool in pools)

    async def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        self._routes.clear()
        for closer in self._closers:
            await closer()


def _header_lines(headers: Mapping[str, str]) -> str:
    lines = []
    for name, value in headers.items():
        if name.lower() in _OWN_HEADERS:
            continue
        refuse_line_breaks(name, name, value)
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines)


def refuse_line_breaks(name: str, *texts: str) -> None:
    """A header's name or value (from configuration, credentials, or a client's header passed on) that would
    split the request: refused, for header `name`. Callers that write their own lines (`send`'s `lines`) check
    their values here too."""
    if any("\n" in text or "\r" in text for text in texts):
        raise InvalidRequest("invalid_value", param=name, detail="a header value holds a line break")
