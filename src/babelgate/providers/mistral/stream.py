"""Mistral stream chunks → canonical chunks: normalised to OpenAI's shape, then read by the OpenAI
translator. Mistral sends a tool call whole with its id and index, sometimes repeating the id on
later fragments; OpenAI clients want id and name on a call's first delta only."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from babelgate.errors import UpstreamProtocolError
from babelgate.providers.mistral.translate import mistral_tool_id, normalize
from babelgate.providers.openai.stream import OpenAIStreamTranslator, stream_error
from babelgate.schema.chat import JSON
from babelgate.schema.chunks import ChatChunk
from babelgate.streaming import SSEEvent


class MistralStreamTranslator:
    def __init__(self, provider: str, scrub: Callable[[str], str]) -> None:
        self.provider = provider
        self.scrub = scrub
        self._openai = OpenAIStreamTranslator(provider, scrub)
        self._started_calls: set[tuple[int, int]] = set()  # (choice index, tool-call index)

    @property
    def done(self) -> bool:
        return self._openai.done

    @property
    def finish_reason(self) -> str | None:
        return self._openai.finish_reason

    def feed(self, event: SSEEvent) -> list[ChatChunk]:
        if event.data == "[DONE]":
            return self._openai.feed(event)
        try:
            payload = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise UpstreamProtocolError(provider=self.provider, detail="a stream event is not JSON") from None
        if not isinstance(payload, dict):
            raise UpstreamProtocolError(provider=self.provider, detail="a stream event is not an object")
        if "error" in payload or payload.get("object") == "error":
            raise stream_error({"error": payload.get("error", payload)}, self.provider, self.scrub)
        try:
            self._first_delta_only(normalize(payload, stream=True))
        except (AttributeError, TypeError, ValueError, KeyError):
            raise UpstreamProtocolError(provider=self.provider, detail="a stream event has the wrong shape") from None
        return self._openai.feed_payload(payload)

    def _first_delta_only(self, payload: JSON) -> None:
        for choice in payload.get("choices") or ():
            for position, call in enumerate((choice.get("delta") or {}).get("tool_calls") or ()):
                key = (int(choice.get("index", 0)), int(call.get("index", position)))
                call.setdefault("index", key[1])
                if key in self._started_calls:
                    call.pop("id", None)
                    call.pop("type", None)
                    (call.get("function") or {}).pop("name", None)
                    continue
                self._started_calls.add(key)
                if not call.get("id"):
                    call["id"] = mistral_tool_id(f"{payload.get('id', '')}:{key[0]}:{key[1]}")
