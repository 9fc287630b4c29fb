"""Anthropic's MCP connector on a translated road: a Messages request with `mcp_servers` (beta
`mcp-client-2025-04-04` and later) to a model that is not Claude. The gateway runs the tool loop
(tool_loop/) and answers with the connector's blocks: an `mcp_tool_use` and an `mcp_tool_result` per
call, in the order they happened, then the model's answer (streamed and not).

A server is `{"type": "url", "url", "name", "authorization_token", "tool_configuration": {"enabled",
"allowed_tools"}}`; a `url` may be left out to name a configured server (`mcp_servers:` of the
gateway's config). The later beta's `mcp_toolset` tools (`mcp_server_name`, `default_config`,
`configs`) choose the tools the same way. The connector asks no approval (Anthropic's has none); a
loop stopped by its bounds ends with `stop_reason: pause_turn`, as Anthropic's own server-tool loop does.
On the native road to Claude the request goes to Anthropic unchanged (native.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate.errors import InvalidRequest
from babelgate.frontends.anthropic_messages.stream import AnthropicMessagesStreamEncoder
from babelgate.frontends.anthropic_messages.translate import MCP_TOOLSET
from babelgate.frontends.anthropic_messages.wire import JSON
from babelgate.frontends.openai_validation import expect_object
from babelgate.schema.chunks import ChatChunk
from babelgate.tool_loop import request as setup
from babelgate.tool_loop.loop import LoopEvent, Outcome, Said, Server, Toolbox, ToolCalled, ToolsListed

if TYPE_CHECKING:
    from babelgate.call import Call
    from babelgate.routing.registry import Deployment
    from babelgate.runtime import Runtime

PAUSE_TURN: Final = "pause_turn"


def connector(runtime: Runtime, body: JSON, call: Call, deployment: Deployment, *, stream: bool) -> Toolbox | None:
    """The request's servers as a toolbox (not opened yet); None without `mcp_servers`."""
    entries = body.get("mcp_servers")
    if entries is None:
        return None
    if not isinstance(entries, list):
        raise InvalidRequest("wrong_type", param="mcp_servers", expected="an array")
    toolsets = _toolsets(body.get("tools"))
    caller = setup.access(runtime, call.virtual_key)
    servers = []
    for index, entry in enumerate(entries):
        path = f"mcp_servers[{index}]"
        entry = expect_object(entry, path)
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest("wrong_type", param=f"{path}.name", expected="a non-empty string")
        if entry.get("type", "url") != "url":
            raise InvalidRequest("invalid_value", param=f"{path}.type", detail="expected url")
        token = entry.get("authorization_token")
        url = entry.get("url")
        for field, value in (("url", url), ("authorization_token", token)):
            if value is not None and not isinstance(value, str):
                raise InvalidRequest("wrong_type", param=f"{path}.{field}", expected="a string")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        param = f"{path}.url" if url else f"{path}.name"
        server = setup.server(runtime, caller, url=url, name=name, headers=headers, param=param)
        servers.append(Server(name, server, _allowed(entry.get("tool_configuration"), toolsets.get(name), path)))
    return setup.toolbox(runtime, servers, setup.bounds(runtime), call, deployment, streamed=stream)


def _toolsets(tools: Any) -> dict[str, JSON]:
    if not isinstance(tools, list):
        return {}
    return {
        tool["mcp_server_name"]: tool
        for tool in tools
        if isinstance(tool, dict) and tool.get("type") == MCP_TOOLSET and isinstance(tool.get("mcp_server_name"), str)
    }


def _allowed(configuration: Any, toolset: JSON | None, path: str) -> Callable[[str], bool] | frozenset[str] | None:
    if toolset is not None:
        default = (toolset.get("default_config") or {}).get("enabled", True) is not False
        configs = toolset.get("configs") or {}
        return lambda name: (configs.get(name) or {}).get("enabled", default) is not False
    if configuration is None:
        return None
    configuration = expect_object(configuration, f"{path}.tool_configuration")
    if configuration.get("enabled") is False:
        return frozenset()
    allowed = configuration.get("allowed_tools")
    if allowed is None:
        return None
    if not isinstance(allowed, list) or not all(isinstance(name, str) for name in allowed):
        raise InvalidRequest("wrong_type", param=f"{path}.tool_configuration.allowed_tools", expected="an array")
    return frozenset(allowed)


def check_listed(listed: list[ToolsListed]) -> None:
    """A server whose tools cannot be listed fails the request, as Anthropic's connector does (a 400
    naming the server), before any model turn."""
    for index, listing in enumerate(listed):
        if listing.error is not None:
            raise InvalidRequest(
                "invalid_value",
                param=f"mcp_servers[{index}]",
                detail=f"the MCP server {listing.label!r} could not be reached: {listing.error}",
            )


# -- blocks ---------------------------------------------------------------------------------------


def use_block(event: ToolCalled) -> JSON:
    return {
        "type": "mcp_tool_use",
        "id": _block_id(event),
        "name": event.name,
        "server_name": event.label,
        "input": _input(event.arguments),
    }


def result_block(event: ToolCalled) -> JSON:
    failed = event.error is not None or event.is_error
    text = event.error.message if event.error is not None else (event.output or "")
    return {
        "type": "mcp_tool_result",
        "tool_use_id": _block_id(event),
        "is_error": failed,
        "content": [{"type": "text", "text": text}],
    }


def event_blocks(events: list[LoopEvent]) -> list[JSON]:
    """The loop's events as the blocks before the answer's own (the non-streaming answer)."""
    blocks: list[JSON] = []
    for event in events:
        if isinstance(event, Said):
            blocks.append({"type": "text", "text": event.text})
        elif isinstance(event, ToolCalled):
            blocks += [use_block(event), result_block(event)]
    return blocks  # listings are not shown (the 2025-04-04 connector shows none); approvals do not exist here


def _block_id(event: ToolCalled) -> str:
    return event.call_id if event.call_id.startswith("mcptoolu_") else f"mcptoolu_{event.call_id}"


def _input(arguments: str) -> JSON:
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


class ConnectorStreamEncoder(AnthropicMessagesStreamEncoder):
    """The Messages stream with the connector's blocks between the model's turns."""

    def __init__(self, message_id: str, model: str, *, provider: str, outcome: Outcome) -> None:
        super().__init__(message_id, model, provider=provider)
        self.outcome = outcome

    def feed(self, chunk: ChatChunk | LoopEvent) -> bytes:
        if isinstance(chunk, ChatChunk):
            return self.framed(self.events(chunk))
        events: list[JSON] = []
        if isinstance(chunk, ToolCalled):
            use = use_block(chunk)
            block = self._start("mcp_tool_use", {**use, "input": {}}, events)
            delta = {"type": "input_json_delta", "partial_json": chunk.arguments or "{}"}
            events.append({"type": "content_block_delta", "index": block.index, "delta": delta})
            self._start("mcp_tool_result", result_block(chunk), events)
            self._close(events)
        return self.framed(events)

    def finish_events(self) -> list[JSON]:
        events = super().finish_events()
        if self.outcome.limit is not None:
            for event in events:
                if event["type"] == "message_delta":
                    event["delta"]["stop_reason"] = PAUSE_TURN
        return events


def stop_reason_of(outcome: Outcome, reason: str | None) -> str | None:
    return PAUSE_TURN if outcome.limit is not None else reason
