"""Canonical chat chunks → Ollama's NDJSON objects (`/api/chat` and `/api/generate`), by a small state machine.

Text and thinking deltas go out as they come, one object per chunk. Tool calls do not: Ollama
sends each call whole, arguments as an object, so argument fragments are buffered until the call
is complete — when the next call begins, or the turn finishes — and the complete calls go out
together in one message object. The last object says `done: true`, with `done_reason` and the
counters. Timestamps and durations come from the `Timing` handed in (answer.Clock): the state machine
(`objects`, `last_objects`) is given them, the StreamEncoder's `feed` and `finish` read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from babelgate.errors import GatewayError, UpstreamProtocolError
from babelgate.frontends.ollama import wire
from babelgate.frontends.ollama.translate import images_to_wire, tool_call_to_wire
from babelgate.frontends.ollama.wire import JSON, Durations
from babelgate.frontends.text_pieces import TextPieces
from babelgate.i18n import render_message
from babelgate.schema.chat import Usage
from babelgate.schema.chunks import ChatChunk, ToolCallDelta
from babelgate.streaming import encode_ndjson


class Timing(Protocol):
    """The clock Ollama's stamps and counters are read from (answer.Clock)."""

    def output(self) -> None:
        """Output began (the first call counts)."""
        ...

    def now(self) -> str: ...

    def durations(self) -> Durations: ...


@dataclass(slots=True)
class _Call:
    index: int  # the chunk's tool-call index
    id: str
    name: str
    arguments: TextPieces = field(default_factory=TextPieces)


class OllamaStreamEncoder:
    """One per stream, a StreamEncoder (stream_encoder.py) of NDJSON lines; a failure after the stream began
    is one more `{"error": …}` line."""

    def __init__(self, model: str, clock: Timing, *, provider: str, generate: bool = False) -> None:
        self.model = model
        self.clock = clock
        self.provider = provider
        self.generate = generate  # `/api/generate` objects carry `response`, chat ones `message`
        self.open_calls: dict[int, _Call] = {}  # being buffered, by chunk index
        self.sent_calls: set[int] = set()  # chunk indexes of calls already sent whole
        self.usage: Usage | None = None
        self.finish_reason: str | None = None

    # -- the StreamEncoder ----------------------------------------------------------------------

    def start(self) -> bytes:
        return b""  # an Ollama stream opens with its first output

    def feed(self, chunk: ChatChunk) -> bytes:
        clock = self.clock
        if any(
            c.delta.content or c.delta.reasoning_content or c.delta.refusal or c.delta.tool_calls for c in chunk.choices
        ):
            clock.output()
        return _lines(self.objects(chunk, clock.now()))

    def finish(self) -> bytes:
        clock = self.clock
        return _lines(self.last_objects(clock.now(), clock.durations()))

    def fail(self, error: GatewayError, language: str) -> bytes:
        return encode_ndjson(wire.error_body(render_message(error, language)))

    # -- the state machine ----------------------------------------------------------------------

    def objects(self, chunk: ChatChunk, at: str) -> list[JSON]:
        """The objects one chunk makes (often none: a role-only chunk, an argument fragment)."""
        if chunk.usage is not None:
            self.usage = chunk.usage
        objects: list[JSON] = []
        for choice in chunk.choices:
            if choice.index != 0:
                continue  # Ollama has no `n`: only one choice is ever asked for
            delta = choice.delta
            text = (delta.content or "") + (delta.refusal or "")  # Ollama has no refusal field
            images = images_to_wire(delta.extra.get("images"))
            logprobs = (choice.logprobs or {}).get("content")
            if text or delta.reasoning_content or images or logprobs:
                objects.append(self._output(at, text, delta.reasoning_content, images, logprobs))
            complete = self._buffer(delta.tool_calls or ())
            if complete:
                objects.append(self._calls_object(at, complete))
            if choice.finish_reason is not None:
                self.finish_reason = choice.finish_reason
        return objects

    def last_objects(self, at: str, durations: Durations) -> list[JSON]:
        """The calls still buffered, then the final object."""
        objects = []
        complete = self._close_open()
        if complete:
            objects.append(self._calls_object(at, complete))
        if self.generate:
            final = wire.generate_line(self.model, at, "", done=True)
        else:
            final = wire.chat_line(self.model, at, wire.assistant(), done=True)
        final["done_reason"] = wire.done_reason(self.finish_reason)
        final.update(wire.counters(self.usage, durations))
        objects.append(final)
        return objects

    # -- tool calls -----------------------------------------------------------------------------

    def _buffer(self, deltas: list[ToolCallDelta] | tuple[()]) -> list[_Call]:
        complete: list[_Call] = []
        for delta in deltas:
            call = self.open_calls.get(delta.index)
            if call is None:
                if delta.index in self.sent_calls:
                    # Every upstream streams a call's fragments before the next call begins; a
                    # fragment after that would change a call the client already has.
                    raise UpstreamProtocolError(
                        provider=self.provider, detail="a tool call continued after the next one began"
                    )
                complete.extend(self._close_open())  # a new call begins: the ones before it are whole
                call = self.open_calls[delta.index] = _Call(
                    delta.index, delta.id or f"call_{delta.index}", delta.name or ""
                )
            if delta.arguments:
                call.arguments.add(delta.arguments)
        return complete

    def _close_open(self) -> list[_Call]:
        calls = sorted(self.open_calls.values(), key=lambda call: call.index)
        self.sent_calls.update(self.open_calls)
        self.open_calls.clear()
        return calls

    def _calls_object(self, at: str, calls: list[_Call]) -> JSON:
        wired = [
            tool_call_to_wire(call.id, call.name, call.arguments.text(), call.index, provider=self.provider)
            for call in calls
        ]
        if self.generate:
            out = wire.generate_line(self.model, at, "")
            out["tool_calls"] = wired  # only when a hook added tools: /api/generate has none of its own
            return out
        return wire.chat_line(self.model, at, wire.assistant(tool_calls=wired))

    # -- text -----------------------------------------------------------------------------------

    def _output(
        self, at: str, text: str, thinking: str | None, images: list[str] | None, logprobs: list[JSON] | None
    ) -> JSON:
        if self.generate:
            out = wire.generate_line(self.model, at, text, thinking=thinking)
        else:
            out = wire.chat_line(self.model, at, wire.assistant(text, thinking=thinking, images=images))
        if logprobs:
            out["logprobs"] = logprobs
        return out


def _lines(objects: list[JSON]) -> bytes:
    return b"".join([encode_ndjson(item) for item in objects]) if objects else b""
