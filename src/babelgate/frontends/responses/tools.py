"""Responses tools → chat tools, and the names calls come back under (pure).

Three kinds of tool reach a translated road:
- `function` tools become chat function tools as they are;
- a `namespace` (Codex groups its sub-agent tools in one) has no chat equivalent: its function
  tools are offered flat, each named `<namespace>__<name>`, and a call of such a name comes back
  as OpenAI answers a namespaced call — `name` the function's own, `namespace` beside it — so the
  client sees exactly the names it declared; replayed calls are flattened again the same way;
- every other type is a hosted tool (`web_search`, `file_search`, `code_interpreter`, …): it goes
  into the chat request as a hosted `Tool` with the Responses tool's options, and the one call path
  maps it to the provider's own equivalent or drops it (hosted_tools.py; docs/api.md "tolerant reader").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Final

from babelgate.frontends.responses.wire import JSON
from babelgate.schema.chat import Tool

SEPARATOR: Final = "__"
MAX_NAME: Final = 64  # chat and every provider cap function names at 64 characters


def flat_name(namespace: str, name: str) -> str:
    """The chat name of `name` inside `namespace`; a hash stands in for what passes 64 characters."""
    flat = f"{namespace}{SEPARATOR}{name}"
    if len(flat) <= MAX_NAME:
        return flat
    digest = hashlib.sha256(flat.encode()).hexdigest()[:10]
    return f"{flat[: MAX_NAME - len(digest) - 1]}_{digest}"


@dataclass(slots=True)
class ToolNames:
    """Chat names that stand for a namespaced function: flat name → (namespace, name)."""

    namespaced: dict[str, tuple[str, str]] = field(default_factory=dict)

    def client_name(self, chat_name: str) -> tuple[str, str | None]:
        """(name, namespace) as the client declared the tool a chat call names."""
        found = self.namespaced.get(chat_name)
        return (found[1], found[0]) if found is not None else (chat_name, None)


def chat_tools(tools: list[JSON], adjusted: list[str]) -> tuple[list[Tool], ToolNames]:
    """The chat tools for a create body's `tools` (already validated), and how to name calls back."""
    names = ToolNames()
    out: list[Tool] = []
    for index, tool in enumerate(tools):
        kind = tool["type"]
        if kind == "function":
            out.append(function_tool(tool))
        elif kind == "namespace":
            for inner in tool["tools"]:
                flat = flat_name(tool["name"], inner["name"])
                names.namespaced[flat] = (tool["name"], inner["name"])
                out.append(function_tool(inner, flat))
            adjusted.append(f"tools[{index}]=namespace-flattened")
        elif kind == "mcp":
            continue  # the gateway runs MCP tools itself (mcp.py): the model is offered their functions
        else:  # hosted: mapped to the provider's own or dropped (hosted_tools.py)
            out.append(Tool(kind, type=kind, extra={key: value for key, value in tool.items() if key != "type"}))
    return out, names


def function_tool(tool: JSON, name: str | None = None) -> Tool:
    """A function tool, under `name` where it is offered under another (a namespace's, flattened)."""
    return Tool(
        name or tool["name"],
        description=tool.get("description"),
        parameters=tool.get("parameters"),
        strict=tool.get("strict"),
    )


def chat_call_name(item: JSON) -> str:
    """The chat name of a replayed `function_call` item (namespaced calls are flattened again)."""
    namespace = item.get("namespace")
    return flat_name(namespace, item["name"]) if isinstance(namespace, str) and namespace else item["name"]


def echoed_tools(tools: list[Any]) -> list[JSON]:
    """`tools` as the response resource echoes them: function tools with every key, others as sent."""
    return [_echo(tool) for tool in tools]


def _echo(tool: JSON) -> JSON:
    if tool.get("type") == "mcp":
        # An MCP server's credentials are the client's secret: never echoed, never stored (OpenAI
        # answers them redacted too).
        return {
            name: value for name, value in tool.items() if name not in ("authorization", "headers") or value is None
        } | ({"headers": None} if tool.get("headers") else {})
    if tool.get("type") == "function":
        return {
            "type": "function",
            "name": tool["name"],
            "description": tool.get("description"),
            "parameters": tool.get("parameters"),
            "strict": tool.get("strict"),
        }
    return tool
