"""The MCP servers a request's tools live on, as the tool loop needs them: list the tools, call one.

Two kinds, behind one `ToolServer` protocol:
- `UrlServer`: a `server_url` the client named (the Responses `mcp` tool, Anthropic's connector). The
  gateway connects itself with the official `mcp` SDK: streamable HTTP, and the older HTTP+SSE
  transport when the server does not speak it. One connection per request, closed with it.
- `NamedServer`: a server the operator configured (`mcp_servers:`, docs/decisions.md, "MCP servers and who may use
them"), reached through the
  gateway's registry (`runtime.mcp_servers`, `mcp/servers.py`, the `/mcp` endpoint's), which keeps its
  connection, its restarts and its bound on a result's size (`ServerRegistry` is what is used of it).

Every call is bounded (`timeout`); a server's failure is an `McpFailure` with what the client may be
told (never a header or a token: the URL's query and credentials are not repeated).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from babelgate.mcp.errors import McpServerError
from babelgate.providers.destinations import DestinationRules, Refused
from babelgate.tool_loop.safe_http import PUBLIC_HTTPS, Resolver, SystemResolver, client_factory

if TYPE_CHECKING:
    import mcp.types as mcp_types
    from mcp import Client

    from babelgate.config.models import McpServerConfig
    from babelgate.mcp.aggregate import Access

JSON = dict[str, Any]


class McpFailure(Exception):
    """A server that could not be reached, timed out, or broke the protocol. `kind` is `timeout`,
    `unavailable`, `refused` (a destination the policy refuses) or `protocol`; the message names no secret."""

    def __init__(self, kind: str, message: str, code: int = -32603) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.code = code


@dataclass(frozen=True, slots=True)
class ListedTool:
    """One tool as a server lists it (the fields OpenAI's `mcp_list_tools` item shows)."""

    name: str
    input_schema: JSON
    description: str | None = None
    annotations: JSON | None = None


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """A tool's answer: its text, and whether the tool said it failed (`isError`)."""

    text: str
    is_error: bool = False
    content: list[JSON] = field(default_factory=list)  # the MCP content blocks as the server sent them


class ToolServer(Protocol):
    async def list_tools(self, seconds: float) -> list[ListedTool]: ...

    async def call_tool(self, name: str, arguments: JSON, seconds: float) -> ToolOutput: ...

    async def aclose(self) -> None: ...


class ServerRegistry(Protocol):
    """The configured servers (`babelgate.mcp.servers.McpServers`, at `runtime.mcp_servers`)."""

    def names(self) -> list[str]: ...

    def configs(self) -> list[McpServerConfig]: ...

    async def list_tools(self, name: str) -> list[mcp_types.Tool]: ...

    async def call_tool(
        self,
        name: str,
        tool: str,
        arguments: dict[str, Any],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (the registry's own signature)
    ) -> mcp_types.CallToolResult: ...


def listed(tool: mcp_types.Tool) -> ListedTool:
    annotations = tool.annotations.model_dump(exclude_none=True) if tool.annotations is not None else None
    return ListedTool(tool.name, dict(tool.input_schema or {}), tool.description, annotations or None)


def output_of(result: mcp_types.CallToolResult) -> ToolOutput:
    """The text the model is given: the text blocks joined, other blocks as their JSON (structured
    content when the server gave no text)."""
    blocks = [block.model_dump(mode="json", exclude_none=True, by_alias=True) for block in result.content]
    texts = [block["text"] if block.get("type") == "text" else _json_text(block) for block in blocks]
    if not texts and result.structured_content is not None:
        texts = [_json_text(result.structured_content)]
    return ToolOutput("\n".join(texts), bool(result.is_error), blocks)


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _bounded(work: Any, seconds: float, what: str) -> Any:
    try:
        async with asyncio.timeout(seconds):  # in this task: the SDK's task groups must close where they opened
            return await work
    except TimeoutError:
        raise McpFailure("timeout", f"{what} took longer than {seconds:g} s") from None
    except McpFailure:
        raise
    except McpServerError as exc:  # a configured server's failure, already in words a client may read
        raise McpFailure(exc.kind, f"{what} failed: {exc.args[0]}", exc.code or -32603) from None
    except Exception as exc:  # the SDK raises its own errors, httpx2's and anyio's: all mean the same here
        raise McpFailure("unavailable", f"{what} failed: {_describe(exc)}") from None


def _refusal(exc: BaseException | None) -> Refused | None:
    """The destination policy's refusal somewhere in what the SDK raised (its task groups wrap it)."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, Refused):
            return current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending += [current.__cause__, current.__context__]
    return None


def _describe(exc: BaseException) -> str:
    """The exception's kind and message, never a URL (which may carry a token in its query)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    message = str(exc).split(" for url ")[0].split("http")[0].strip(" :'\"")
    return f"{type(exc).__name__}{': ' + message if message else ''}"


class UrlServer:
    """A server at a URL the request names, with the request's headers (its `authorization`), reached
    only where `policy` allows (safe_http.py: every connection's address checked)."""

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        connect_timeout: float = 10.0,
        policy: DestinationRules = PUBLIC_HTTPS,
        resolver: Resolver | None = None,
    ) -> None:
        self.url = url
        self.headers = dict(headers or {})
        self.connect_timeout = connect_timeout
        self._http = client_factory(policy, resolver or SystemResolver())
        self._stack: contextlib.AsyncExitStack | None = None
        self._client: Client | None = None

    async def _connected(self) -> Client:
        if self._client is not None:
            return self._client
        try:
            async with asyncio.timeout(self.connect_timeout):
                self._client = await self._connect(streamable=True)
        except Exception as first:
            await self.aclose()
            refused = _refusal(first)
            if refused is not None:  # the destination itself is refused: the older transport would be too
                raise McpFailure("refused", f"could not connect: {refused.detail}") from None
            try:  # the older transport: GET an SSE stream, POST messages where its `endpoint` event says
                async with asyncio.timeout(self.connect_timeout):
                    self._client = await self._connect(streamable=False)
            except TimeoutError:
                await self.aclose()
                raise McpFailure("timeout", f"connecting took longer than {self.connect_timeout:g} s") from None
            except Exception as exc:
                await self.aclose()
                raise McpFailure("unavailable", f"could not connect: {_describe(exc)}") from None
        return self._client

    async def _connect(self, *, streamable: bool) -> Client:
        # The SDK loads with the first request that names a server (~25 MiB of modules a gateway
        # whose clients never do need not hold).
        from mcp import Client
        from mcp.client.sse import sse_client
        from mcp.client.streamable_http import streamable_http_client

        stack = self._stack = contextlib.AsyncExitStack()
        if streamable:
            http = await stack.enter_async_context(self._http(headers=self.headers))
            transport: Any = streamable_http_client(self.url, http_client=http)
        else:
            transport = sse_client(
                self.url, headers=self.headers, timeout=self.connect_timeout, httpx_client_factory=self._http
            )
        client = Client(transport, cache=None)
        await stack.enter_async_context(client)
        return client

    async def list_tools(self, seconds: float) -> list[ListedTool]:
        async def fetch() -> list[ListedTool]:
            client = await self._connected()
            tools: list[ListedTool] = []
            cursor: str | None = None
            for _ in range(50):  # a server that pages forever is cut off
                page = await client.list_tools(cursor=cursor)
                tools.extend(listed(tool) for tool in page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
            return tools

        result: list[ListedTool] = await _bounded(fetch(), seconds, "listing the tools")
        return result

    async def call_tool(self, name: str, arguments: JSON, seconds: float) -> ToolOutput:
        async def call() -> ToolOutput:
            client = await self._connected()
            return output_of(await client.call_tool(name, arguments, read_timeout_seconds=seconds))

        result: ToolOutput = await _bounded(call(), seconds, f"tool {name!r}")
        return result

    async def aclose(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            with contextlib.suppress(Exception):
                await stack.aclose()


class NamedServer:
    """A configured server, through the gateway's registry (which keeps its connection)."""

    def __init__(self, registry: ServerRegistry, name: str) -> None:
        self.registry = registry
        self.name = name

    async def list_tools(self, seconds: float) -> list[ListedTool]:
        tools: list[mcp_types.Tool] = await _bounded(self.registry.list_tools(self.name), seconds, "listing the tools")
        return [listed(tool) for tool in tools]

    async def call_tool(self, name: str, arguments: JSON, seconds: float) -> ToolOutput:
        result = await _bounded(
            self.registry.call_tool(self.name, name, arguments, timeout=seconds), seconds, f"tool {name!r}"
        )
        return output_of(result)

    async def aclose(self) -> None:
        return None  # the registry owns the connection


class ScopedServer:
    """A configured server as far as the caller's `mcp` scope reaches (`server/tool` patterns): the other
    tools are neither listed nor called."""

    def __init__(self, server: ToolServer, name: str, caller: Access) -> None:
        self.server = server
        self.name = name
        self.caller = caller

    async def list_tools(self, seconds: float) -> list[ListedTool]:
        return [tool for tool in await self.server.list_tools(seconds) if self.caller.tool(self.name, tool.name)]

    async def call_tool(self, name: str, arguments: JSON, seconds: float) -> ToolOutput:
        if not self.caller.tool(self.name, name):
            raise McpFailure("refused", f"this key may not use tool {name!r} of MCP server {self.name!r}", -32602)
        return await self.server.call_tool(name, arguments, seconds)

    async def aclose(self) -> None:
        await self.server.aclose()
