"""The configured upstream MCP servers by name (`mcp_servers:` and those added through the admin API;
docs/decisions.md, "MCP servers and who may use them"): what the `/mcp` endpoint aggregates and what the in-request MCP
tools (the Responses `mcp` tool, Anthropic's MCP connector) call by a server's name. `runtime.mcp_servers` is one of
these, or None when no MCP server is configured.

Every method is bounded: a server that is down or slow raises `McpServerError` (kind `unavailable`,
`timeout`, …) within the server's `connect_timeout` plus its `timeout`, never hangs.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Final

import mcp.types as types
from mcp import Client

from babelgate.config.models import McpServerConfig
from babelgate.mcp.errors import McpServerError
from babelgate.mcp.upstreams import Upstream

log = logging.getLogger("babelgate.mcp")

__all__ = ["McpServerError", "McpServers"]

MAX_PAGES: Final = 50  # a listing's pages followed at most (a server that never stops paging is cut off)
MAX_USER_SESSIONS: Final = 256  # per-user upstream sessions kept open per server (pass_through_auth)

Listener = Callable[[str, str], None]  # (server, "tools" | "prompts" | "resources")


class McpServers:
    def __init__(self, configs: Iterable[McpServerConfig] = ()) -> None:
        self._upstreams: dict[str, Upstream] = {}
        self._users: dict[str, OrderedDict[str, Upstream]] = {}  # per-user sessions by token digest
        self._listeners: list[Listener] = []
        self._closing: set[asyncio.Task[None]] = set()  # connections closing in the background (held until done)
        for config in configs:
            self.add(config)

    # -- the registry ---------------------------------------------------------------------------

    def names(self) -> list[str]:
        return list(self._upstreams)

    def config(self, name: str) -> McpServerConfig:
        return self._upstream(name).config

    def configs(self) -> list[McpServerConfig]:
        return [upstream.config for upstream in self._upstreams.values()]

    def add(self, config: McpServerConfig) -> None:
        """Adds a server, or replaces one of the same name (its old connection closes in the background)."""
        old = self._upstreams.get(config.name)
        self._upstreams[config.name] = Upstream(config, on_list_changed=self._changed)
        if old is not None:
            self._in_background(self._close_server(old, self._users.pop(config.name, None)))
        self._changed(config.name, "tools")

    async def remove(self, name: str) -> None:
        upstream = self._upstreams.pop(name, None)
        if upstream is None:
            raise McpServerError(name, "unknown", "no such server")
        await self._close_server(upstream, self._users.pop(name, None))
        self._changed(name, "tools")

    def subscribe(self, listener: Listener) -> None:
        """`listener(server, what)` is called when a server's tools, prompts or resources change."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def status(self) -> list[dict[str, Any]]:
        """Each server's state for /health, /admin/mcp/servers and the dashboard (no secret)."""
        return [
            {
                "name": upstream.name,
                "transport": upstream.config.kind,
                "state": upstream.state,
                "error": upstream.error,
                "failures": upstream.failures,
                "connected_at": upstream.connected_at,
                "tools": [tool.name for tool in upstream.tools] if upstream.tools is not None else None,
            }
            for upstream in self._upstreams.values()
        ]

    # -- what a server offers -------------------------------------------------------------------

    async def list_tools(self, name: str, *, token: str | None = None, fresh: bool = False) -> list[types.Tool]:
        """The server's tools: its kept listing, or (`fresh`, or none kept yet) asked anew, so that a
        server that cannot answer raises rather than lists what it had."""
        upstream = self._upstream(name, token)
        if upstream.tools is not None and not fresh:
            return upstream.tools
        tools: list[types.Tool] = await self._pages(upstream, lambda c, cursor: c.list_tools(cursor=cursor), "tools")
        upstream.tools = tools
        return tools

    def kept_tool(self, name: str, tool: str, *, token: str | None = None) -> types.Tool | None:
        """`tool` as the server's last listing had it (no request: None when not listed or not yet asked)."""
        return next((kept for kept in self._upstream(name, token).tools or () if kept.name == tool), None)

    async def has_tool(self, name: str, tool: str, *, token: str | None = None) -> bool:
        """Whether the server lists `tool`: the kept listing first, a fresh one when it is not there (a
        tool added since). Raises `McpServerError` as a listing does."""
        if self.kept_tool(name, tool, token=token) is not None:
            return True
        return any(listed.name == tool for listed in await self.list_tools(name, token=token, fresh=True))

    async def call_tool(
        self,
        name: str,
        tool: str,
        arguments: dict[str, Any],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (a bound per call, under the server's own)
        token: str | None = None,
    ) -> types.CallToolResult:
        """The tool's result as the server gave it (`isError` set when the tool failed). Raises
        `McpServerError`: unknown server, unavailable, timeout, too_large (past the server's
        `max_result_bytes`), protocol (a malformed answer), error (a JSON-RPC error from the server)."""
        upstream = self._upstream(name, token)
        result: types.CallToolResult = await upstream.request(lambda c: c.call_tool(tool, arguments), timeout=timeout)
        size = result_size(result)
        if size > upstream.config.max_result_bytes:
            raise McpServerError(
                name,
                "too_large",
                f"tool {tool!r} answered {size} bytes, more than max_result_bytes ({upstream.config.max_result_bytes})",
            )
        return result

    async def list_prompts(self, name: str, *, token: str | None = None) -> list[types.Prompt]:
        upstream = self._upstream(name, token)
        if not await self._offers(upstream, "prompts"):
            return []
        prompts: list[types.Prompt] = await self._pages(
            upstream, lambda c, cursor: c.list_prompts(cursor=cursor), "prompts"
        )
        return prompts

    async def get_prompt(
        self, name: str, prompt: str, arguments: dict[str, str] | None = None, *, token: str | None = None
    ) -> types.GetPromptResult:
        upstream = self._upstream(name, token)
        result: types.GetPromptResult = await upstream.request(lambda c: c.get_prompt(prompt, arguments))
        return result

    async def list_resources(self, name: str, *, token: str | None = None) -> list[types.Resource]:
        upstream = self._upstream(name, token)
        if not await self._offers(upstream, "resources"):
            return []
        resources: list[types.Resource] = await self._pages(
            upstream, lambda c, cursor: c.list_resources(cursor=cursor), "resources"
        )
        return resources

    async def list_resource_templates(self, name: str, *, token: str | None = None) -> list[types.ResourceTemplate]:
        upstream = self._upstream(name, token)
        if not await self._offers(upstream, "resources"):
            return []
        templates: list[types.ResourceTemplate] = await self._pages(
            upstream, lambda c, cursor: c.list_resource_templates(cursor=cursor), "resource_templates"
        )
        return templates

    async def read_resource(self, name: str, uri: str, *, token: str | None = None) -> types.ReadResourceResult:
        upstream = self._upstream(name, token)
        result: types.ReadResourceResult = await upstream.request(lambda c: c.read_resource(uri))
        if result_size(result) > upstream.config.max_result_bytes:
            raise McpServerError(name, "too_large", f"resource is larger than max_result_bytes ({uri!r})")
        return result

    # -- inside ---------------------------------------------------------------------------------

    def _upstream(self, name: str, token: str | None = None) -> Upstream:
        upstream = self._upstreams.get(name)
        if upstream is None:
            raise McpServerError(name, "unknown", "no such server")
        if token is None or not upstream.config.pass_through_auth:
            return upstream
        # One session per caller's token: the upstream sees who it is talking to.
        users = self._users.setdefault(name, OrderedDict())
        digest = hashlib.sha256(token.encode()).hexdigest()
        found = users.get(digest)
        if found is None:
            found = users[digest] = Upstream(upstream.config, token=token, on_list_changed=self._changed)
            if len(users) > MAX_USER_SESSIONS:
                _, oldest = users.popitem(last=False)
                self._in_background(oldest.close())
        users.move_to_end(digest)
        return found

    async def _offers(self, upstream: Upstream, what: str) -> bool:
        """Whether the server declared prompts or resources (asking one that did not is an error)."""
        client: Client = await upstream.client()
        capabilities = client.server_capabilities
        return getattr(capabilities, what, None) is not None

    async def _pages(self, upstream: Upstream, fetch: Callable[[Client, str | None], Any], field: str) -> list[Any]:
        async def all_pages(client: Client) -> list[Any]:
            items: list[Any] = []
            cursor: str | None = None
            for _ in range(MAX_PAGES):
                page = await fetch(client, cursor)
                items.extend(getattr(page, field))
                cursor = page.next_cursor
                if not cursor:
                    break
            return items

        items: list[Any] = await upstream.request(all_pages)
        return items

    def _changed(self, server: str, what: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(server, what)
            except Exception:
                log.warning("an MCP list-changed listener failed", exc_info=True)

    async def _close_server(self, upstream: Upstream, users: OrderedDict[str, Upstream] | None) -> None:
        await upstream.close()
        for user in (users or {}).values():
            await user.close()

    async def aclose(self) -> None:
        upstreams = list(self._upstreams.values())
        for name, upstream in zip(list(self._upstreams), upstreams, strict=True):
            await self._close_server(upstream, self._users.pop(name, None))

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(work)
        except RuntimeError:  # no loop (a config built outside one): nothing was ever started
            work.close()
            return
        self._closing.add(task)  # a task nobody references may be collected before it ends
        task.add_done_callback(self._closing.discard)


def result_size(result: types.Result) -> int:
    """The result's size as JSON, in bytes: what `max_result_bytes` bounds and the ledger's bytes_out."""
    return len(result.model_dump_json(by_alias=True, exclude_none=True))
