"""Mistral stream chunks → canonical chunks: normalised to OpenAI's shape, then read by the OpenAI
translator. Mistral sends a tool call whole with its id and index, sometimes repeating the id on
later fragments; OpenAI clients want id and name on a call's first delta only."""

from __future__ import annotations

from collections.abc import Callable

from babelgate.errors import UpstreamProtocolError
from babelgate.providers.mistral.translate import mistral_tool_id, normalize
from babelgate.providers.openai.stream import OpenAIStreamTranslator, stream_error
from babelgate.providers.transport import event_object
from babelgate.schema.chat import JSON
from babelgate.schema.chunks import ChatChunk
from babelgate.streaming import SSEEvent


class MistralStreamTranslator:
    def __init__(self, provider: str, scrub: Callable[[str], str]) -> None:
        self.provider = provider
        self.scrub = scrub
        self._openai = OpenAIStreamTranslator(provider, scrub)
        self._calls: dict[int, _ChoiceCalls] = {}  # by choice index

    @property
    def done(self) -> bool:
        return self._openai.done

    @property
    def finish_reason(self) -> str | None:
        return self._openai.finish_reason

    def finish(self) -> list[ChatChunk]:
        """Nothing is held back at the body's end: every event was translated as it came."""
        return []

    def feed(self, event: SSEEvent) -> list[ChatChunk]:
        if event.data == "[DONE]":
            return self._openai.feed(event)
        payload = event_object(event.data, self.provider)
        if "error" in payload or payload.get("object") == "error":
            raise stream_error({"error": payload.get("error", payload)}, self.provider, self.scrub)
        try:
            self._first_delta_only(normalize(payload, stream=True))
        except (AttributeError, TypeError, ValueError, KeyError):
            raise UpstreamProtocolError(provider=self.provider, detail="a stream event has the wrong shape") from None
        return self._openai.feed_payload(payload)

    def _first_delta_only(self, payload: JSON) -> None:
        """Give each call an OpenAI index of its own, and id/name on its first delta only.
        Mistral may omit `index` (the SDK defaults it to 0) while sending each call whole in its
        own chunk, so a new id starts a new call; a fragment without an id continues one."""
        for choice in payload.get("choices") or ():
            choice_index = int(choice.get("index", 0))
            state = self._calls.setdefault(choice_index, _ChoiceCalls())
            for call in (choice.get("delta") or {}).get("tool_calls") or ():
                call_id = call.get("id") if call.get("id") not in ("", "null") else None
                upstream_index = call.get("index")
                if upstream_index is not None and type(upstream_index) is not int:
                    raise TypeError("a tool call's index is not a number")  # mapped to a protocol error
                known: int | None
                if call_id:
                    known = state.by_id.get(call_id)
                elif upstream_index is not None and upstream_index in state.by_index:
                    known = state.by_index[upstream_index]
                else:
                    known = state.last
                if known is None:
                    known = state.last = len(state.by_id)
                    call_id = call_id or mistral_tool_id(f"{payload.get('id', '')}:{choice_index}:{known}")
                    state.by_id[call_id] = known
                    if upstream_index is not None:
                        state.by_index[upstream_index] = known
                    call.update(id=call_id, index=known)
                    continue
                state.last = known
                call["index"] = known
                call.pop("id", None)
                call.pop("type", None)
                (call.get("function") or {}).pop("name", None)


class _ChoiceCalls:
    """The tool calls of one choice: OpenAI index by Mistral id and by Mistral index."""

    __slots__ = ("by_id", "by_index", "last")

    def __init__(self) -> None:
        self.by_id: dict[str, int] = {}
        self.by_index: dict[int, int] = {}
        self.last: int | None = None
