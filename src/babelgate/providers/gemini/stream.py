"""Gemini stream chunks → canonical chunks.

Each SSE event is a partial GenerateContentResponse: text parts are deltas, a function call
arrives whole (parallel calls in separate chunks, without an index), so each becomes one tool-call
delta with the next index. There is no end marker: the stream ends when the connection closes,
and `finish()` then checks that a finish reason came and gives the usage chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import orjson

from babelgate.errors import GatewayError, UpstreamProtocolError
from babelgate.providers.gemini.chat_audio import audio_entry
from babelgate.providers.gemini.errors import error_from_object, stream_error_status
from babelgate.providers.gemini.translate import finish_reason, image_entry, tool_call, usage_from_wire
from babelgate.schema.chat import JSON
from babelgate.schema.chunks import ChatChunk, ChunkChoice, Delta, ToolCallDelta
from babelgate.streaming import SSEEvent


@dataclass(slots=True)
class _Candidate:
    started: bool = False
    tool_calls: int = 0
    finish_reason: str | None = None


class GeminiStreamTranslator:
    def __init__(
        self, provider: str, *, created: int, model: str, scrub: Callable[[str], str], audio_format: str | None = None
    ) -> None:
        self.provider = provider
        self.audio_format = audio_format  # the client asked for audio (chat_audio.requested_format)
        self.created = created
        self.model = model
        self.scrub = scrub
        self.response_id = ""
        self.candidates: dict[int, _Candidate] = {}
        self.usage_metadata: JSON | None = None
        self.blocked = False

    @property
    def done(self) -> bool:
        """Gemini sends no end marker: the stream ends when the connection does (then `finish`)."""
        return False

    def feed(self, event: SSEEvent) -> list[ChatChunk]:
        return self.feed_json(event.data)

    def feed_json(self, data: str | bytes) -> list[ChatChunk]:
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamProtocolError(provider=self.provider, detail="a stream event is not JSON") from None
        if isinstance(payload, list) and (
            len(payload) == 1 or (payload and isinstance(payload[0], dict) and "error" in payload[0])
        ):
            payload = payload[0]  # a bare JSON error after the stream began comes as an array
        if not isinstance(payload, dict):
            raise UpstreamProtocolError(provider=self.provider, detail="a stream event is not an object")
        if isinstance(payload.get("error"), dict):
            error = payload["error"]
            raise error_from_object(error, stream_error_status(error), provider=self.provider, scrub=self.scrub)
        try:
            return self._chunk(payload)
        except GatewayError:
            raise
        except (AttributeError, TypeError, ValueError, KeyError):
            raise UpstreamProtocolError(provider=self.provider, detail="a stream event has the wrong shape") from None

    def _chunk(self, payload: JSON) -> list[ChatChunk]:
        self.response_id = str(payload.get("responseId") or self.response_id)
        self.model = str(payload.get("modelVersion") or self.model)
        if payload.get("usageMetadata"):
            self.usage_metadata = payload["usageMetadata"]  # cumulative: the last one wins
        choices: list[ChunkChoice] = []
        candidates = payload.get("candidates") or ()
        if not candidates and (payload.get("promptFeedback") or {}).get("blockReason"):
            self.blocked = True
            state = self.candidates.setdefault(0, _Candidate())
            state.finish_reason = "content_filter"
            choices.append(
                ChunkChoice(index=0, delta=Delta(role="assistant", content=""), finish_reason="content_filter")
            )
        for position, candidate in enumerate(candidates):
            choices += self._candidate(candidate, position)
        # One choice per chunk: OpenAI clients read a chunk's deltas by choice index, once each.
        return [self._wrap([choice]) for choice in choices]

    def _candidate(self, candidate: JSON, position: int) -> list[ChunkChoice]:
        index = int(candidate.get("index", position))
        state = self.candidates.setdefault(index, _Candidate())
        out: list[ChunkChoice] = []
        if not state.started:
            state.started = True
            out.append(ChunkChoice(index=index, delta=Delta(role="assistant", content="")))
        for part in (candidate.get("content") or {}).get("parts") or ():
            delta = self._part(part, index, state)
            if delta is not None:
                out.append(ChunkChoice(index=index, delta=delta))
        reason = candidate.get("finishReason")
        if reason is not None:
            state.finish_reason = finish_reason(reason, has_tool_calls=state.tool_calls > 0)
            out.append(ChunkChoice(index=index, delta=Delta(), finish_reason=state.finish_reason))  # type: ignore[arg-type]
        return out

    def _part(self, part: JSON, index: int, state: _Candidate) -> Delta | None:
        if "text" in part:
            text = part["text"]
            if not isinstance(text, str):
                raise TypeError("a text part without text")
            if not text:
                return None
            return Delta(reasoning_content=text) if part.get("thought") else Delta(content=text)
        if "functionCall" in part:
            call = tool_call(part, self.response_id, index, state.tool_calls)
            delta = ToolCallDelta(
                index=state.tool_calls, id=call.id, name=call.name, arguments=call.arguments, type="function"
            )
            state.tool_calls += 1
            return Delta(tool_calls=[delta])
        if part.get("thought"):
            return None  # a thought's draft image or signature-only part: nothing a client shows
        if "inlineData" in part and str(part["inlineData"].get("mimeType", "")).startswith("image/"):
            return Delta(extra={"images": [image_entry(part["inlineData"])]})
        if self.audio_format and str(part.get("inlineData", {}).get("mimeType", "")).startswith("audio/"):
            audio = audio_entry(
                part["inlineData"],
                self.audio_format,
                response_id=self.response_id,
                created=self.created,
                provider=self.provider,
            )
            return Delta(extra={"audio": audio})
        return Delta(extra={"gemini_parts": [part]})  # code execution and newer kinds: kept, as in from_wire

    def _wrap(self, choices: list[ChunkChoice]) -> ChatChunk:
        return ChatChunk(id=self.response_id, created=self.created, model=self.model, choices=choices)

    def finish(self) -> list[ChatChunk]:
        """At the end of the connection: the usage chunk, or an error if no finish reason came."""
        if not self.candidates or any(c.finish_reason is None for c in self.candidates.values()):
            raise UpstreamProtocolError("stream_interrupted", provider=self.provider)
        return [
            ChatChunk(
                id=self.response_id,
                created=self.created,
                model=self.model,
                choices=[],
                usage=usage_from_wire(self.usage_metadata),
            )
        ]

    @property
    def finish_reason(self) -> str | None:
        first = self.candidates.get(0)
        return first.finish_reason if first else None
