"""The keep-alive connections to one upstream origin (scheme, host, port): reuse, limit, connect."""

from __future__ import annotations

import asyncio
import ssl
from collections import deque

from babelgate.errors import UpstreamConnectionFailed, UpstreamTimeout
from babelgate.http.connection import Connection
from babelgate.http.proxy import Proxy, open_tunnel, unreachable_proxy


class ConnectionPool:
    """Idle connections are reused newest first (the one least likely to have been closed by the
    upstream meanwhile) and dropped after `keepalive` idle seconds. At most `limit` connections
    are open at once; a request beyond that waits for one to come back."""

    def __init__(
        self,
        host: str,
        port: int,
        tls: ssl.SSLContext | None,
        *,
        limit: int,
        keepalive: float,
        proxy: Proxy | None = None,
    ) -> None:
        self._host, self._port, self._tls, self._proxy = host, port, tls, proxy
        self._limit, self._keepalive = limit, keepalive
        self._idle: list[Connection] = []
        self._open = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def acquire(self, *, provider: str, connect_timeout: float | None) -> Connection:
        # An idle connection first, without asking for the running loop: CPython's get_running_loop makes a
        # getpid system call on every call (to notice a fork), and most requests find one idle.
        connection = self._take_idle()
        if connection is not None:
            return connection
        loop = asyncio.get_running_loop()
        while True:
            if self._open < self._limit:
                return await self._connect(loop, provider, connect_timeout)
            await self._wait_for_room(loop)
            connection = self._take_idle()
            if connection is not None:
                return connection

    @property
    def open(self) -> int:
        """Connections open now: in use, idle, or still connecting."""
        return self._open

    @property
    def idle(self) -> int:
        return len(self._idle)

    def _take_idle(self) -> Connection | None:
        idle = self._idle
        while idle:
            connection = idle.pop()
            # By its loop's clock, as `put_back` marked it.
            if connection.idle_since >= connection.loop.time() - self._keepalive:
                connection.in_use = connection.reused = True
                return connection
            connection.close()
        return None

    async def _connect(
        self, loop: asyncio.AbstractEventLoop, provider: str, connect_timeout: float | None
    ) -> Connection:
        connection = Connection(loop, self)
        connection.in_use, connection.reused = True, False
        self._open += 1
        try:
            async with asyncio.timeout(connect_timeout):
                proxy = self._proxy
                if proxy is None:
                    await loop.create_connection(
                        lambda: connection,
                        self._host,
                        self._port,
                        ssl=self._tls,
                        server_hostname=self._host if self._tls is not None else None,
                    )
                elif self._tls is None:  # http through the proxy: requests in absolute form (client.py)
                    await loop.create_connection(lambda: connection, proxy.host, proxy.port)
                else:  # https: a CONNECT tunnel, then TLS to the upstream over it
                    tunnel = await open_tunnel(proxy, self._host, self._port, provider=provider)
                    try:
                        await loop.create_connection(
                            lambda: connection, sock=tunnel, ssl=self._tls, server_hostname=self._host
                        )
                    except BaseException:
                        tunnel.close()
                        raise
        except BaseException as exc:
            connection.in_use, connection.closed = False, True  # never counted as closed twice
            self._open -= 1
            self._wake_one()
            if isinstance(exc, TimeoutError):
                raise UpstreamTimeout(provider=provider, phase="connect") from None
            if isinstance(exc, OSError):  # refused, unreachable, DNS, TLS
                raise self._failure(exc, provider) from None
            raise
        return connection

    def _failure(self, exc: OSError, provider: str) -> UpstreamConnectionFailed:
        """What went wrong, where it helps the operator: a certificate refused, a proxy away, the address
        that refused (an Ollama that is not running: "…at http://127.0.0.1:11434"). Never the whole URL
        (its userinfo, path or query may hold a key), never the proxy's credentials."""
        said = f"Could not connect to provider '{provider}': "
        if isinstance(exc, ssl.SSLCertVerificationError):
            return UpstreamConnectionFailed(
                provider=provider,
                raw_message=f"{said}its TLS certificate was not "
                f"accepted ({exc.verify_message}); a private or corporate CA goes in "
                "the provider's tls.ca_bundle",
            )
        if isinstance(exc, ssl.SSLError):
            return UpstreamConnectionFailed(
                provider=provider, raw_message=f"{said}the TLS handshake failed ({exc.reason or type(exc).__name__})"
            )
        if self._proxy is not None and self._tls is None:  # the socket was to the proxy
            return unreachable_proxy(self._proxy, provider)
        host = f"[{self._host}]" if ":" in self._host else self._host
        address = f"{'https' if self._tls is not None else 'http'}://{host}:{self._port}"
        return UpstreamConnectionFailed("upstream_connection_failed_at", provider=provider, address=address)

    async def _wait_for_room(self, loop: asyncio.AbstractEventLoop) -> None:
        room = loop.create_future()
        self._waiting.append(room)
        try:
            await room
        except BaseException:
            if room.done() and not room.cancelled():
                self._wake_one()  # the turn we were given goes to the next in line
            elif room in self._waiting:
                self._waiting.remove(room)
            raise

    def put_back(self, connection: Connection) -> None:
        connection.idle_since = connection.loop.time()
        self._idle.append(connection)
        self._wake_one()

    def closed(self, connection: Connection) -> None:
        """Called once per connection when it closes, whoever closed it."""
        self._open -= 1
        if not connection.in_use and connection in self._idle:
            self._idle.remove(connection)
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiting:
            room = self._waiting.popleft()
            if not room.done():
                room.set_result(None)
                return

    def close(self) -> None:
        for connection in list(self._idle):
            connection.close()
        self._idle.clear()
