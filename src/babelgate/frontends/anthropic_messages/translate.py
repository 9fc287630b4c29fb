"""Messages ⇄ chat (pure): a Messages request becomes an OpenAI chat *body* (so the chat road's model
defaults, validation and decoding apply unchanged, as for the Responses frontend), a canonical chat
answer becomes a Messages `Message`, and gateway errors take Anthropic's error shape.

Everything a Messages request says is carried, reported (`x-babelgate-adjusted-params`) when
dropped, or refused by name when dropping it would change the answer (docs/anthropic-messages.md).
"""

from __future__ import annotations

import math
from typing import Any, Final

import orjson

from babelgate.errors import GatewayError, InvalidRequest, UpstreamProtocolError
from babelgate.frontends.anthropic_messages import wire
from babelgate.frontends.anthropic_messages.translate_content import Shaping, optional_string, string, unsupported
from babelgate.frontends.anthropic_messages.translate_messages import chat_messages
from babelgate.frontends.anthropic_messages.wire import JSON
from babelgate.frontends.openai_validation import expect_object, require_model
from babelgate.i18n import render_message
from babelgate.schema.chat import AssistantMessage, ChatResponse, ToolCall
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
# count_tokens without Anthropic: what one image or document counts for (Anthropic's figure for an
# image of about 1.15 megapixels); its base64 text would count hundreds of times more.
MEDIA_TOKENS: Final = 1600
CHARACTERS_PER_TOKEN: Final = 4
RESPONSE_FORMAT_NAME: Final = "response"  # chat's json_schema format needs a name; Messages has none


def decode_request(body: JSON, *, adjusted: list[str]) -> JSON:
    """A Messages create body → the chat body it means; what it drops is appended to `adjusted`."""
    shaping = Shaping(adjusted)
    chat = chat_body(body, shaping)
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise InvalidRequest("missing_field", param="max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise InvalidRequest("wrong_type", param="max_tokens", expected="an integer")
    chat["max_tokens"] = max_tokens
    return chat


def chat_body(body: JSON, shaping: Shaping) -> JSON:
    """Everything but `max_tokens` (which count_tokens bodies do not have)."""
    chat: JSON = {"model": require_model(body), "messages": chat_messages(body, shaping)}
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("wrong_type", param="stream", expected="a boolean")
    for name in ("temperature", "top_p"):  # same names and meaning; chat validation checks the range
        if body.get(name) is not None:
            chat[name] = body[name]
    top_k = body.get("top_k")
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
            raise InvalidRequest("wrong_type", param="top_k", expected="a non-negative integer")
        chat["top_k"] = top_k  # not a chat field: travels as an extra field, each provider's to take or report
    stop = body.get("stop_sequences")
    if stop is not None:
        if not isinstance(stop, list) or not all(isinstance(item, str) for item in stop):
            raise InvalidRequest("wrong_type", param="stop_sequences", expected="an array of strings")
        if stop:
            chat["stop"] = stop
    metadata = body.get("metadata")
    if metadata is not None:
        user = optional_string(expect_object(metadata, "metadata"), "user_id", "metadata")
        if user:
            chat["user"] = user
    _tools(body, chat, shaping)
    _reasoning(body, chat, shaping)
    for name in REFUSED_FIELDS:
        if body.get(name) is not None:
            raise unsupported(name, "a feature of Anthropic's servers")
    for name, value in body.items():
        if name not in _READ_FIELDS and value is not None:
            shaping.drop(name)
    return chat


def _tools(body: JSON, chat: JSON, shaping: Shaping) -> None:
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
            chat["tools"] = chat_tools
    choice = body.get("tool_choice")
    if choice is None:
        return
    choice = expect_object(choice, "tool_choice")
    kind = choice.get("type")
    mapped: Any
    if kind == "auto":
        mapped = "auto"
    elif kind == "any":
        mapped = "required"
    elif kind == "none":
        mapped = "none"
    elif kind == "tool":
        mapped = {"type": "function", "function": {"name": string(choice, "name", "tool_choice")}}
    else:
        raise InvalidRequest("invalid_value", param="tool_choice.type", detail="expected auto, any, tool or none")
    disable_parallel = choice.get("disable_parallel_tool_use")
    if disable_parallel is not None and not isinstance(disable_parallel, bool):
        raise InvalidRequest("wrong_type", param="tool_choice.disable_parallel_tool_use", expected="a boolean")
    if "tools" not in chat:
        if kind in ("any", "tool"):
            raise InvalidRequest("invalid_value", param="tool_choice", detail="forcing tool use needs `tools`")
        return  # auto or none without tools says nothing (and chat upstreams refuse a lone tool_choice)
    chat["tool_choice"] = mapped
    if disable_parallel and kind != "none":
        chat["parallel_tool_calls"] = False


def _tool(tool: Any, path: str, shaping: Shaping) -> JSON:
    tool = expect_object(tool, path)
    kind = tool.get("type")
    if kind not in (None, "custom"):
        hosted = _hosted_tool(kind, tool)
        if hosted is None:
            # Client tools Anthropic defines (bash, text editor, computer, memory) have no schema to give
            # another model, and their calls would come back under names it never learnt.
            raise unsupported(f"{path}.type", f"Anthropic's '{kind}' tool")
        return hosted
    function: JSON = {"name": string(tool, "name", path)}
    description = optional_string(tool, "description", path)
    if description is not None:
        function["description"] = description
    if tool.get("input_schema") is None:
        raise InvalidRequest("missing_field", param=f"{path}.input_schema")
    function["parameters"] = expect_object(tool["input_schema"], f"{path}.input_schema")
    strict = tool.get("strict")
    if strict is not None:
        if not isinstance(strict, bool):
            raise InvalidRequest("wrong_type", param=f"{path}.strict", expected="a boolean")
        function["strict"] = strict
    for name, value in tool.items():
        if name not in _TOOL_FIELDS and value is not None:
            shaping.drop(name)  # cache_control, eager_input_streaming, defer_loading…: Anthropic's server features
    return {"type": "function", "function": function}


def _hosted_tool(kind: Any, tool: JSON) -> JSON | None:
    """A server tool (Anthropic runs it) as the hosted tool the one call path maps to the provider's
    own or drops (docs/api.md, tolerant reader); None for a client tool."""
    if not isinstance(kind, str):
        return None
    hosted = next((name for prefix, name in wire.SERVER_TOOLS.items() if kind.startswith(prefix)), None)
    if hosted is None:
        return None
    out: JSON = {"type": hosted}
    if hosted == "web_search":
        if isinstance(tool.get("user_location"), dict):
            out["user_location"] = tool["user_location"]  # the same `approximate` shape in both APIs
        if isinstance(tool.get("allowed_domains"), list):
            out["filters"] = {"allowed_domains": tool["allowed_domains"]}
    return out


def _reasoning(body: JSON, chat: JSON, shaping: Shaping) -> None:
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
            chat["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": RESPONSE_FORMAT_NAME, "schema": schema},
            }
        for name, value in config.items():
            if name not in ("effort", "format") and value is not None:
                shaping.drop(f"output_config.{name}")
    if effort is not None:
        chat["reasoning_effort"] = effort


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


def estimate_tokens(chat: JSON) -> int:
    """count_tokens without Anthropic's counter: characters / 4 (rounded up) over the translated
    request's messages and tools as JSON, plus MEDIA_TOKENS per image or document."""
    media = 0
    messages = []
    for message in chat["messages"]:
        content = message.get("content")
        if isinstance(content, list):
            kept = [part for part in content if part.get("type") not in ("image_url", "file")]
            media += len(content) - len(kept)
            message = {**message, "content": kept}
        messages.append(message)
    text = orjson.dumps({"messages": messages, "tools": chat.get("tools") or []}).decode()
    return math.ceil(len(text) / CHARACTERS_PER_TOKEN) + media * MEDIA_TOKENS


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
