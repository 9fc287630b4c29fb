"""Canonical chunks → a Gemini stream (GeminiStreamEncoder): each chunk a partial
`GenerateContentResponse`, as `data:` events with `alt=sse` or as the elements of one JSON array without
it (what the API answers `streamGenerateContent` with by default).

Text and thoughts go out as they come. A function call goes out whole, as Gemini's do: its arguments are
gathered until the call is complete (the finish reason, or the next call of the candidate). The finish
reasons and the usage go out in the last element; so does the sealed reasoning state (translate.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from babelgate.errors import GatewayError
from babelgate.frontends.gemini import wire
from babelgate.frontends.gemini.translate import error_payload, function_call_part, usage_to_wire
from babelgate.frontends.gemini.wire import JSON
from babelgate.frontends.responses.reasoning import REASONING_DETAILS, ReasoningSeal
from babelgate.schema.chat import Usage
from babelgate.schema.chunks import ChatChunk, ChunkChoice
from babelgate.streaming import encode_sse_json


@dataclass(slots=True)
class _Call:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Candidate:
    calls: dict[int, _Call] = field(default_factory=dict)  # by tool-call index, until sent
    finish_reason: str | None = None
    reasoning: list[str] = field(default_factory=list)
    details: list[JSON] = field(default_factory=list)


class GeminiStreamEncoder:
    def __init__(self, model: str, *, sse: bool, seal: ReasoningSeal | None) -> None:
        self.model = model
        self.sse = sse
        self.seal = seal
        self.response_id = ""
        self.usage: Usage | None = None
        self.candidates: dict[int, _Candidate] = {}
        self.sent = 0  # elements written (the JSON array's commas)

    def start(self) -> bytes:
        return b"" if self.sse else b"["

    def feed(self, chunk: ChatChunk) -> bytes:
        self.response_id = chunk.id or self.response_id
        if chunk.usage is not None:
            self.usage = chunk.usage
        choices = chunk.choices
        if len(choices) == 1:  # the usual stream: no list of one built from a generator
            entry = self._candidate(choices[0])
            return self._element({"candidates": [entry]}) if entry is not None else b""
        candidates = [entry for entry in map(self._candidate, choices) if entry is not None]
        return self._element({"candidates": candidates}) if candidates else b""

    def _candidate(self, choice: ChunkChoice) -> JSON | None:
        index = choice.index
        state = self.candidates.get(index)
        if state is None:
            state = self.candidates[index] = _Candidate()
        delta = choice.delta
        if choice.finish_reason is not None:
            state.finish_reason = choice.finish_reason
        content = delta.content
        if content and not (delta.reasoning_content or delta.refusal or delta.tool_calls or delta.extra):
            # Most chunks of a stream: one piece of text.
            return {"content": {"role": "model", "parts": [{"text": content}]}, "index": index}
        parts: list[JSON] = []
        if delta.reasoning_content:
            parts.append({"text": delta.reasoning_content, "thought": True})
            state.reasoning.append(delta.reasoning_content)
        extra = delta.extra
        details = extra.get(REASONING_DETAILS) if extra else None
        if isinstance(details, list):
            state.details += details
        if content:
            parts.append({"text": content})
        if delta.refusal:
            parts.append({"text": delta.refusal})
        for call in delta.tool_calls or ():
            if call.index not in state.calls:
                parts += self._complete_calls(state)  # a new call: the ones before it are whole
                state.calls[call.index] = _Call()
            pending = state.calls[call.index]
            pending.id = call.id or pending.id
            pending.name = call.name or pending.name
            if call.arguments:
                pending.arguments.append(call.arguments)
        for image in (extra.get("images") if extra else None) or ():
            url = str((image.get("image_url") or {}).get("url", ""))
            header, _, data = url.partition(",")
            if header.startswith("data:") and header.endswith(";base64"):
                parts.append({"inlineData": {"mimeType": header[5:-7], "data": data}})
        if not parts:
            return None
        return {"content": {"role": "model", "parts": parts}, "index": choice.index}

    @staticmethod
    def _complete_calls(state: _Candidate) -> list[JSON]:
        parts = [function_call_part(call.id, call.name, "".join(call.arguments)) for call in state.calls.values()]
        state.calls.clear()
        return parts

    def finish(self) -> bytes:
        """The last element: the calls still gathered, each candidate's finish reason, the usage."""
        candidates = []
        for index, state in sorted(self.candidates.items()):
            parts = self._complete_calls(state)
            if self.seal is not None and (state.reasoning or state.details):
                token = self.seal.seal("".join(state.reasoning) or None, state.details)
                if not parts:
                    parts.append({"text": ""})
                parts[0]["thoughtSignature"] = wire.signature_of(token)
            entry: JSON = {
                "content": {"role": "model", "parts": parts or [{"text": ""}]},
                "finishReason": wire.FINISH_REASONS.get(state.finish_reason or "", wire.DEFAULT_FINISH_REASON),
                "index": index,
            }
            candidates.append(entry)
        last: JSON = {"candidates": candidates, "usageMetadata": usage_to_wire(self.usage), "modelVersion": self.model}
        if self.response_id:
            last["responseId"] = self.response_id
        return self._element(last) + (b"" if self.sse else b"\n]")

    def _element(self, payload: JSON) -> bytes:
        if self.sse:
            return encode_sse_json(payload)
        separator = b"\n,\r\n" if self.sent else b""
        self.sent += 1
        return separator + orjson.dumps(payload)

    def fail(self, error: GatewayError, language: str) -> bytes:
        """Google ends a broken stream with the error object as its last element."""
        return self._element(error_payload(error, language)) + (b"" if self.sse else b"\n]")
