"""OpenAI Chat Completions frontend: its stream encoder (ChatChunk → SSE). The request and response codec is
OpenAI's chat wire codec, one for the frontend and the provider (providers/openai/translate.py:
`request_from_wire`, `response_to_wire`, `usage_to_wire`).

Used on the typed path (a hook needs the request, or the provider is not OpenAI-compatible); the
fast path forwards the validated JSON instead and never comes here.
"""

from __future__ import annotations

from babelgate.errors import GatewayError
from babelgate.frontends.openai_errors import encode_stream_error

# The OpenAI wire shape of a tool call is the same in requests and answers: one encoder serves both.
from babelgate.providers.openai.translate import usage_to_wire
from babelgate.schema.chat import (
    JSON,
    Usage,
)
from babelgate.schema.chunks import ChatChunk, ToolCallDelta
from babelgate.streaming import SSE_DONE, encode_sse_json


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
            if d.extra:
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
            "usage": usage_to_wire(self._usage),
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
