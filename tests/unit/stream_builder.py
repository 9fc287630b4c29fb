"""A small builder for OpenAI `chat.completion.chunk` streams, as payloads, SSE events or bytes.

It writes what OpenAI sends (role first, tool-call id and name on a call's first fragment, a
finish chunk, an optional usage chunk with empty choices, `[DONE]`) and can inject what breaks a
stream: an error payload mid-way, or any raw `data:` text.
"""

from __future__ import annotations

from typing import Any, Self

import orjson

from babelgate.streaming import SSEEvent

DONE = "[DONE]"


class OpenAIStream:
    def __init__(
        self,
        *,
        chunk_id: str = "chatcmpl-1",
        model: str = "gpt-4o-mini",
        created: int = 1_700_000_000,
        include_usage: bool = False,
    ) -> None:
        self.chunk_id = chunk_id
        self.model = model
        self.created = created
        self.include_usage = include_usage
        self._items: list[str] = []  # the data of each event, in order

    def chunk(self, delta: dict[str, Any], *, finish_reason: str | None = None, index: int = 0) -> Self:
        payload: dict[str, Any] = {
            "id": self.chunk_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_1",
            "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if self.include_usage:
            payload["usage"] = None
        return self.payload(payload)

    def payload(self, payload: Any) -> Self:
        self._items.append(orjson.dumps(payload).decode())
        return self

    def raw(self, data: str) -> Self:
        self._items.append(data)
        return self

    def role(self, content: str | None = "") -> Self:
        return self.chunk({"role": "assistant", "content": content})

    def text(self, *pieces: str) -> Self:
        for piece in pieces:
            self.chunk({"content": piece})
        return self

    def tool_call(self, index: int, call_id: str, name: str, *fragments: str) -> Self:
        self.chunk(
            {
                "tool_calls": [
                    {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
                ]
            }
        )
        for fragment in fragments:
            self.chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
        return self

    def finish(self, reason: str = "stop") -> Self:
        return self.chunk({}, finish_reason=reason)

    def usage(self, prompt: int = 9, completion: int = 3) -> Self:
        return self.payload(
            {
                "id": self.chunk_id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
        )

    def error(self, message: str, *, error_type: str = "server_error") -> Self:
        """An error the upstream sends after the stream has started (HTTP status already 200)."""
        return self.payload({"error": {"message": message, "type": error_type, "param": None, "code": None}})

    def done(self) -> Self:
        return self.raw(DONE)

    def data(self) -> list[str]:
        return list(self._items)

    def events(self) -> list[SSEEvent]:
        return [SSEEvent(item) for item in self._items]

    def to_bytes(self, newline: bytes = b"\n") -> bytes:
        return b"".join(b"data: " + item.encode() + newline + newline for item in self._items)
