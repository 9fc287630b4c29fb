"""OpenAI stream events → canonical chunks (the typed path; the fast path relays bytes instead)."""

from __future__ import annotations

from collections.abc import Callable

from babelgate.errors import UpstreamError, UpstreamProtocolError
from babelgate.providers.openai.errors import error_fields_from
from babelgate.providers.openai.translate import finish_reason_from_wire, usage_from_wire
from babelgate.providers.transport import event_object
from babelgate.schema.chat import JSON
from babelgate.schema.chunks import ChatChunk, ChunkChoice, Delta, ToolCallDelta
from babelgate.streaming import SSEEvent

_DELTA_FIELDS = frozenset({"role", "content", "reasoning_content", "reasoning", "refusal", "tool_calls"})


class OpenAIStreamTranslator:
    """One instance per stream. `done` turns true at `[DONE]`; an error payload raises."""

    __slots__ = ("done", "finish_reason", "provider", "scrub")

    def __init__(self, provider: str, scrub: Callable[[str], str]) -> None:
        self.provider = provider
        self.scrub = scrub
        self.done = False
        self.finish_reason: str | None = None

    def finish(self) -> list[ChatChunk]:
        """Nothing is held back at the body's end: every event was translated as it came."""
        return []

    def feed(self, event: SSEEvent) -> list[ChatChunk]:
        if event.data == "[DONE]":
            self.done = True
            return []
        payload = event_object(event.data, self.provider)
        if "error" in payload:
            raise stream_error(payload, self.provider, self.scrub)
        return self.feed_payload(payload)

    def feed_payload(self, payload: JSON) -> list[ChatChunk]:
        """One parsed chunk object (for OpenAI-like upstreams that normalise their chunks first)."""
        try:
            return [self._chunk(payload)]
        except (AttributeError, TypeError, ValueError, KeyError):
            raise UpstreamProtocolError(provider=self.provider, detail="a stream event has the wrong shape") from None

    def _chunk(self, payload: JSON) -> ChatChunk:
        choices = []
        for wire in payload.get("choices") or ():
            delta = wire.get("delta") or {}
            tool_calls = None
            if delta.get("tool_calls"):
                tool_calls = [_tool_call_delta(call, position) for position, call in enumerate(delta["tool_calls"])]
            finish = finish_reason_from_wire(wire.get("finish_reason"))
            if finish is not None:
                self.finish_reason = finish
            choices.append(
                ChunkChoice(
                    index=int(wire.get("index", 0)),
                    delta=Delta(
                        role=delta.get("role"),
                        content=delta.get("content"),
                        reasoning_content=delta.get("reasoning_content") or delta.get("reasoning"),
                        refusal=delta.get("refusal"),
                        tool_calls=tool_calls,
                        extra={k: v for k, v in delta.items() if k not in _DELTA_FIELDS},
                    ),
                    finish_reason=finish,
                    logprobs=wire.get("logprobs"),
                )
            )
        if not isinstance(payload.get("id", ""), str):
            raise UpstreamProtocolError(provider=self.provider, detail="a chunk has no valid id")
        return ChatChunk(
            id=payload.get("id", ""),
            created=int(payload.get("created") or 0),
            model=str(payload.get("model", "")),
            choices=choices,
            usage=usage_from_wire(payload.get("usage")),
            system_fingerprint=payload.get("system_fingerprint"),
        )


def stream_error(payload: JSON, provider: str, scrub: Callable[[str], str]) -> UpstreamError:
    """An error the upstream sent inside a stream that had already started (HTTP 200)."""
    message = error_fields_from(payload).get("message")
    return UpstreamError(
        provider=provider, upstream_status=200, raw_message=scrub(message) if isinstance(message, str) else None
    )


def _tool_call_delta(call: JSON, position: int) -> ToolCallDelta:
    kind = call.get("type")
    spec = call.get(kind or "function") or call.get("custom") or {}
    arguments = spec.get("arguments", spec.get("input"))
    return ToolCallDelta(
        index=int(call.get("index", position)),
        id=call.get("id"),
        name=spec.get("name"),
        arguments=arguments,
        type=kind,
    )
