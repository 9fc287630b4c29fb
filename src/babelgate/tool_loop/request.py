"""What every frontend that runs the tool loop does the same way: the request's bounds from the config,
its servers from a URL or a configured name, its accounting in the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from babelgate.errors import InvalidRequest
from babelgate.tool_loop.ledger import LedgerAccounting
from babelgate.tool_loop.loop import Bounds, Server, Toolbox
from babelgate.tool_loop.servers import NamedServer, ToolServer, UrlServer

if TYPE_CHECKING:
    from babelgate.call import Call
    from babelgate.routing.registry import Deployment
    from babelgate.runtime import Runtime


def bounds(runtime: Runtime, max_calls: int | None = None) -> Bounds:
    """The config's bounds (`tool_loop:`), the request's own call limit when it is lower."""
    settings = runtime.config.tool_loop
    calls = settings.max_calls if max_calls is None else min(settings.max_calls, max_calls)
    return Bounds(max_calls=calls, max_seconds=settings.max_seconds, call_timeout=settings.call_timeout)


def server(runtime: Runtime, *, url: str | None, name: str, headers: Mapping[str, str], param: str) -> ToolServer:
    """A server by its URL (when the config allows requests to name one), else the configured server
    called `name`. `param` names the field an error points at."""
    if url:
        if not runtime.config.tool_loop.allow_server_urls:
            raise InvalidRequest(
                "invalid_value",
                param=param,
                detail="this gateway calls configured MCP servers only: name one instead of a URL",
            )
        return UrlServer(url, headers, connect_timeout=runtime.config.tool_loop.call_timeout)
    registry = runtime.mcp_servers  # the configured servers (mcp/), None when there are none
    if registry is None or name not in registry.names():
        raise InvalidRequest(
            "invalid_value", param=param, detail=f"is required: no MCP server is configured as {name!r}"
        )
    return NamedServer(registry, name)


def toolbox(
    runtime: Runtime,
    servers: list[Server],
    limits: Bounds,
    call: Call | None,
    deployment: Deployment,
    *,
    streamed: bool,
) -> Toolbox:
    """The request's toolbox, its turns and calls in the ledger under the request's id (`call`)."""
    if call is None:
        return Toolbox(servers, limits)
    accounting = LedgerAccounting(runtime, call, deployment.provider.name, deployment.model, streamed=streamed)
    return Toolbox(servers, limits, accounting)
