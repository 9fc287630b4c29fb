"""One upstream MCP server's connection: opened on first use, kept open, reopened with backoff when it
breaks (a stdio process that died, a remote server that went away), and a health state for /health.

The SDK's `Client` holds anyio task groups that must be entered and left by the same task, so each
upstream has one supervising task that owns its connection; callers wait (bounded by the server's
`connect_timeout`) for it to be ready and never hang on a server that is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

import httpx2
import mcp.types as types
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.session import IncomingMessage
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from babelgate.config.models import McpServerConfig
from babelgate.mcp.errors import McpServerError
from babelgate.mcp.oauth import ClientCredentials
from babelgate.randomness import RANDOM

log = logging.getLogger("babelgate.mcp")

BACKOFF_FIRST: Final = 0.5
BACKOFF_MAX: Final = 30.0
PROBE_SECONDS: Final = 30.0  # an idle open connection is checked (tools/list) this often
# MCP error codes that mean the connection, not the request, failed.
_CONNECTION_CODES: Final = frozenset({types.CONNECTION_CLOSED})


class Upstream:
    """A configured server's one shared connection (per-user tokens get one each: `token`)."""

    def __init__(
        self,
        config: McpServerConfig,
        *,
        token: str | None = None,
        on_list_changed: Callable[[str, str], None] | None = None,
    ) -> None:
        self.config = config
        self.token = token  # a caller's own bearer, when the server passes tokens through
        self.on_list_changed = on_list_changed  # (server, "tools" | "prompts" | "resources")
        self.state = "idle"  # idle, connecting, ready, down, closed
        self.error: str | None = None  # why the last connection failed (no secret: see _describe)
        self.failures = 0
        self.connected_at: float | None = None
        self.tools: list[types.Tool] | None = None  # the last listing, kept for the dashboard and probes
        self._client: Client | None = None
        self._changed = asyncio.Event()  # set whenever the state changes; waiters re-check it
        self._broken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._oauth = ClientCredentials(config.oauth) if config.oauth is not None else None

    @property
    def name(self) -> str:
        return self.config.name

    def start(self) -> None:
        if self._task is None and self.state != "closed":
            self._task = asyncio.get_running_loop().create_task(self._supervise(), name=f"mcp:{self.name}")

    async def client(self) -> Client:
        """The open connection; waits at most `connect_timeout` for one, then raises `unavailable`."""
        client = self._client
        if client is not None:
            return client
        self.start()
        deadline = time.monotonic() + self.config.connect_timeout
        while self._client is None:
            if self.state == "closed":
                raise McpServerError(self.name, "unavailable", "the gateway is shutting down")
            if self.state == "down":  # waiting out its backoff: say so now rather than hold the caller
                raise McpServerError(self.name, "unavailable", f"server is down: {self.error}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise McpServerError(self.name, "unavailable", "server did not connect in time")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return self._client

    async def request(self, what: Callable[[Client], Any], *, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        """Run `what(client)` (a coroutine) bounded by `timeout` (or the server's); a broken connection
        is reported to the supervisor, which reconnects."""
        limit = min(timeout, self.config.timeout) if timeout is not None else self.config.timeout
        started = time.monotonic()
        client = await self.client()
        try:
            return await asyncio.wait_for(what(client), max(0.001, limit - (time.monotonic() - started)))
        except TimeoutError:
            raise McpServerError(self.name, "timeout", f"no answer within {limit:g} s") from None
        except MCPError as exc:
            if exc.code in _CONNECTION_CODES:
                self._broke(exc)
                raise McpServerError(self.name, "unavailable", "the connection closed") from None
            if exc.code == types.REQUEST_TIMEOUT:
                raise McpServerError(self.name, "timeout", f"no answer within {limit:g} s") from None
            if exc.code == types.PARSE_ERROR:  # the transport could not read the answer (not JSON-RPC)
                raise McpServerError(self.name, "protocol", "malformed answer (not JSON-RPC)") from None
            raise McpServerError(self.name, "error", exc.message, code=exc.code) from None
        except McpServerError:
            raise
        except (ValueError, TypeError) as exc:  # pydantic's ValidationError: an answer not in MCP's shape
            raise McpServerError(self.name, "protocol", f"malformed answer ({type(exc).__name__})") from None
        except Exception as exc:
            self._broke(exc)
            raise McpServerError(self.name, "unavailable", _describe(exc)) from None

    def _broke(self, exc: BaseException) -> None:
        if self._client is not None:
            log.warning("MCP server %s: connection lost (%s)", self.name, _describe(exc))
            self._broken.set()

    async def _supervise(self) -> None:
        while self.state != "closed":
            if not self.failures:  # a server retrying after a failure stays "down" until it answers
                self._set("connecting")
            self._broken.clear()
            try:
                async with self._connect() as client:
                    self._client = client
                    self.failures = 0
                    self.error = None
                    self.connected_at = time.time()
                    self._set("ready")
                    log.info("MCP server %s connected (%s)", self.name, self.config.kind)
                    await self._watch(client)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # an ExceptionGroup from the transport's task group, too
                self.error = _describe(exc)
            finally:
                self._client = None
            if self.state == "closed":
                return
            self.failures += 1
            self._set("down")
            delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self.failures - 1)) * RANDOM.uniform(0.8, 1.2)
            log.warning("MCP server %s is down (%s); retrying in %.1f s", self.name, self.error, delay)
            await asyncio.sleep(delay)

    async def _watch(self, client: Client) -> None:
        """Until the connection breaks: a tools/list now and then, which also notices a stdio process
        that died while nobody called it, and a tool listing that changed without a notification."""
        while True:
            try:
                await asyncio.wait_for(self._broken.wait(), PROBE_SECONDS)
            except TimeoutError:
                try:
                    listed = await asyncio.wait_for(client.list_tools(cache_mode="refresh"), self.config.timeout)
                except Exception as exc:
                    self.error = f"health check failed: {_describe(exc)}"
                    return
                self._absorb_tools(listed.tools)
                continue
            self.error = self.error or "connection lost"
            return

    def _absorb_tools(self, tools: list[types.Tool]) -> None:
        before = self.tools
        self.tools = tools
        if before is not None and [t.model_dump() for t in before] != [t.model_dump() for t in tools]:
            self._notify("tools")

    def _notify(self, what: str) -> None:
        if self.on_list_changed is not None:
            self.on_list_changed(self.name, what)

    def _set(self, state: str) -> None:
        if self.state != "closed":
            self.state = state
        self._changed.set()

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[Client]:
        config = self.config
        async with Client(
            self._transport(),
            mode="legacy",  # the initialize handshake every MCP server speaks
            message_handler=self._on_message,
            cache=None,  # listings are the gateway's to cache (servers.py)
            read_timeout_seconds=config.timeout,
        ) as client:
            yield client

    def _transport(self) -> Any:
        config = self.config
        if config.command is not None:
            return stdio_client(
                StdioServerParameters(
                    command=config.command, args=list(config.args), env=config.env or None, cwd=config.cwd
                )
            )
        assert config.url is not None
        headers = dict(config.headers)
        if self.token is not None:
            headers["Authorization"] = self.token
        auth = self._oauth
        if config.kind == "sse":
            return sse_client(config.url, headers=headers, timeout=config.connect_timeout, auth=auth)
        http = create_mcp_http_client(
            headers=headers, timeout=httpx2.Timeout(config.connect_timeout, read=300.0), auth=auth
        )
        return _owning(http, streamable_http_client(config.url, http_client=http))

    async def _on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, Exception):
            return  # a malformed line or event: the request it belonged to fails on its own
        method = getattr(message, "method", "")
        if method == "notifications/tools/list_changed":
            self.tools = None
            self._notify("tools")
        elif method == "notifications/prompts/list_changed":
            self._notify("prompts")
        elif method == "notifications/resources/list_changed":
            self._notify("resources")

    async def close(self) -> None:
        self.state = "closed"
        self._changed.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


@contextlib.asynccontextmanager
async def _owning(http: httpx2.AsyncClient, transport: Any) -> AsyncIterator[Any]:
    """The streamable-HTTP transport with an HTTP client it closes (the SDK closes only its own)."""
    async with http, transport as streams:
        yield streams


def _describe(exc: BaseException) -> str:
    """A failure in a few words, without a URL's query or a header (they may hold secrets)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, httpx2.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, httpx2.ConnectError | ConnectionError):
        return "connection refused"
    if isinstance(exc, MCPError):
        return f"MCP error {exc.code}: {exc.message[:200]}"
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    return type(exc).__name__
