"""Messages ⇄ chat (pure): a Messages request becomes the canonical `ChatRequest` it means, checked as it
is read (errors name Messages paths), a canonical chat answer becomes a Messages `Message`, and gateway
errors take Anthropic's error shape.

Everything a Messages request says is carried, reported (`x-babelgate-adjusted-params`) when
dropped, or refused by name when dropping it would change the answer (docs/anthropic-messages.md).
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from babelgate.errors import GatewayError, InvalidRequest, UpstreamProtocolError
from babelgate.frontends.anthropic_messages import wire
from babelgate.frontends.anthropic_messages.translate_content import Shaping, optional_string, string, unsupported
from babelgate.frontends.anthropic_messages.translate_messages import chat_messages
from babelgate.frontends.anthropic_messages.wire import JSON
from babelgate.frontends.openai_validation import (
    INTEGER_RANGES,
    NUMBER_RANGES,
    TOOL_NAME,
    expect_number,
    expect_object,
    json_schema_object,
    require_model,
)
from babelgate.i18n import render_message
from babelgate.schema.chat import (
    AssistantMessage,
    ChatRequest,
    ChatResponse,
    NamedToolChoice,
    ResponseFormat,
    Tool,
    ToolCall,
    ToolChoice,
)
from babelgate.streaming import encode_sse_event

# Request fields that need Anthropic's own servers: dropping them would take tools away. (Server-side
# `context_management` only trims what the model sees: it is dropped and reported, like the rest.)
REFUSED_FIELDS: Final = ("container",)
# Request fields read below; any other field is dropped and reported. `betas` is the gateway's
# spelling of the `anthropic-beta` header inside a body (the native road's), nothing to translate.
_READ_FIELDS: Final = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "metadata",
        "tools",
        "tool_choice",
        "thinking",
        "output_config",
        "stream",
        "betas",
        "mcp_servers",  # the MCP connector: run by the gateway (mcp.py)
        *REFUSED_FIELDS,
    }
)
MCP_TOOLSET: Final = "mcp_toolset"
_TOOL_FIELDS: Final = frozenset({"type", "name", "description", "input_schema", "strict"})
RESPONSE_FORMAT_NAME: Final = "response"  # chat's json_schema format needs a name; Messages has none


def decode_request(body: JSON, *, adjusted: list[str]) -> ChatRequest:
    """A Messages create body → the chat request it means; what it drops is appended to `adjusted`."""
    shaping = Shaping(adjusted)
    request = chat_request(body, shaping)
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise InvalidRequest("missing_field", param="max_tokens")
    low, high = INTEGER_RANGES["max_tokens"]
    expect_number(max_tokens, "max_tokens", low, high, integer=True)
    request.max_tokens = max_tokens
    return request


def chat_request(body: JSON, shaping: Shaping) -> ChatRequest:
    """Everything but `max_tokens` (which count_tokens bodies do not have)."""
    request = ChatRequest(require_model(body), chat_messages(body, shaping))
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("wrong_type", param="stream", expected="a boolean")
    temperature = body.get("temperature")
    if temperature is not None:  # chat's range (0 to 2): a provider that takes less says so itself
        expect_number(temperature, "temperature", *NUMBER_RANGES["temperature"], integer=False)
        request.temperature = temperature
    top_p = body.get("top_p")
    if top_p is not None:
        expect_number(top_p, "top_p", *NUMBER_RANGES["top_p"], integer=False)
        request.top_p = top_p
    top_k = body.get("top_k")
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
            raise InvalidRequest("wrong_type", param="top_k", expected="a non-negative integer")
        request.extra["top_k"] = top_k  # not a chat field: travels as an extra, each provider's to take or report
    stop = body.get("stop_sequences")
    if stop is not None:
        if not isinstance(stop, list) or not all(isinstance(item, str) for item in stop):
            raise InvalidRequest("wrong_type", param="stop_sequences", expected="an array of strings")
        if stop:
            request.stop = stop
    metadata = body.get("metadata")
    if metadata is not None:
        user = optional_string(expect_object(metadata, "metadata"), "user_id", "metadata")
        if user:
            request.user = user
    _tools(body, request, shaping)
    _reasoning(body, request, shaping)
    for name in REFUSED_FIELDS:
        if body.get(name) is not None:
            raise unsupported(name, "a feature of Anthropic's servers")
    for name, value in body.items():
        if name not in _READ_FIELDS and value is not None:
            shaping.drop(name)
    return request


def _tools(body: JSON, request: ChatRequest, shaping: Shaping) -> None:
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise InvalidRequest("wrong_type", param="tools", expected="an array")
        chat_tools = [
            _tool(tool, f"tools[{index}]", shaping)
            for index, tool in enumerate(tools)
            if not (isinstance(tool, dict) and tool.get("type") == MCP_TOOLSET)  # the connector's (mcp.py)
        ]
        if chat_tools:
            request.tools = chat_tools
    choice = body.get("tool_choice")
    if choice is None:
        return
    choice = expect_object(choice, "tool_choice")
    kind = choice.get("type")
    mapped: ToolChoice
    if kind == "auto":
        mapped = "auto"
    elif kind == "any":
        mapped = "required"
    elif kind == "none":
        mapped = "none"
    elif kind == "tool":
        mapped = NamedToolChoice(string(choice, "name", "tool_choice"))
    else:
        raise InvalidRequest("invalid_value", param="tool_choice.type", detail="expected auto, any, tool or none")
    disable_parallel = choice.get("disable_parallel_tool_use")
    if disable_parallel is not None and not isinstance(disable_parallel, bool):
        raise InvalidRequest("wrong_type", param="tool_choice.disable_parallel_tool_use", expected="a boolean")
    if request.tools is None:
        if kind in ("any", "tool"):
            raise InvalidRequest("invalid_value", param="tool_choice", detail="forcing tool use needs `tools`")
        return  # auto or none without tools says nothing (and chat upstreams refuse a lone tool_choice)
    request.tool_choice = mapped
    if disable_parallel and kind != "none":
        request.parallel_tool_calls = False


def _tool(tool: Any, path: str, shaping: Shaping) -> Tool:
    tool = expect_object(tool, path)
    kind = tool.get("type")
    if kind not in (None, "custom"):
        hosted = _hosted_tool(kind, tool)
        if hosted is None:
            # Client tools Anthropic defines (bash, text editor, computer, memory) have no schema to give
            # another model, and their calls would come back under names it never learnt.
            raise unsupported(f"{path}.type", f"Anthropic's '{kind}' tool")
        return hosted
    name = string(tool, "name", path)
    if not TOOL_NAME.fullmatch(name):
        raise InvalidRequest("invalid_tool_name", param=f"{path}.name")
    description = optional_string(tool, "description", path)
    if tool.get("input_schema") is None:
        raise InvalidRequest("missing_field", param=f"{path}.input_schema")
    parameters = expect_object(tool["input_schema"], f"{path}.input_schema")
    json_schema_object(parameters, f"{path}.input_schema")
    strict = tool.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise InvalidRequest("wrong_type", param=f"{path}.strict", expected="a boolean")
    for key, value in tool.items():
        if key not in _TOOL_FIELDS and value is not None:
            shaping.drop(key)  # cache_control, eager_input_streaming, defer_loading…: Anthropic's server features
    return Tool(name, description=description, parameters=parameters, strict=strict)


def _hosted_tool(kind: Any, tool: JSON) -> Tool | None:
    """A server tool (Anthropic runs it) as the hosted tool the one call path maps to the provider's
    own or drops (docs/api.md, tolerant reader); None for a client tool."""
    if not isinstance(kind, str):
        return None
    hosted = next((name for prefix, name in wire.SERVER_TOOLS.items() if kind.startswith(prefix)), None)
    if hosted is None:
        return None
    options: JSON = {}
    if hosted == "web_search":
        if isinstance(tool.get("user_location"), dict):
            options["user_location"] = tool["user_location"]  # the same `approximate` shape in both APIs
        if isinstance(tool.get("allowed_domains"), list):
            options["filters"] = {"allowed_domains": tool["allowed_domains"]}
    return Tool(hosted, type=hosted, extra=options)


def _reasoning(body: JSON, request: ChatRequest, shaping: Shaping) -> None:
    """`thinking` and `output_config` → reasoning_effort and response_format (wire.py has the tables)."""
    effort: str | None = None
    thinking = body.get("thinking")
    disabled = False
    if thinking is not None:
        thinking = expect_object(thinking, "thinking")
        kind = thinking.get("type")
        if kind == "enabled":
            budget = thinking.get("budget_tokens")
            if isinstance(budget, bool) or not isinstance(budget, int):
                raise InvalidRequest("wrong_type", param="thinking.budget_tokens", expected="an integer")
            effort = wire.budget_effort(budget)
        elif kind == "disabled":
            disabled = True
        elif kind != "adaptive":  # adaptive: the model decides, unless output_config.effort says more
            raise InvalidRequest(
                "invalid_value", param="thinking.type", detail="expected enabled, adaptive or disabled"
            )
    config = body.get("output_config")
    if config is not None:
        config = expect_object(config, "output_config")
        level = config.get("effort")
        if level is not None:
            if not isinstance(level, str) or level not in wire.ADAPTIVE_EFFORTS:
                raise InvalidRequest(
                    "invalid_value",
                    param="output_config.effort",
                    detail=f"expected one of {', '.join(wire.ADAPTIVE_EFFORTS)}",
                )
            if disabled:
                shaping.drop("output_config.effort")  # thinking off wins: no reasoning is asked for
            elif effort is None:
                effort = wire.ADAPTIVE_EFFORTS[level]
        fmt = config.get("format")
        if fmt is not None:
            fmt = expect_object(fmt, "output_config.format")
            if fmt.get("type") != "json_schema":
                raise InvalidRequest("invalid_value", param="output_config.format.type", detail="expected json_schema")
            schema = expect_object(fmt.get("schema"), "output_config.format.schema")
            request.response_format = ResponseFormat("json_schema", name=RESPONSE_FORMAT_NAME, schema=schema)
        for name, value in config.items():
            if name not in ("effort", "format") and value is not None:
                shaping.drop(f"output_config.{name}")
    if effort is not None:
        request.reasoning_effort = effort


# -- answers -----------------------------------------------------------------------------------


def encode_response(response: ChatResponse, *, message_id: str, model: str, provider: str) -> JSON:
    choice = response.choices[0] if response.choices else None
    message = choice.message if choice is not None else AssistantMessage()
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content_blocks(message, provider),
        "stop_reason": stop_reason(
            choice.finish_reason if choice else None, tool_use=bool(message.tool_calls), refusal=bool(message.refusal)
        ),
        "stop_sequence": None,
        "usage": wire.usage_to_wire(response.usage),
    }


def content_blocks(message: AssistantMessage, provider: str) -> list[JSON]:
    """Thinking, then the text, then the tool calls: the order Claude answers in."""
    blocks: list[JSON] = []
    if message.reasoning_content:
        # No signature to give: an empty one says so (the native road never sends such a block to Claude).
        blocks.append({"type": "thinking", "thinking": message.reasoning_content, "signature": ""})
    text = (message.content or "") + (message.refusal or "")
    if text:
        blocks.append({"type": "text", "text": text})
    for call in message.tool_calls or ():
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": tool_input(call, provider)})
    return blocks


def tool_input(call: ToolCall, provider: str) -> JSON:
    """A call's arguments as the object Messages clients expect (they cannot take broken JSON)."""
    if not call.arguments.strip():
        return {}
    try:
        arguments = orjson.loads(call.arguments)
    except orjson.JSONDecodeError:
        arguments = None
    if not isinstance(arguments, dict):
        raise UpstreamProtocolError(
            provider=provider, detail=f"the arguments of tool call {call.id} are not a JSON object"
        )
    return arguments


def stop_reason(finish_reason: str | None, *, tool_use: bool, refusal: bool) -> str:
    reason = wire.STOP_REASONS.get(finish_reason or "", wire.DEFAULT_STOP_REASON)
    if reason == wire.DEFAULT_STOP_REASON and tool_use:
        return "tool_use"
    if reason == wire.DEFAULT_STOP_REASON and refusal:
        return "refusal"
    return reason


# -- errors ------------------------------------------------------------------------------------


def error_payload(error: GatewayError, language: str) -> JSON:
    """`{"type": "error", "error": {"type", "message"}}` (ANT shared/error_response.py)."""
    kind = wire.error_type(error.status)
    if error.message_key == "invalid_api_key" and error.raw_message is None:
        # The OpenAI wording names only the Bearer header; Anthropic clients send x-api-key.
        error = GatewayError("messages_invalid_api_key")
    return {"type": "error", "error": {"type": kind, "message": render_message(error, language)}}


def encode_error(error: GatewayError, language: str) -> bytes:
    return orjson.dumps(error_payload(error, language))


def encode_stream_error(error: GatewayError, language: str) -> bytes:
    """The `error` event that ends a stream which already began (the SDK raises it)."""
    return encode_sse_event("error", error_payload(error, language))
