"""What every frontend that runs the tool loop does the same way: the request's bounds from the config,
its servers from a URL or a configured name within the caller's MCP scope, its accounting in the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from babelgate.errors import InvalidRequest, PermissionDenied
from babelgate.mcp.aggregate import Access, url_origin_path
from babelgate.providers.destinations import Refused, check_url, parse_url
from babelgate.tool_loop.ledger import LedgerAccounting
from babelgate.tool_loop.loop import Bounds, Server, Toolbox
from babelgate.tool_loop.safe_http import ServerUrlPolicy
from babelgate.tool_loop.servers import NamedServer, ScopedServer, ServerRegistry, ToolServer, UrlServer

if TYPE_CHECKING:
    from babelgate.call import Call
    from babelgate.governance.virtual_keys import VirtualKey
    from babelgate.routing.registry import Deployment
    from babelgate.runtime import Runtime


def bounds(runtime: Runtime, max_calls: int | None = None) -> Bounds:
    """The config's bounds (`tool_loop:`), the request's own call limit when it is lower."""
    settings = runtime.config.tool_loop
    calls = settings.max_calls if max_calls is None else min(settings.max_calls, max_calls)
    return Bounds(max_calls=calls, max_seconds=settings.max_seconds, call_timeout=settings.call_timeout)


def access(runtime: Runtime, key: VirtualKey | None) -> Access:
    """What a caller may use of MCP, on every road (/mcp, the Responses `mcp` tool, the Messages
    connector): a virtual key's `mcp` field and its team's (neither: nothing); anyone else (a static
    key, the master key, an open gateway) everything."""
    if key is None:
        return Access(None)
    team = runtime.config.teams.get(key.team) if key.team is not None else None
    return Access.combined(key.mcp, team.mcp if team is not None else None, default_all=False)


def server(
    runtime: Runtime, caller: Access, *, url: str | None, name: str, headers: Mapping[str, str], param: str
) -> ToolServer:
    """The server a request's tool names, once `caller` may use it: a configured server by its name, or by
    its URL (a URL that points at a configured server is that server), else a server of the request's
    own at `url`, when the config allows such URLs, the caller's `mcp` field covers it and the
    destination is a safe one. `param` names the field an error points at. Nothing is contacted here."""
    registry = runtime.mcp_servers  # the configured servers (mcp/), None when there are none
    if url:
        exact, sharing = _configured_at(registry, url)
        if exact is not None:
            return _configured(registry, exact, caller, param)
        for other in sharing:  # the same host and port as a configured server: its scope holds there too
            _may_use(caller, other, param)
        return _own_server(runtime, caller, url, headers, param)
    if registry is None or name not in registry.names():
        raise InvalidRequest(
            "invalid_value", param=param, detail=f"is required: no MCP server is configured as {name!r}"
        )
    return _configured(registry, name, caller, param)


def _configured(registry: ServerRegistry | None, name: str, caller: Access, param: str) -> ToolServer:
    assert registry is not None
    _may_use(caller, name, param)
    return ScopedServer(NamedServer(registry, name), name, caller)


def _may_use(caller: Access, name: str, param: str) -> None:
    if not caller.server(name):
        raise PermissionDenied("mcp_server_not_allowed", code="mcp_server_not_allowed", param=param, server=name)


def _configured_at(registry: ServerRegistry | None, url: str) -> tuple[str | None, list[str]]:
    """The configured server whose URL `url` is (scheme, host, port and path alike; query and a trailing
    `/` aside), and the configured servers on the same scheme, host and port."""
    wanted = url_origin_path(url)
    if registry is None or wanted is None:
        return None, []
    exact: str | None = None
    sharing: list[str] = []
    for config in registry.configs():
        theirs = url_origin_path(config.url) if config.url else None
        if theirs is None or theirs[:3] != wanted[:3]:
            continue
        sharing.append(config.name)
        if theirs == wanted and exact is None:
            exact = config.name
    return exact, sharing


def _own_server(runtime: Runtime, caller: Access, url: str, headers: Mapping[str, str], param: str) -> ToolServer:
    settings = runtime.config.tool_loop
    if not settings.allow_server_urls:
        raise InvalidRequest(
            "invalid_value",
            param=param,
            detail="this gateway calls configured MCP servers only: name one instead of a URL",
        )
    if not caller.url(url):
        raise PermissionDenied("mcp_server_url_not_allowed", code="mcp_server_not_allowed", param=param)
    policy = ServerUrlPolicy(
        allow_http=settings.server_urls.allow_http,
        allow_private_hosts=frozenset(settings.server_urls.allow_private_hosts),
    )
    try:
        check_url(parse_url(url), policy)  # what the URL itself shows; its name's addresses at connection
    except Refused as refused:
        raise InvalidRequest("invalid_value", param=param, detail=refused.detail) from None
    return UrlServer(url, headers, connect_timeout=settings.call_timeout, policy=policy)


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
