"""The shared pooled HTTP client for upstream calls: timeouts, and transport errors → GatewayError.

One aiohttp session serves every provider (connections are pooled per host). It is created on
first use inside the running event loop, so an app mounted inside another app (whose lifespan
we never see) works the same as one served on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import aiohttp

from babelgate.errors import (
    GatewayError,
    UpstreamConnectionFailed,
    UpstreamProtocolError,
    UpstreamTimeout,
)

DEFAULT_TIMEOUT: Final = 600.0  # the official OpenAI SDK's own default
DEFAULT_CONNECT_TIMEOUT: Final = 10.0


@dataclass(frozen=True, slots=True)
class Timeouts:
    """connect: TCP+TLS; read: first byte and every gap between chunks; total: whole exchange."""

    connect: float | None = DEFAULT_CONNECT_TIMEOUT
    read: float | None = DEFAULT_TIMEOUT
    total: float | None = None
    client_timeout: aiohttp.ClientTimeout = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "client_timeout",
            aiohttp.ClientTimeout(total=self.total, sock_connect=self.connect, sock_read=self.read),
        )


class UpstreamClient:
    """Sends requests upstream and turns every transport failure into a typed GatewayError."""

    def __init__(self, *, max_connections: int = 1000) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._closers: list[Callable[[], Awaitable[None]]] = []

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Run `closer` when the client closes (for helpers with pools of their own)."""
        self._closers.append(closer)

    def _get_session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, ttl_dns_cache=300, keepalive_timeout=30
            )
            session = aiohttp.ClientSession(
                connector=connector, auto_decompress=True, skip_auto_headers=("User-Agent",)
            )
            self._session = session
        return session

    async def send(
        self,
        method: str,
        url: str,
        *,
        provider: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: Timeouts,
    ) -> aiohttp.ClientResponse:
        """The response once its status and headers arrived; the body is still to be read."""
        try:
            return await self._get_session().request(
                method, url, data=body, headers=headers, timeout=timeouts.client_timeout,
                allow_redirects=False,
            )
        except Exception as exc:
            raise transport_error(exc, provider, phase="connect") from None

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
        for closer in self._closers:
            await closer()


async def read_body(response: aiohttp.ClientResponse, provider: str) -> bytes:
    try:
        return await response.read()
    except Exception as exc:
        response.close()
        raise transport_error(exc, provider, phase="body") from None


async def iter_body(response: aiohttp.ClientResponse, provider: str) -> AsyncGenerator[bytes, None]:
    """The body's bytes as they arrive; the connection is closed if the reader stops early."""
    try:
        content = response.content
        while True:
            try:
                chunk = await content.readany()
            except Exception as exc:
                raise transport_error(exc, provider, phase="stream") from None
            if not chunk:
                return
            yield chunk
    finally:
        # Closing (not releasing) an unfinished response drops the upstream connection, so the
        # upstream stops generating when our client has gone.
        if not response.content.at_eof():
            response.close()
        else:
            response.release()


async def drain(response: aiohttp.ClientResponse, *, seconds: float = 1.0, max_bytes: int = 65536) -> None:
    """Read what little follows a stream's logical end (the chunked terminator), so the
    connection goes back to the pool instead of being closed; give up quickly if more comes."""
    content = response.content
    received = 0
    try:
        async with asyncio.timeout(seconds):
            while not content.at_eof() and received <= max_bytes:
                received += len(await content.readany())
    except (TimeoutError, aiohttp.ClientError, OSError):
        pass


def transport_error(exc: BaseException, provider: str, *, phase: str) -> GatewayError:
    """Map an aiohttp/asyncio failure; never includes the exception text (it may hold URLs)."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return UpstreamTimeout(provider=provider, phase="connect")
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return UpstreamTimeout(provider=provider, phase="first byte" if phase == "connect" else phase)
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        if phase == "connect":
            return UpstreamConnectionFailed(provider=provider)
        return UpstreamProtocolError(provider=provider, detail="the connection closed mid-body")
    if isinstance(exc, aiohttp.ClientError | OSError):
        return UpstreamConnectionFailed(provider=provider)
    raise exc
