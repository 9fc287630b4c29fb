"""Responses ⇄ chat: a create body and its conversation become the canonical `ChatRequest` they
mean, and a canonical chat answer folds back into output items and a response resource.

The body has passed the Responses validation (validate.py), which refuses everything the chat
validation would (test_responses_chat_check.py proves it on mutated bodies), and the stored items
of earlier turns have passed it again as they were read (turn.stored_conversation). Pure
functions, golden-tested.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from babelgate.errors import InvalidRequest
from babelgate.frontends.responses import wire
from babelgate.frontends.responses.compaction import read_compaction
from babelgate.frontends.responses.mcp import mcp_tools, replayed_call
from babelgate.frontends.responses.reasoning import (
    ENCRYPTED_CONTENT,
    REASONING_DETAILS,
    ReasoningSeal,
    ReasoningState,
)
from babelgate.frontends.responses.tools import ToolNames, chat_call_name, chat_tools
from babelgate.frontends.responses.wire import JSON
from babelgate.schema.chat import (
    ChatRequest,
    ChatResponse,
    ContentPart,
    FilePart,
    ImagePart,
    Message,
    NamedToolChoice,
    ResponseFormat,
    TextPart,
    ToolCall,
    ToolChoice,
)

# Responses fields that keep their name and meaning on a chat request: fields of ChatRequest, and
# fields an OpenAI upstream reads under the same name (extra fields, each provider's to take or report).
_SAME_FIELDS: Final = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "parallel_tool_calls", "user")
_SAME_EXTRA_FIELDS: Final = ("safety_identifier", "prompt_cache_key", "service_tier")
# Fields the Responses frontend reads itself (turn.py, resource.py, validate.py); every other field
# a client sends is dropped and reported (the tolerant reader, docs/api.md): client metadata, cache
# settings, context-management hints, fields newer than the gateway.
_READ_FIELDS: Final = frozenset(
    {
        *_SAME_FIELDS,
        *_SAME_EXTRA_FIELDS,
        "model",
        "input",
        "instructions",
        "previous_response_id",
        "store",
        "stream",
        "include",
        "tools",
        "tool_choice",
        "max_output_tokens",
        "reasoning",
        "text",
        "metadata",
        "top_logprobs",
        "background",
        "conversation",
        "prompt",
    }
)
# `include` values the translated road honours.
_INCLUDES: Final = frozenset({ENCRYPTED_CONTENT})
_IMAGE_DETAIL_DEFAULT = "auto"


def normalize_input(value: Any) -> list[JSON]:
    """The request's input as items, each with an id (what `GET …/input_items` lists)."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": value}]}]
    items = []
    for item in value:
        kind = item.get("type", "message")
        normalized = {**item, "type": kind, "id": item.get("id") or wire.new_id(wire.ITEM_PREFIXES[kind])}
        if kind in ("message", "function_call", "function_call_output"):
            normalized["status"] = item.get("status") or "completed"
        if kind == "message" and isinstance(normalized.get("content"), str):
            text = normalized["content"]
            normalized["content"] = [
                wire.text_part(text) if normalized["role"] == "assistant" else {"type": "input_text", "text": text}
            ]
        items.append(normalized)
    return items


def chat_request(
    body: JSON,
    conversation: list[JSON],
    items: list[JSON],
    adjusted: list[str],
    *,
    reasoning: Mapping[int, ReasoningState] | None = None,
) -> tuple[ChatRequest, ToolNames]:
    """The chat request for `body`, continuing `conversation` (earlier turns' items) with `items`,
    and the names its tool calls come back under. What it drops is appended to `adjusted`;
    `reasoning` is the opened state of reasoning items, by position in conversation + items.

    `instructions` apply to this turn only, as OpenAI defines them: they are never stored in the
    conversation."""
    messages: list[Message] = []
    if body.get("instructions"):
        messages.append(Message("system", body["instructions"]))
    _check_tool_outputs(conversation, items)
    # One pass over both, so calls that continue the previous turn join its assistant message.
    messages.extend(chat_messages([*conversation, *items], reasoning))
    if not messages:
        raise InvalidRequest("empty_input", param="input")
    request = ChatRequest(body["model"], messages)
    for name in _SAME_FIELDS:
        if body.get(name) is not None:
            setattr(request, name, body[name])
    for name in _SAME_EXTRA_FIELDS:
        if body.get(name) is not None:
            request.extra[name] = body[name]
    request.max_tokens = body.get("max_output_tokens")
    request.reasoning_effort = (body.get("reasoning") or {}).get("effort")
    text = body.get("text") or {}
    if text.get("format") is not None:
        request.response_format = _response_format(text["format"])
    if text.get("verbosity") is not None:
        request.extra["verbosity"] = text["verbosity"]
    names = ToolNames()
    if body.get("tools"):
        request.tools, names = chat_tools(body["tools"], adjusted)
    if body.get("tool_choice") is not None:
        request.tool_choice = _tool_choice(body["tool_choice"])
    _report_unread(body, adjusted)
    return request, names


def _report_unread(body: JSON, adjusted: list[str]) -> None:
    if body.keys() <= _READ_FIELDS and not body.get("include"):  # in C: nothing the gateway does not read
        return
    for name, value in body.items():
        if name not in _READ_FIELDS and value is not None:
            if name == "truncation" and value == "disabled":
                continue  # what the gateway does anyway
            if name == "max_tool_calls" and mcp_tools(body):
                continue  # bounds the gateway's MCP tool loop (mcp.py); without MCP tools it has no meaning here
            adjusted.append(f"{name}=dropped")
    for index, value in enumerate(body.get("include") or ()):
        if value not in _INCLUDES:
            adjusted.append(f"include[{index}]=dropped")


def chat_messages(items: list[JSON], reasoning: Mapping[int, ReasoningState] | None = None) -> list[Message]:
    """Items → chat messages. A reasoning item whose state was opened (`reasoning`, by position)
    goes onto the assistant message that follows it; other reasoning items are not replayed (Gemini
    carries its signatures in tool-call ids, tool_ids.py)."""
    messages: list[Message] = []
    pending: ReasoningState | None = None
    for position, item in enumerate(items):
        kind = item.get("type", "message")
        if kind == "reasoning":
            pending = (reasoning or {}).get(position) or pending
            continue
        if kind == "message":
            message = _message(item)
            if pending is not None and message.role == "assistant":
                pending.attach_to(message)
                pending = None
            messages.append(message)
        elif kind == "function_call":
            call = ToolCall(item["call_id"], chat_call_name(item), item["arguments"])
            # Adjacent calls (and the text before them) are one assistant turn in chat.
            last = messages[-1] if messages else None
            if last is not None and last.role == "assistant" and pending is None:
                if last.tool_calls is None:
                    last.tool_calls = [call]
                else:
                    last.tool_calls.append(call)
            else:
                message = Message("assistant", None, tool_calls=[call])
                if pending is not None:
                    pending.attach_to(message)
                    pending = None
                messages.append(message)
        elif kind == "mcp_call":
            # A call the gateway ran (tool_loop/): the model saw it as a function call and its result.
            call, result = replayed_call(item)
            last = messages[-1] if messages else None
            if last is not None and last.role == "assistant" and pending is None and last.tool_calls is not None:
                last.tool_calls.append(call)
            else:
                messages.append(Message("assistant", None, tool_calls=[call]))
            messages.append(result)
        elif kind == "function_call_output":
            messages.append(Message("tool", _tool_output(item), tool_call_id=item["call_id"]))
        elif kind == "compaction":
            messages.append(Message("system", read_compaction(item["encrypted_content"])))
    return messages


def _message(item: JSON) -> Message:
    role, content = item["role"], item["content"]
    if isinstance(content, str):
        return Message(role, content)
    if role == "assistant":
        text = "".join(part.get("text", "") for part in content if part["type"] != "refusal")
        refusal = "".join(part["refusal"] for part in content if part["type"] == "refusal")
        # Chat has no refusal on a request's assistant message: it travels as an extra field.
        return Message("assistant", text or None, extra={"refusal": refusal} if refusal else {})
    return Message(role, [_part(part) for part in content])


def _part(part: JSON) -> ContentPart:
    kind = part["type"]
    if kind in ("input_text", "output_text"):
        return TextPart(part["text"])
    if kind == "input_image":
        return ImagePart(part["image_url"], part.get("detail") or _IMAGE_DETAIL_DEFAULT)
    return FilePart(part.get("file_data"), part.get("file_id"), part.get("filename"))


def _tool_output(item: JSON) -> str | list[ContentPart]:
    output = item["output"]
    if isinstance(output, str):
        return output
    if all(part["type"] == "input_text" for part in output):
        return "".join(part["text"] for part in output)
    return [_part(part) for part in output]


def _check_tool_outputs(conversation: list[JSON], items: list[JSON]) -> None:
    """Every function_call_output must answer a function_call of the conversation: every provider
    refuses an orphan, and saying so here names the item."""
    outputs = [(index, item) for index, item in enumerate(items) if item.get("type") == "function_call_output"]
    if not outputs:
        return  # most turns answer no tool call: no need to collect the calls
    calls = {item["call_id"] for item in (*conversation, *items) if item.get("type") == "function_call"}
    for index, item in outputs:
        if item["call_id"] not in calls:
            raise InvalidRequest("unmatched_tool_output", param=f"input[{index}].call_id", call_id=item["call_id"])


def _tool_choice(choice: Any) -> ToolChoice:
    if isinstance(choice, str):
        # Validated: none, auto, required, or `any` (Mistral's word for required, one meaning everywhere).
        return "required" if choice == "any" else choice  # type: ignore[return-value]
    if choice["type"] == "function":
        return NamedToolChoice(choice["name"])
    tools = [{"type": "function", "function": {"name": tool["name"]}} for tool in choice["tools"]]
    return {"type": "allowed_tools", "allowed_tools": {"mode": choice.get("mode", "auto"), "tools": tools}}


def _response_format(fmt: JSON) -> ResponseFormat:
    if fmt["type"] != "json_schema":
        return ResponseFormat(fmt["type"])
    return ResponseFormat(
        "json_schema",
        name=fmt.get("name"),
        schema=fmt.get("schema"),
        strict=fmt.get("strict"),
        description=fmt.get("description"),
    )


# -- answers -----------------------------------------------------------------------------------


def output_items(
    response: ChatResponse, names: ToolNames | None = None, seal: ReasoningSeal | None = None
) -> list[JSON]:
    """Reasoning, then the message, then the calls: the order the model produced them in. With
    `seal`, the reasoning item carries the provider's state sealed in `encrypted_content`."""
    message = response.choices[0].message if response.choices else None
    if message is None:
        return []
    items: list[JSON] = []
    details = message.extra.get(REASONING_DETAILS) or []
    if message.reasoning_content or (seal is not None and details):
        sealed = seal.seal(message.reasoning_content, details) if seal is not None else None
        items.append(wire.reasoning_item(wire.new_id(wire.REASONING_PREFIX), message.reasoning_content, sealed))
    content = []
    if message.content:
        content.append(wire.text_part(message.content))
    if message.refusal:
        content.append(wire.refusal_part(message.refusal))
    if content:
        items.append(wire.message_item(wire.new_id(wire.MESSAGE_PREFIX), content, "completed"))
    names = names or ToolNames()
    for call in message.tool_calls or ():
        name, namespace = names.client_name(call.name)
        items.append(
            wire.function_call_item(
                wire.new_id(wire.FUNCTION_CALL_PREFIX), call.id, name, call.arguments, "completed", namespace
            )
        )
    return items


def outcome(finish_reason: str | None) -> tuple[str, JSON | None]:
    """Status and incomplete_details for a chat finish reason."""
    if finish_reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish_reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None
