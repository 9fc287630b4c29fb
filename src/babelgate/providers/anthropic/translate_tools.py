"""OpenAI tools, tool_choice and response_format → Anthropic tools, tool_choice, output_config (pure)."""

from __future__ import annotations

from typing import Any, Final

from babelgate.errors import UnsupportedCapability
from babelgate.providers.anthropic.wire import JSON_TOOL_NAME
from babelgate.schema.chat import JSON, NamedToolChoice, ResponseFormat, Tool, ToolChoice

PROVIDER = "anthropic"
WEB_SEARCH: Final = "web_search"
WEB_SEARCH_TOOL: Final = "web_search_20250305"  # Anthropic's web search server tool, current version
_LOCATION_FIELDS: Final = frozenset({"type", "city", "region", "country", "timezone"})
JSON_OBJECT_INSTRUCTION: Final = "Respond with a single valid JSON object and nothing else."

# JSON Schema keywords Anthropic's structured outputs do not support (structured-outputs docs):
# numeric and length constraints and object/array size limits. The model still sees descriptions.
_UNSUPPORTED_SCHEMA_KEYWORDS: Final = frozenset({
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength",
    "maxItems", "minProperties", "maxProperties", "pattern",
})


def tools_to_wire(tools: list[Tool], adjusted: list[str]) -> list[JSON]:
    wire = []
    for index, tool in enumerate(tools):
        if tool.type == WEB_SEARCH:
            wire.append(_web_search(tool, f"tools[{index}]", adjusted))
            continue
        if tool.type != "function":
            raise UnsupportedCapability(provider=PROVIDER, capability=f"{tool.type} tools", param=f"tools[{index}]")
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
    """A hosted `web_search` (Responses API options) → Anthropic's web search server tool."""
    entry: JSON = {"type": WEB_SEARCH_TOOL, "name": WEB_SEARCH}
    for name, value in tool.extra.items():
        if name == "user_location" and isinstance(value, dict):
            entry["user_location"] = {key: item for key, item in value.items() if key in _LOCATION_FIELDS}
        elif name == "filters" and isinstance(value, dict) and isinstance(value.get("allowed_domains"), list):
            entry["allowed_domains"] = value["allowed_domains"]
        elif value is not None:
            adjusted.append(f"{path}.{name}=dropped")  # search_context_size, external_web_access…
    return entry


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
    return {"name": JSON_TOOL_NAME,
            "description": response_format.description or "Return the answer as this tool's input.",
            "input_schema": response_format.schema or _empty_schema()}


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
