"""`/mcp`: the gateway as one MCP server over every configured upstream (docs/decisions.md, "MCP servers and who may use
them").

- `/mcp` (streamable HTTP) and `/mcp/sse` + `/mcp/messages/` (the older HTTP+SSE transport) aggregate
  every server under one namespace (mcp/aggregate.py); `/mcp/{server}` (and `/mcp/{server}/sse`) serve one
  server under its own names.
- Callers authenticate with a bearer: a virtual key, a static gateway key or the master key; what a
  key may use is its `mcp` field (and its team's). Without one: 401 and `WWW-Authenticate: Bearer
  resource_metadata=…`, the RFC 9728 document at `/.well-known/oauth-protected-resource[/mcp…]`.
- Every tool call is a ledger row (server, tool, status, latency, bytes in and out) and a metric.

The SDK's lowlevel `Server` speaks the protocol; its streamable-HTTP session manager needs a task
group for its lifetime, started here on the first request (so the endpoint works under `babelgate
serve` and mounted in another app alike) and stopped with the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

import mcp.types as types
import orjson
from mcp import MCPError
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged, ServerEvent, ToolsListChanged

from babelgate.errors import AuthenticationFailed, GatewayError, GuardrailBlocked
from babelgate.exchange import client_address
from babelgate.frontends.mcp_guardrails import NO_MODEL, guarded_arguments, guarded_result
from babelgate.governance.gateway_keys import credentials
from babelgate.governance.refusals import presented_key
from babelgate.guardrails.check import Decisions
from babelgate.guardrails.guardrail import Guardrail
from babelgate.i18n import render_message
from babelgate.mcp.aggregate import Access, Namespace
from babelgate.mcp.errors import McpServerError
from babelgate.mcp.servers import McpServers, result_size
from babelgate.pipeline import keys_ready
from babelgate.store.ledger_table import MESSAGE_CHARS, row_of
from babelgate.tool_loop import request as setup

if TYPE_CHECKING:
    from babelgate.exchange import Receive, Scope, Send
    from babelgate.runtime import Runtime

log = logging.getLogger("babelgate.mcp")

CALLER: Final = "babelgate.mcp_caller"  # where the authenticated caller travels in the ASGI scope
WELL_KNOWN: Final = "/.well-known/oauth-protected-resource"
USER_TOKEN_HEADER: Final = b"x-mcp-authorization"  # a caller's own upstream token (pass_through_auth)
RESERVED: Final = ("sse", "messages")  # path words of the old transport, never a server's name
# A failed upstream call → the status its ledger row keeps.
EVENTS: Final[dict[str, ServerEvent]] = {
    "tools": ToolsListChanged(),
    "prompts": PromptsListChanged(),
    "resources": ResourcesListChanged(),
}
STATUS_OF: Final = {"unknown": 404, "unavailable": 503, "timeout": 504, "too_large": 502, "protocol": 502, "error": 502}


@dataclass(frozen=True, slots=True)
class Caller:
    key_id: str | None
    team: str | None
    access: Access
    only: str | None  # the server of `/mcp/{server}`; None on the aggregated endpoint
    token: str | None  # the caller's `X-Mcp-Authorization`, for servers that pass user tokens through
    guards: tuple[Guardrail, ...] = ()  # over its tool calls' arguments and results (mcp_guardrails.py)


class _GatewayServer(Server[Any]):
    """Announces list changes (the gateway forwards its upstreams')."""

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options
            or NotificationOptions(prompts_changed=True, resources_changed=True, tools_changed=True),
            experimental_capabilities,
            extensions,
        )


class McpEndpoint:
    def __init__(self, servers: McpServers, runtime: Callable[[], Runtime], *, version: str = "") -> None:
        self.servers = servers
        self._runtime = runtime
        # 2026-07-28 clients hear of changes on a `subscriptions/listen` stream; earlier ones on their
        # session's standalone stream (`_connections`).
        self._bus = InMemorySubscriptionBus()
        self.server = _GatewayServer(
            "babelgate",
            version=version,
            instructions="Tools, prompts and resources of the MCP servers this gateway serves, named <server>__<name>.",
            get_tool_input_schema=self._input_schema,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_prompts=self._list_prompts,
            on_get_prompt=self._get_prompt,
            on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_resource_templates,
            on_read_resource=self._read_resource,
            on_subscriptions_listen=ListenHandler(self._bus),
        )
        self._manager: StreamableHTTPSessionManager | None = None
        self._starting: asyncio.Future[StreamableHTTPSessionManager] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._sse: dict[str | None, SseServerTransport] = {}
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()  # clients to tell of list changes
        self._tasks: set[asyncio.Task[Any]] = set()
        servers.subscribe(self._list_changed)

    @staticmethod
    def claims(path: str) -> bool:
        return path == "/mcp" or path.startswith(("/mcp/", WELL_KNOWN))

    # -- HTTP ------------------------------------------------------------------------------------

    async def serve(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        if path.startswith(WELL_KNOWN):
            await self._metadata(path[len(WELL_KNOWN) :], scope, send)
            return
        parts = [part for part in path[len("/mcp") :].split("/") if part]
        only: str | None = None
        if parts and parts[0] not in RESERVED:
            only = parts.pop(0)
            if only not in self.servers.names():
                await _json(send, 404, _rpc_error(types.INVALID_REQUEST, f"no MCP server named {only!r}"))
                return
        kind = parts[0] if parts else ""
        if len(parts) > 1 or kind not in ("", *RESERVED):
            await _json(send, 404, _rpc_error(types.INVALID_REQUEST, "no such MCP endpoint"))
            return
        try:
            caller = await self._authenticate(scope, only)
        except AuthenticationFailed as refused:
            self._log_refusal(scope, 401, refused.label, refused.params.get("key_id"))
            await self._unauthorized(scope, path, send, refused)
            return
        except GatewayError as error:  # the key ring could not be read yet
            await _json(send, error.status, _rpc_error(types.INTERNAL_ERROR, render_message(error)))
            return
        if only is not None and not caller.access.server(only):
            self._log_refusal(scope, 403, "mcp_server_not_allowed", caller.key_id)
            await _json(send, 403, _rpc_error(types.INVALID_REQUEST, f"this key may not use MCP server {only!r}"))
            return
        scope = {**scope, CALLER: caller}
        if kind == "":
            manager = await self._session_manager()
            await manager.handle_request(scope, cast(Any, receive), cast(Any, send))
        elif kind == "sse" and scope["method"] == "GET":
            transport = self._sse_transport(only)
            async with transport.connect_sse(scope, cast(Any, receive), cast(Any, send)) as (read, write):
                await self.server.run(read, write, self.server.create_initialization_options())
        elif kind == "messages" and scope["method"] == "POST":
            await self._sse_transport(only).handle_post_message(scope, cast(Any, receive), cast(Any, send))
        else:
            await _json(send, 405, _rpc_error(types.INVALID_REQUEST, "method not allowed"), [(b"allow", b"GET, POST")])

    def _sse_transport(self, only: str | None) -> SseServerTransport:
        transport = self._sse.get(only)
        if transport is None:
            path = f"/mcp/{only}/messages/" if only is not None else "/mcp/messages/"
            transport = self._sse[only] = SseServerTransport(path)
        return transport

    async def _session_manager(self) -> StreamableHTTPSessionManager:
        if self._manager is not None:
            return self._manager
        if self._starting is None:
            self._starting = asyncio.get_running_loop().create_future()
            self._runner = asyncio.get_running_loop().create_task(self._run_manager(self._starting))
        return await asyncio.shield(self._starting)

    async def _run_manager(self, started: asyncio.Future[StreamableHTTPSessionManager]) -> None:
        manager = StreamableHTTPSessionManager(self.server)
        try:
            async with manager.run():
                self._manager = manager
                started.set_result(manager)
                await self._stop.wait()
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc if isinstance(exc, Exception) else RuntimeError("MCP endpoint stopped"))
            raise
        finally:
            self._manager = None

    async def aclose(self) -> None:
        self.servers.unsubscribe(self._list_changed)
        self._stop.set()
        if self._runner is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._runner, 5)
        for task in list(self._tasks):
            task.cancel()

    async def _authenticate(self, scope: Scope, only: str | None) -> Caller:
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name.lower(), value)
        runtime = self._runtime()
        authorization = credentials(headers.get, scope.get("query_string", b""))
        token = headers.get(USER_TOKEN_HEADER)
        user_token = token.decode("latin-1") if token is not None else None
        master = runtime.config.server.master_key
        guardrails = runtime.guardrails
        if (
            master
            and authorization is not None
            and authorization[:7].lower() == b"bearer "
            and hmac.compare_digest(authorization[7:].strip(), master.encode())
        ):
            guards = guardrails.applicable(None, NO_MODEL) if guardrails.active else ()
            return Caller("master", None, Access(None), only, user_token, guards)
        await keys_ready(runtime)
        key_id, key = runtime.keys.identify(authorization)
        guards = guardrails.applicable(key, NO_MODEL) if guardrails.active else ()
        if key is None:  # a static key (or an open gateway, with no keys at all): every server
            return Caller(key_id, None, Access(None), only, user_token, guards)
        return Caller(key.id, key.team, setup.access(runtime, key), only, user_token, guards)

    def _log_refusal(self, scope: Scope, status: int, reason: str, key_id: str | None) -> None:
        headers = dict(reversed(scope["headers"]))
        presented = presented_key(key_id, credentials(headers.get, scope.get("query_string", b"")))
        self._runtime().refusals.refused(client_address(scope), status, reason, "mcp", presented)

    async def _unauthorized(self, scope: Scope, path: str, send: Send, refused: GatewayError) -> None:
        metadata = f"{_base_url(scope)}{WELL_KNOWN}{path}"
        challenge = f'Bearer resource_metadata="{metadata}"'.encode()
        body = _rpc_error(types.INVALID_REQUEST, render_message(refused))
        await _json(send, 401, body, [(b"www-authenticate", challenge)])

    async def _metadata(self, resource_path: str, scope: Scope, send: Send) -> None:
        """RFC 9728's protected-resource metadata: which resource this is and how to present a key."""
        if resource_path and not self.claims(resource_path):
            await _json(send, 404, {"error": "not_found"})
            return
        document = {
            "resource": f"{_base_url(scope)}{resource_path or '/mcp'}",
            "bearer_methods_supported": ["header"],
            "resource_name": "babelgate MCP gateway",
            "resource_documentation": "https://github.com/babelgate/babelgate/blob/main/docs/mcp.md",
        }
        await _json(send, 200, document)

    # -- MCP requests ------------------------------------------------------------------------------

    def _caller(self, ctx: Any) -> Caller:
        # A request's session lives as long as the request; its connection as long as the client's session,
        # and its standalone stream is where list changes go (the SDK has no public accessor for it yet).
        connection = getattr(ctx.session, "_connection", None)
        if connection is not None:
            self._connections.add(connection)
        request = ctx.request
        caller = request.scope.get(CALLER) if request is not None else None
        if not isinstance(caller, Caller):  # never: every request passes `serve`
            raise MCPError(types.INVALID_REQUEST, "not authenticated")
        return caller

    def _visible(self, caller: Caller, *, whole: bool = False) -> list[str]:
        names = [caller.only] if caller.only is not None else self.servers.names()
        allowed = caller.access.whole_server if whole else caller.access.server
        return [name for name in names if name in self.servers.names() and allowed(name)]

    async def _gather(
        self, caller: Caller, names: list[str], fetch: Callable[[str], Any]
    ) -> tuple[list[Any], dict[str, str]]:
        """Each server's answer, and the servers that could not answer (reported, never waited on past
        their timeouts). On `/mcp/{server}` a server that cannot answer is the request's error."""
        answers = await asyncio.gather(*(fetch(name) for name in names), return_exceptions=True)
        found: list[Any] = []
        errors: dict[str, str] = {}
        for name, answer in zip(names, answers, strict=True):
            if isinstance(answer, McpServerError):
                errors[name] = str(answer)
            elif isinstance(answer, BaseException):
                errors[name] = f"MCP server {name!r}: {type(answer).__name__}"
            else:
                found.append((name, answer))
        if caller.only is not None and errors:
            raise MCPError(types.INTERNAL_ERROR, errors[caller.only])
        return found, errors

    def _namespace(self) -> Namespace:
        return Namespace(self.servers.configs())

    async def _listing(
        self,
        ctx: Any,
        fetch: Callable[[str, str | None], Awaitable[list[Any]]],
        rename: Callable[[Namespace, str, Any], Any],
        *,
        whole: bool,
        keep: Callable[[Caller, str, Any], bool] | None = None,
    ) -> tuple[list[Any], dict[str, Any] | None]:
        """A listing over the caller's servers: each item renamed into the one namespace (on `/mcp`; as it
        is on `/mcp/{server}`), and the `_meta` naming the servers that could not answer."""
        caller = self._caller(ctx)
        found, errors = await self._gather(
            caller, self._visible(caller, whole=whole), lambda name: fetch(name, caller.token)
        )
        names = self._namespace()
        items = [
            item if caller.only is not None else rename(names, server, item)
            for server, listed in found
            for item in listed
            if keep is None or keep(caller, server, item)
        ]
        return items, _unavailable(errors)

    async def _list_tools(self, ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        tools, meta = await self._listing(
            ctx,
            # Asked anew: a server that went away since its last listing is named, not listed from memory.
            lambda name, token: self.servers.list_tools(name, token=token, fresh=True),
            lambda names, server, tool: tool.model_copy(update={"name": names.name(server, tool.name)}),
            whole=False,
            keep=lambda caller, server, tool: caller.access.tool(server, tool.name),
        )
        return types.ListToolsResult(tools=tools, _meta=meta)

    def _input_schema(self, name: str) -> dict[str, Any] | None:
        """A tool's input schema from the kept listings, for the SDK's `Mcp-Param-*` header check: without
        it the SDK would list every upstream anew on every call (None: the check is skipped)."""
        split = self._namespace().split(name)
        if split is None:
            return None
        with contextlib.suppress(McpServerError):  # a server removed meanwhile
            tool = self.servers.kept_tool(*split)
            return tool.input_schema if tool is not None else None
        return None

    async def _call_tool(self, ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        caller = self._caller(ctx)
        started = time.monotonic()
        arguments = params.arguments or {}
        split = (caller.only, params.name) if caller.only is not None else self._namespace().split(params.name)
        if split is None or split[0] is None:
            raise MCPError(types.INVALID_PARAMS, f"unknown tool {params.name!r}")
        server, tool = split
        bytes_in = len(orjson.dumps(arguments))
        if not caller.access.tool(server, tool):
            self._account(
                caller,
                server,
                tool,
                started,
                403,
                "mcp_tool_denied",
                bytes_in,
                0,
                "not allowed for this key",
                self._content(arguments, None),
            )
            raise MCPError(types.INVALID_PARAMS, f"tool {params.name!r} is not available to this key")
        decisions = Decisions() if caller.guards else None
        try:
            # An unknown tool is the caller's error (JSON-RPC), not a tool result the server makes of it.
            if not await self.servers.has_tool(server, tool, token=caller.token):
                raise McpServerError(server, "unknown", f"no tool {tool!r}")
            if decisions is not None:
                arguments = await guarded_arguments(caller.guards, arguments, decisions, caller.key_id)
            result = await self.servers.call_tool(server, tool, arguments, token=caller.token)
            if decisions is not None:
                result = await guarded_result(caller.guards, result, decisions, caller.key_id)
        except GuardrailBlocked as blocked:
            # A tool result, as a server's failure is: the model reading it learns which guardrail refused.
            message = render_message(blocked)
            self._account(
                caller, server, tool, started, 400, "guardrail_blocked", bytes_in, 0, message, None, decisions
            )
            return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)
        except McpServerError as exc:
            status = STATUS_OF.get(exc.kind, 502)
            self._account(
                caller,
                server,
                tool,
                started,
                status,
                f"mcp_{exc.kind}",
                bytes_in,
                0,
                str(exc),
                self._content(arguments, None),
                decisions,
            )
            if exc.kind == "unknown":
                raise MCPError(types.INVALID_PARAMS, f"unknown tool {params.name!r}") from None
            if exc.kind == "error":  # the server's own JSON-RPC error (an unknown tool, bad arguments): as it said
                raise MCPError(exc.code or types.INTERNAL_ERROR, str(exc)) from None
            # The model reading the result learns why, and may try something else.
            return types.CallToolResult(content=[types.TextContent(type="text", text=str(exc))], is_error=True)
        error_code = "mcp_tool_error" if result.is_error else None
        self._account(
            caller,
            server,
            tool,
            started,
            200,
            error_code,
            bytes_in,
            result_size(result),
            None,
            self._content(arguments, result),
            decisions,
        )
        return result

    def _content(self, arguments: dict[str, Any], result: types.CallToolResult | None) -> str | None:
        """The call's arguments and result for its ledger row, when the operator keeps content
        (`ledger.content`): JSON, scrubbed of upstream secrets, cut at `ledger.content_max_bytes`."""
        runtime = self._runtime()
        settings = runtime.config.ledger
        if not settings.content:
            return None
        answer = result.model_dump(mode="json", by_alias=True, exclude_none=True) if result is not None else None
        text = orjson.dumps({"arguments": arguments, "result": answer}).decode()
        return runtime.ledger.scrub(text)[: settings.content_max_bytes]

    async def _list_prompts(self, ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        prompts, meta = await self._listing(
            ctx,
            lambda name, token: self.servers.list_prompts(name, token=token),
            lambda names, server, prompt: prompt.model_copy(update={"name": names.name(server, prompt.name)}),
            whole=True,
        )
        return types.ListPromptsResult(prompts=prompts, _meta=meta)

    async def _get_prompt(self, ctx: Any, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        caller = self._caller(ctx)
        split = (caller.only, params.name) if caller.only is not None else self._namespace().split(params.name)
        if split is None or split[0] is None or not caller.access.whole_server(split[0]):
            raise MCPError(types.INVALID_PARAMS, f"unknown prompt {params.name!r}")
        try:
            return await self.servers.get_prompt(split[0], split[1], params.arguments, token=caller.token)
        except McpServerError as exc:
            raise _rpc(exc) from None

    async def _list_resources(self, ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        resources, meta = await self._listing(
            ctx,
            lambda name, token: self.servers.list_resources(name, token=token),
            lambda names, server, resource: resource.model_copy(update={"uri": names.uri(server, str(resource.uri))}),
            whole=True,
        )
        return types.ListResourcesResult(resources=resources, _meta=meta)

    async def _list_resource_templates(
        self, ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        templates, meta = await self._listing(
            ctx,
            lambda name, token: self.servers.list_resource_templates(name, token=token),
            lambda names, server, template: template.model_copy(
                update={"uri_template": names.uri_template(server, template.uri_template)}
            ),
            whole=True,
        )
        return types.ListResourceTemplatesResult(resource_templates=templates, _meta=meta)

    async def _read_resource(self, ctx: Any, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        caller = self._caller(ctx)
        uri = str(params.uri)
        split = (caller.only, uri) if caller.only is not None else self._namespace().split_uri(uri)
        if split is None or split[0] is None or not caller.access.whole_server(split[0]):
            raise MCPError(types.INVALID_PARAMS, f"unknown resource {uri!r}")
        try:
            result = await self.servers.read_resource(split[0], split[1], token=caller.token)
        except McpServerError as exc:
            raise _rpc(exc) from None
        if caller.only is None:  # the contents name the URI the client asked for
            result = result.model_copy(
                update={"contents": [content.model_copy(update={"uri": uri}) for content in result.contents]}
            )
        return result

    # -- what the gateway keeps and tells ----------------------------------------------------------

    def _account(
        self,
        caller: Caller,
        server: str,
        tool: str,
        started: float,
        status: int,
        error_code: str | None,
        bytes_in: int,
        bytes_out: int,
        message: str | None,
        content: str | None = None,
        decisions: Decisions | None = None,
    ) -> None:
        runtime = self._runtime()
        if decisions is not None:
            runtime.metrics.guardrail_decisions_of(decisions.counted)
        elapsed = time.monotonic() - started
        outcome = "ok" if status < 400 and error_code is None else (error_code or "error").removeprefix("mcp_")
        runtime.metrics.mcp_calls.labels(server, tool, outcome).inc()
        runtime.metrics.mcp_latency.labels(server).observe(elapsed)
        ledger = runtime.ledger
        runtime.ledger.record_row(
            row_of(
                {
                    "ts": time.time(),
                    "request_id": uuid.uuid4().hex,
                    "key_id": caller.key_id,
                    "team": caller.team,
                    "route": "mcp.tools/call",
                    "attempts": 1,
                    "status": status,
                    "error_code": error_code,
                    "prompt_tokens": 0,
                    "completion_tokens": 0,
                    "cached_tokens": 0,
                    "reasoning_tokens": 0,
                    "latency_ms": round(elapsed * 1000, 3),
                    "stream": False,
                    "cache_hit": False,
                    "error_message": ledger.scrub(message)[:MESSAGE_CHARS] if message is not None else None,
                    "server": server,
                    "tool": tool,
                    "bytes_in": bytes_in,
                    "bytes_out": bytes_out,
                    "content": content,
                    "guardrails": decisions.ledger_value() if decisions is not None and decisions.actions else None,
                }
            )
        )

    def _list_changed(self, server: str, what: str) -> None:
        """An upstream's list changed: every connected client is told (it lists again)."""
        event = EVENTS.get(what)
        if event is not None:
            self._spawn(self._bus.publish(event))
        for connection in list(self._connections):
            send = {
                "tools": connection.send_tool_list_changed,
                "prompts": connection.send_prompt_list_changed,
                "resources": connection.send_resource_list_changed,
            }.get(what)
            if send is not None:
                self._spawn(send())

    def _spawn(self, notification: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(_quietly(notification))
        except RuntimeError:  # no loop: nobody is connected
            notification.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # A task cancelled before it ran (the endpoint closed at once) never awaited its notification: closed
        # then, it is not reported as a coroutine never awaited (closing one that ran does nothing).
        task.add_done_callback(lambda _: notification.close())


def _rpc(exc: McpServerError) -> MCPError:
    """An upstream's failure as the JSON-RPC error the caller gets: the server's own code when it answered
    one, else an internal error; the message names the server."""
    return MCPError(exc.code if exc.kind == "error" and exc.code else types.INTERNAL_ERROR, str(exc))


async def _quietly(notification: Any) -> None:
    with contextlib.suppress(Exception):  # a client gone meanwhile
        await asyncio.wait_for(notification, 5)


def _unavailable(errors: dict[str, str]) -> dict[str, Any] | None:
    """Servers that could not answer a listing, named in the result's `_meta` (the rest is listed)."""
    return {"babelgate/unavailable": errors} if errors else None


def _rpc_error(code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}


def _base_url(scope: Scope) -> str:
    host = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"host"), None)
    if host is None:
        server = scope.get("server") or ("localhost", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}"


async def _json(send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
