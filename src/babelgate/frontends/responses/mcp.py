"""The Responses `mcp` tool on a translated road: the gateway runs the tool loop (tool_loop/) and
answers with the items OpenAI answers with — `mcp_list_tools`, `mcp_call`, `mcp_approval_request` —
and takes the client's `mcp_approval_response` items back.

A tool's server is its `server_url` (the gateway connects with the `mcp` SDK, sending the tool's
`headers` and `authorization`), or, without a URL, the configured server whose name is the
`server_label` (`mcp_servers:`). `allowed_tools` (a list of names, or `{"tool_names": [...]}`)
filters what the model is offered; `require_approval` is `always` (OpenAI's default), `never`, or
`{"always": {"tool_names": [...]}, "never": {"tool_names": [...]}}`.

The tools are listed once per conversation, as OpenAI does: a conversation whose earlier output has an
`mcp_list_tools` item for a label reuses it and lists nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from babelgate.errors import InvalidRequest
from babelgate.frontends.responses import wire
from babelgate.frontends.responses.wire import JSON
from babelgate.schema.chat import ChatRequest, Message, ToolCall
from babelgate.tool_loop import request as setup
from babelgate.tool_loop.loop import (
    ApprovalRequested,
    LoopEvent,
    Outcome,
    Said,
    Server,
    Toolbox,
    ToolCalled,
    ToolsListed,
    approved_calls,
    chat_name,
    continued,
    with_tools,
)
from babelgate.tool_loop.servers import ListedTool, ToolServer

if TYPE_CHECKING:
    from babelgate.call import Call
    from babelgate.mcp.aggregate import Access
    from babelgate.routing.registry import Deployment
    from babelgate.runtime import Runtime

MCP: str = "mcp"


def mcp_tools(body: JSON) -> list[JSON]:
    return [tool for tool in body.get("tools") or () if isinstance(tool, dict) and tool.get("type") == MCP]


def validate_mcp_tool(tool: JSON, path: str) -> None:
    label = tool.get("server_label")
    if not isinstance(label, str) or not label:
        raise InvalidRequest("wrong_type", param=f"{path}.server_label", expected="a non-empty string")
    for name in ("server_url", "authorization", "connector_id"):
        if tool.get(name) is not None and not isinstance(tool[name], str):
            raise InvalidRequest("wrong_type", param=f"{path}.{name}", expected="a string")
    headers = tool.get("headers")
    if headers is not None and (
        not isinstance(headers, dict) or not all(isinstance(value, str) for value in headers.values())
    ):
        raise InvalidRequest("wrong_type", param=f"{path}.headers", expected="an object of strings")
    _names(tool.get("allowed_tools"), f"{path}.allowed_tools")
    approval = tool.get("require_approval")
    if approval is None or approval in ("always", "never"):
        return
    if not isinstance(approval, dict):
        raise InvalidRequest(
            "invalid_value", param=f"{path}.require_approval", detail="expected always, never or an object"
        )
    for name in ("always", "never"):
        _names(approval.get(name), f"{path}.require_approval.{name}")


def _names(value: Any, path: str) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("tool_names")
        if value is None:
            return None
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise InvalidRequest("wrong_type", param=path, expected="an array of tool names")
    return frozenset(value)


def _approval(setting: Any) -> Any:
    if setting == "never":
        return lambda _name: False
    if setting is None or setting == "always":
        return lambda _name: True
    always = _names(setting.get("always"), "") or frozenset()
    never = _names(setting.get("never"), "")
    # Named in `never` (and not in `always`): no approval. Any other tool: approval (when in doubt, ask).
    return lambda name: name in always or never is None or name not in never


def _server(runtime: Runtime, caller: Access, tool: JSON, index: int) -> ToolServer:
    headers = dict(tool.get("headers") or {})
    if tool.get("authorization"):
        headers["Authorization"] = f"Bearer {tool['authorization']}"
    url = tool.get("server_url")
    field = "server_url" if url else "server_label"
    return setup.server(
        runtime, caller, url=url, name=tool["server_label"], headers=headers, param=f"tools[{index}].{field}"
    )


@dataclass(slots=True)
class McpTurn:
    """The MCP part of one response: its toolbox, and the events before the first model turn (lists,
    approved calls), which come first in the output."""

    toolbox: Toolbox
    opening: list[LoopEvent] = field(default_factory=list)
    outcome: Outcome = field(default_factory=Outcome)


async def prepare_mcp(
    runtime: Runtime,
    body: JSON,
    conversation: list[JSON],
    items: list[JSON],
    request: ChatRequest,
    *,
    call: Call | None,
    deployment: Deployment,
    stream: bool,
) -> tuple[McpTurn, ChatRequest] | None:
    """The request's toolbox opened, its functions added to `request`, approved calls run and replayed;
    None when the body has no `mcp` tool."""
    tools = mcp_tools(body)
    if not tools:
        return None
    limit = body.get("max_tool_calls")
    bounds = setup.bounds(runtime, limit if isinstance(limit, int) else None)
    caller = setup.access(runtime, call.virtual_key if call is not None else None)
    servers = []
    for index, tool in enumerate(body["tools"]):
        if tool.get("type") == MCP:
            servers.append(
                Server(
                    tool["server_label"],
                    _server(runtime, caller, tool, index),
                    _names(tool.get("allowed_tools"), ""),
                    _approval(tool.get("require_approval")),
                )
            )
    turn = McpTurn(setup.toolbox(runtime, servers, bounds, call, deployment, streamed=stream))
    earlier = _listed_before(conversation)
    try:
        for server in servers:
            if server.label in earlier:
                turn.toolbox.restore(server, earlier[server.label])
        fresh = Toolbox([server for server in servers if server.label not in earlier], bounds)
        for listed in await fresh.open():
            turn.opening.append(listed)
            found = turn.toolbox.find(listed.label)
            if found is not None and listed.error is None:
                turn.toolbox.restore(found, listed.tools)
        request = with_tools(request, turn.toolbox)
        decisions = _decisions(conversation, items)
        if decisions:
            events, replay = await approved_calls(turn.toolbox, decisions)
            turn.opening.extend(events)
            assistant = Message("assistant", None, tool_calls=[call for call, _ in replay])
            request = continued(request, assistant, [result for _, result in replay])
    except BaseException:
        await turn.toolbox.aclose()
        raise
    return turn, request


def _listed_before(conversation: list[JSON]) -> dict[str, list[ListedTool]]:
    listed: dict[str, list[ListedTool]] = {}
    for item in conversation:
        if item.get("type") == "mcp_list_tools" and not item.get("error"):
            listed[item["server_label"]] = [
                ListedTool(
                    tool["name"], tool.get("input_schema") or {}, tool.get("description"), tool.get("annotations")
                )
                for tool in item.get("tools") or ()
            ]
    return listed


def _decisions(conversation: list[JSON], items: list[JSON]) -> list[tuple[ApprovalRequested, str, bool, str | None]]:
    answers = [item for item in items if item.get("type") == "mcp_approval_response"]
    if not answers:
        return []
    requests = {item["id"]: item for item in (*conversation, *items) if item.get("type") == "mcp_approval_request"}
    decisions = []
    for index, answer in enumerate(items):
        if answer.get("type") != "mcp_approval_response":
            continue
        request_id = answer.get("approval_request_id")
        request = requests.get(request_id) if isinstance(request_id, str) else None
        if request is None:
            raise InvalidRequest(
                "invalid_value",
                param=f"input[{index}].approval_request_id",
                detail="names no mcp_approval_request of this conversation",
            )
        asked = ApprovalRequested(request["id"], request["server_label"], request["name"], request["arguments"])
        decisions.append((asked, request["id"], answer.get("approve") is True, answer.get("reason")))
    return decisions


# -- items ------------------------------------------------------------------------------------------


def tool_wire(tool: ListedTool) -> JSON:
    return {
        "name": tool.name,
        "input_schema": tool.input_schema,
        "description": tool.description,
        "annotations": tool.annotations,
    }


def list_item(item_id: str, event: ToolsListed) -> JSON:
    item: JSON = {
        "id": item_id,
        "type": "mcp_list_tools",
        "server_label": event.label,
        "tools": [tool_wire(tool) for tool in event.tools],
    }
    if event.error is not None:
        item["error"] = event.error
    return item


def call_error(event: ToolCalled) -> JSON | None:
    if event.error is not None:
        return {"type": "mcp_protocol_error", "code": event.error.code, "message": event.error.message}
    if event.is_error:
        return {"type": "mcp_tool_execution_error", "content": event.content}
    return None


def call_item(item_id: str, event: ToolCalled, status: str | None = None) -> JSON:
    error = call_error(event)
    return {
        "id": item_id,
        "type": "mcp_call",
        "server_label": event.label,
        "name": event.name,
        "arguments": event.arguments,
        "output": event.output if status != "in_progress" else None,
        "error": error if status != "in_progress" else None,
        "status": status or ("failed" if error is not None else "completed"),
        "approval_request_id": event.approval_request_id,
    }


def approval_item(item_id: str, event: ApprovalRequested) -> JSON:
    return {
        "id": item_id,
        "type": "mcp_approval_request",
        "server_label": event.label,
        "name": event.name,
        "arguments": event.arguments,
    }


def event_item(event: LoopEvent) -> JSON:
    """An event as a finished output item (the non-streaming answer)."""
    if isinstance(event, ToolsListed):
        return list_item(wire.new_id(wire.MCP_LIST_PREFIX), event)
    if isinstance(event, ToolCalled):
        return call_item(wire.new_id(wire.MCP_CALL_PREFIX), event)
    if isinstance(event, Said):
        return wire.message_item(wire.new_id(wire.MESSAGE_PREFIX), [wire.text_part(event.text)], "completed")
    return approval_item(wire.new_id(wire.MCP_APPROVAL_PREFIX), event)


def replayed_call(item: JSON) -> tuple[ToolCall, Message]:
    """An `mcp_call` item of the conversation as what the model saw (its call, and its result's message)."""
    call = ToolCall(item["id"], chat_name(item["server_label"], item["name"]), item.get("arguments") or "{}")
    error = item.get("error")
    output = item.get("output")
    if output is None and error is not None:
        output = f"Error calling the tool: {error.get('message') if isinstance(error, dict) else error}"
    return call, Message("tool", output or "", tool_call_id=item["id"])


INCOMPLETE_LIMIT: JSON = {"reason": "max_tool_calls"}
