"""OpenAI tools, tool_choice and response_format → Anthropic tools, tool_choice, output_config (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from babelgate.errors import UnsupportedCapability
from babelgate.providers.anthropic.wire import JSON_TOOL_NAME
from babelgate.providers.hosted_tools import tool_path
from babelgate.schema.chat import JSON, NamedToolChoice, ResponseFormat, Tool, ToolChoice

PROVIDER = "anthropic"
WEB_SEARCH: Final = "web_search"
WEB_SEARCH_TOOL: Final = "web_search_20250305"  # Anthropic's web search server tool, current version
# ANT user_location_param.py: `type` is required ("approximate"); OpenAI's web_search leaves it optional.
_LOCATION_FIELDS: Final = ("city", "region", "country", "timezone")
JSON_OBJECT_INSTRUCTION: Final = "Respond with a single valid JSON object and nothing else."

# JSON Schema keywords Anthropic's structured outputs do not support (structured-outputs docs):
# numeric and length constraints and object/array size limits. The model still sees descriptions.
_UNSUPPORTED_SCHEMA_KEYWORDS: Final = frozenset(
    {
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "maxItems",
        "minProperties",
        "maxProperties",
        "pattern",
    }
)


def tools_to_wire(tools: list[Tool], adjusted: list[str], positions: Sequence[int] | None = None) -> list[JSON]:
    """`positions`: where each tool stood in the client's request (`CallNotes.tool_positions`)."""
    wire: list[JSON] = []
    # Anthropic refuses two tools of one name: one search tool, and none beside a function of its name. Asked
    # at the first search tool (None: not yet), not of every request with tools.
    searching: bool | None = None
    for index, tool in enumerate(tools):
        if tool.type == WEB_SEARCH:
            if searching is None:
                searching = any(other.type == "function" and other.name == WEB_SEARCH for other in tools)
            if searching:
                adjusted.append(f"{tool_path(index, positions)}=dropped")
            else:
                wire.append(_web_search(tool, tool_path(index, positions), adjusted))
                searching = True
            continue
        if tool.type != "function":
            raise UnsupportedCapability(
                provider=PROVIDER, capability=f"{tool.type} tools", param=tool_path(index, positions)
            )
        entry: JSON = {"name": tool.name}
        if tool.description:
            entry["description"] = tool.description
        entry["input_schema"] = tool.parameters if tool.parameters else _empty_schema()
        if tool.strict is not None:
            entry["strict"] = tool.strict
        if "cache_control" in tool.extra:
            entry["cache_control"] = tool.extra["cache_control"]
        wire.append(entry)
    return wire


def _web_search(tool: Tool, path: str, adjusted: list[str]) -> JSON:
    """A hosted `web_search` (Responses API options) → Anthropic's web search server tool: the
    user's location and the allowed domains have a field there; search_context_size,
    external_web_access and search_content_types have none and are reported."""
    entry: JSON = {"type": WEB_SEARCH_TOOL, "name": WEB_SEARCH}
    for name, value in tool.extra.items():
        if name == "user_location" and isinstance(value, dict):
            entry["user_location"] = _location(value, f"{path}.user_location", adjusted)
        elif name == "filters" and isinstance(value, dict):
            for key, item in value.items():
                if key == "allowed_domains" and isinstance(item, list):
                    if item:  # an empty list filters nothing, as no list does
                        entry["allowed_domains"] = item
                elif item is not None:
                    adjusted.append(f"{path}.filters.{key}=dropped")
        elif value is not None:
            adjusted.append(f"{path}.{name}=dropped")
    return entry


def _location(location: JSON, path: str, adjusted: list[str]) -> JSON:
    out: JSON = {"type": "approximate"}
    for key, value in location.items():
        if key in _LOCATION_FIELDS and (value is None or isinstance(value, str)):
            out[key] = value
        elif key != "type" and value is not None:
            adjusted.append(f"{path}.{key}=dropped")
    return out


def tool_choice_to_wire(choice: ToolChoice | None, parallel: bool | None) -> JSON | None:
    wire: JSON | None
    if choice is None:
        wire = None
    elif isinstance(choice, NamedToolChoice):
        if choice.type != "function":
            raise UnsupportedCapability(provider=PROVIDER, capability="custom tools", param="tool_choice")
        wire = {"type": "tool", "name": choice.name}
    elif choice == "auto":
        wire = {"type": "auto"}
    elif choice == "none":
        wire = {"type": "none"}
    elif choice == "required":
        wire = {"type": "any"}
    else:
        raise UnsupportedCapability(provider=PROVIDER, capability="this tool_choice", param="tool_choice")
    if parallel is False:
        wire = wire or {"type": "auto"}
        if wire["type"] != "none":
            wire["disable_parallel_tool_use"] = True
    return wire


def _empty_schema() -> JSON:
    return {"type": "object", "properties": {}}  # a fresh dict: bodies may be edited later


def forces_tool_use(choice: JSON | None) -> bool:
    return choice is not None and choice["type"] in ("any", "tool")


def json_tool(response_format: ResponseFormat) -> JSON:
    """The forced single tool that carries structured output on models without native support."""
    return {
        "name": JSON_TOOL_NAME,
        "description": response_format.description or "Return the answer as this tool's input.",
        "input_schema": response_format.schema or _empty_schema(),
    }


def native_schema(schema: Any, adjusted: list[str]) -> Any:
    """The schema Anthropic's structured outputs accept: closed objects, no numeric or length limits."""
    removed: set[str] = set()
    result = _sanitize(schema, removed)
    if removed:
        adjusted.append(f"response_format=schema_keywords_dropped:{','.join(sorted(removed))}")
    return result


def _sanitize(node: Any, removed: set[str]) -> Any:
    if isinstance(node, list):
        return [_sanitize(item, removed) for item in node]
    if not isinstance(node, dict):
        return node
    out: JSON = {}
    for key, value in node.items():
        if key in _UNSUPPORTED_SCHEMA_KEYWORDS or (key == "minItems" and isinstance(value, int) and value > 1):
            removed.add(key)
        elif key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(value, dict):
            out[key] = {name: _sanitize(sub, removed) for name, sub in value.items()}
        else:
            out[key] = _sanitize(value, removed)
    if out.get("type") == "object" and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out
