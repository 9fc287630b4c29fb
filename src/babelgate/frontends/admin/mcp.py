"""`/admin/mcp/servers` and `/admin/mcp/servers/{name}`: the upstream MCP servers behind `/mcp`, listed
with their state and tools, added and removed (kept in the store: mcp/stored.py). Header, env and
OAuth secret values are never shown, only their names."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any, Final

from babelgate.answer import Answer, json_answer
from babelgate.errors import GatewayError, InvalidRequest, MethodNotAllowed, NotFound
from babelgate.exchange import Exchange
from babelgate.frontends.admin.access import authorize
from babelgate.frontends.route import Operation
from babelgate.mcp import stored
from babelgate.pipeline import parse_json_object

if TYPE_CHECKING:
    from babelgate.mcp.servers import McpServers
    from babelgate.runtime import Runtime

PREFIX: Final = "/admin/mcp/servers/"
LIST_SECONDS: Final = 5.0  # a server's tools are shown if it lists them this fast
SERVER_FIELDS: Final = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
SERVER_OPERATIONS: Final = {"": (Operation("GET"), Operation("DELETE"))}


async def servers(runtime: Runtime, exchange: Exchange) -> Answer:
    """`/admin/mcp/servers`: list (GET) or add (POST)."""
    await authorize(runtime, exchange)  # the admin role: upstream servers are the operator's
    method = exchange.scope["method"]
    registry = _registry(runtime)
    if method in ("GET", "HEAD"):
        exchange.call.route = "admin.mcp.list"
        return json_answer({"object": "list", "data": _described(runtime, registry)})
    elif method == "POST":
        exchange.call.route = "admin.mcp.add"
        fields = parse_json_object(await exchange.read_body(runtime.max_body_bytes))
        try:
            server = stored.resolve(fields, os.environ)
        except ValueError as exc:
            raise InvalidRequest("invalid_value", param="body", detail=str(exc)) from None
        if server.name in _from_file(runtime):
            raise _conflict(f"MCP server {server.name!r} is configured in the file; change it there")
        await stored.save(runtime.response_store, fields)
        registry.add(server)
        return json_answer(_described(runtime, registry, server.name)[0], 201)
    else:
        raise MethodNotAllowed(method=method, path=exchange.scope["path"])


async def server(runtime: Runtime, exchange: Exchange, name: str) -> Answer:
    """`/admin/mcp/servers/{name}`: one server with its tools (GET), or remove it (DELETE)."""
    await authorize(runtime, exchange)  # the admin role: upstream servers are the operator's
    method = exchange.scope["method"]
    registry = _registry(runtime)
    if name not in registry.names():
        raise NotFound(raw_message=f"no MCP server named {name!r}", code="mcp_server_not_found")
    if method in ("GET", "HEAD"):
        described = _described(runtime, registry, name)[0]
        try:
            tools = await asyncio.wait_for(registry.list_tools(name), LIST_SECONDS)
            described["tools"] = [{"name": tool.name, "description": tool.description} for tool in tools]
        except Exception as exc:  # down or slow: its state says so
            described["tools_error"] = str(exc)
        return json_answer(described)
    elif method == "DELETE":
        exchange.call.route = "admin.mcp.remove"
        if name in _from_file(runtime):
            raise _conflict(f"MCP server {name!r} is configured in the file; remove it there")
        await stored.remove(runtime.response_store, name)
        await registry.remove(name)
        return json_answer({"name": name, "removed": True})
    else:
        raise MethodNotAllowed(method=method, path=exchange.scope["path"])


def _registry(runtime: Runtime) -> McpServers:
    if runtime.mcp_servers is None:
        raise _conflict("MCP is off: add `mcp_servers:` to the config (an empty list will do) to manage servers here")
    return runtime.mcp_servers


def _from_file(runtime: Runtime) -> set[str]:
    return {server.name for server in runtime.config.mcp_servers or ()}


def _described(runtime: Runtime, registry: McpServers, only: str | None = None) -> list[dict[str, Any]]:
    from_file = _from_file(runtime)
    states = {state["name"]: state for state in registry.status()}
    return [
        {**config.public(), **states.get(config.name, {}), "source": "file" if config.name in from_file else "api"}
        for config in registry.configs()
        if only is None or config.name == only
    ]


def _conflict(message: str) -> GatewayError:
    return GatewayError(raw_message=message, code="mcp_conflict", status=409, error_type="invalid_request_error")
