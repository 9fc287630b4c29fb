"""OpenAI Chat Completions frontend: validated JSON → ChatRequest, ChatResponse/ChatChunk → JSON/SSE.

Used on the typed path (a hook needs the request, or the provider is not OpenAI-compatible); the
fast path forwards the validated JSON instead and never comes here.
"""

from __future__ import annotations

from typing import Any, Literal

from babelgate.errors import GatewayError
from babelgate.frontends.openai_errors import encode_stream_error

# The OpenAI wire shape of a tool call is the same in requests and answers: one encoder serves both.
from babelgate.providers.openai.translate import tool_call_to_wire
from babelgate.schema.chat import (
    JSON,
    AudioPart,
    ChatRequest,
    ChatResponse,
    ContentPart,
    FilePart,
    ImagePart,
    Message,
    NamedToolChoice,
    RefusalPart,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    Usage,
)
from babelgate.schema.chunks import ChatChunk, ToolCallDelta
from babelgate.streaming import SSE_DONE, encode_sse_json

_REQUEST_FIELDS = frozenset(
    {
        "model",
        "messages",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "temperature",
        "top_p",
        "presence_penalty",
        "frequency_penalty",
        "stop",
        "n",
        "seed",
        "max_tokens",
        "max_completion_tokens",
        "stream",
        "stream_options",
        "reasoning_effort",
        "user",
        "metadata",
    }
)
_MESSAGE_FIELDS = frozenset({"role", "content", "name", "tool_calls", "tool_call_id", "reasoning_content"})
_TOOL_FIELDS = frozenset({"name", "description", "parameters", "strict"})


def _unknown(wire: JSON, known: frozenset[str]) -> JSON:
    """The fields of `wire` outside `known`, in their order. Most objects have none, which
    `issuperset` (a loop in C, no allocation) says without a Python loop over every key."""
    if known.issuperset(wire):
        return {}
    return {k: v for k, v in wire.items() if k not in known}


def decode_request(body: JSON) -> ChatRequest:
    """A body already checked by `validate_chat_body` → the canonical request."""
    max_field: Literal["max_tokens", "max_completion_tokens"] = (
        "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
    )
    stop = body.get("stop")
    stream_options = body.get("stream_options") or {}
    extra = _unknown(body, _REQUEST_FIELDS)
    if stream_options and set(stream_options) != {"include_usage"}:
        extra["stream_options"] = stream_options
    return ChatRequest(
        model=body["model"],
        messages=[_message(m) for m in body["messages"]],
        tools=[_tool(t) for t in body["tools"]] if body.get("tools") is not None else None,
        tool_choice=_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=body.get("parallel_tool_calls"),
        response_format=_response_format(body.get("response_format")),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        presence_penalty=body.get("presence_penalty"),
        frequency_penalty=body.get("frequency_penalty"),
        stop=[stop] if isinstance(stop, str) else stop,
        n=body.get("n"),
        seed=body.get("seed"),
        max_tokens=body.get(max_field),
        max_tokens_field=max_field,
        stream=bool(body.get("stream")),
        include_usage=bool(stream_options.get("include_usage")),
        reasoning_effort=body.get("reasoning_effort"),
        user=body.get("user"),
        metadata=body.get("metadata"),
        extra=extra,
    )


def _message(wire: JSON) -> Message:
    content = wire.get("content")
    return Message(
        role=wire["role"],
        content=[_part(p) for p in content] if isinstance(content, list) else content,
        name=wire.get("name"),
        tool_calls=[_tool_call(c) for c in wire["tool_calls"]] if wire.get("tool_calls") else None,
        tool_call_id=wire.get("tool_call_id"),
        reasoning_content=wire.get("reasoning_content"),
        extra=_unknown(wire, _MESSAGE_FIELDS),
    )


def _part(wire: JSON) -> ContentPart:
    kind = wire["type"]
    # Validation made sure the part has its kind's key: two keys are exactly those two.
    rest = {} if len(wire) == 2 else {k: v for k, v in wire.items() if k not in ("type", kind)}
    if kind == "text":
        return TextPart(wire["text"], extra=rest)
    if kind == "image_url":
        image = wire["image_url"]
        return ImagePart(image["url"], image.get("detail"), extra=rest)
    if kind == "input_audio":
        audio = wire["input_audio"]
        return AudioPart(audio["data"], audio["format"], extra=rest)
    if kind == "file":
        file = wire["file"]
        return FilePart(file.get("file_data"), file.get("file_id"), file.get("filename"), extra=rest)
    if kind == "refusal":
        return RefusalPart(wire["refusal"], extra=rest)
    raise ValueError(f"unvalidated part type {kind!r}")


def _tool_call(wire: JSON) -> ToolCall:
    kind = wire.get("type", "function")
    spec = wire[kind]
    arguments = spec["input"] if kind == "custom" else spec["arguments"]
    return ToolCall(
        wire["id"],
        spec["name"],
        arguments,
        type=kind,
        extra={k: v for k, v in wire.items() if k not in ("id", "type", kind)},
    )


def _tool(wire: JSON) -> Tool:
    kind = wire["type"]
    if kind not in ("function", "custom"):  # hosted: its options are the rest of the object
        return Tool(kind, type=kind, extra={key: value for key, value in wire.items() if key != "type"})
    spec = wire[kind]
    return Tool(
        spec["name"],
        type=kind,
        description=spec.get("description"),
        parameters=spec.get("parameters"),
        strict=spec.get("strict"),
        extra=_unknown(spec, _TOOL_FIELDS),
    )


def _tool_choice(wire: Any) -> ToolChoice | None:
    if isinstance(wire, dict) and wire.get("type") in ("function", "custom"):
        return NamedToolChoice(wire[wire["type"]]["name"], type=wire["type"])
    return wire  # type: ignore[no-any-return]


def _response_format(wire: Any) -> ResponseFormat | None:
    if wire is None:
        return None
    if wire["type"] != "json_schema":
        return ResponseFormat(wire["type"])
    spec = wire["json_schema"]
    return ResponseFormat(
        "json_schema",
        name=spec["name"],
        schema=spec["schema"],
        strict=spec.get("strict"),
        description=spec.get("description"),
    )


def encode_response(response: ChatResponse) -> JSON:
    choices = []
    for choice in response.choices:
        message = choice.message
        wire: JSON = {"role": "assistant", "content": message.content}
        if message.refusal is not None:
            wire["refusal"] = message.refusal
        if message.tool_calls:
            wire["tool_calls"] = [tool_call_to_wire(call) for call in message.tool_calls]
        if message.reasoning_content is not None:
            wire["reasoning_content"] = message.reasoning_content
        if message.audio is not None:
            wire["audio"] = message.audio
        if message.images is not None:
            wire["images"] = message.images
        wire.update(message.extra)
        choices.append(
            {"index": choice.index, "message": wire, "finish_reason": choice.finish_reason, "logprobs": choice.logprobs}
        )
    body: JSON = {
        "id": response.id,
        "object": "chat.completion",
        "created": response.created,
        "model": response.model,
        "choices": choices,
    }
    if response.usage is not None:
        body["usage"] = encode_usage(response.usage)
    if response.system_fingerprint is not None:
        body["system_fingerprint"] = response.system_fingerprint
    for key, value in response.extra.items():
        body.setdefault(key, value)
    return body


def encode_usage(usage: Usage) -> JSON:
    prompt_details: JSON = dict(usage.extra.get("prompt_tokens_details") or {})
    completion_details: JSON = dict(usage.extra.get("completion_tokens_details") or {})
    if usage.cached_tokens is not None:
        prompt_details["cached_tokens"] = usage.cached_tokens
    if usage.cache_write_tokens is not None:
        prompt_details["cache_write_tokens"] = usage.cache_write_tokens
    if usage.reasoning_tokens is not None:
        completion_details["reasoning_tokens"] = usage.reasoning_tokens
    wire: JSON = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if prompt_details:
        wire["prompt_tokens_details"] = prompt_details
    if completion_details:
        wire["completion_tokens_details"] = completion_details
    return wire


class OpenAIChatStreamEncoder:
    """Canonical chunks → `data: {chat.completion.chunk}` frames (a StreamEncoder, stream_encoder.py), with
    OpenAI's usage rules: with `include_usage`, every chunk says `"usage": null` and usage comes in a final
    chunk with empty choices; without it, no chunk has a `usage` key and usage-only chunks are left out."""

    __slots__ = ("_last", "_usage", "include_usage")

    def __init__(self, *, include_usage: bool) -> None:
        self.include_usage = include_usage
        self._usage: Usage | None = None
        self._last: ChatChunk | None = None  # its id, created and model go in the usage chunk

    def start(self) -> bytes:
        return b""  # a chat stream opens with its first chunk

    def feed(self, chunk: ChatChunk) -> bytes:
        self._last = chunk
        if chunk.usage is not None:
            self._usage = chunk.usage
        if not chunk.choices:
            return b""  # a usage-only chunk: usage goes out once, in `finish`
        choices = []
        for choice in chunk.choices:
            delta: JSON = {}
            d = choice.delta
            if d.role is not None:
                delta["role"] = d.role
            if d.content is not None:
                delta["content"] = d.content
            if d.reasoning_content is not None:
                delta["reasoning_content"] = d.reasoning_content
            if d.refusal is not None:
                delta["refusal"] = d.refusal
            if d.tool_calls:
                delta["tool_calls"] = [_tool_call_delta(call) for call in d.tool_calls]
            delta.update(d.extra)
            choices.append(
                {
                    "index": choice.index,
                    "delta": delta,
                    "finish_reason": choice.finish_reason,
                    "logprobs": choice.logprobs,
                }
            )
        wire: JSON = {
            "id": chunk.id,
            "object": "chat.completion.chunk",
            "created": chunk.created,
            "model": chunk.model,
            "choices": choices,
        }
        if chunk.system_fingerprint is not None:
            wire["system_fingerprint"] = chunk.system_fingerprint
        if self.include_usage:
            wire["usage"] = None
        return encode_sse_json(wire)

    def finish(self) -> bytes:
        """The usage chunk (when asked for and known) and `[DONE]`."""
        last = self._last
        if not self.include_usage or self._usage is None or last is None:
            return SSE_DONE
        wire = {
            "id": last.id,
            "object": "chat.completion.chunk",
            "created": last.created,
            "model": last.model,
            "choices": [],
            "usage": encode_usage(self._usage),
        }
        return encode_sse_json(wire) + SSE_DONE

    def fail(self, error: GatewayError, language: str) -> bytes:
        return encode_stream_error(error, language)


def _tool_call_delta(call: ToolCallDelta) -> JSON:
    wire: JSON = {"index": call.index}
    if call.id is not None:
        wire["id"] = call.id
        wire["type"] = call.type or "function"
    spec: JSON = {}
    if call.name is not None:
        spec["name"] = call.name
    if call.arguments is not None:
        spec["input" if call.type == "custom" else "arguments"] = call.arguments
    if spec:
        wire["custom" if call.type == "custom" else "function"] = spec
    return wire
