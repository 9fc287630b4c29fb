"""The embeddings door's messages for the conversation log: its input texts (an embedding is no message)."""

from __future__ import annotations

from typing import Any, Final

from babelgate.conversation.codec import Conversation, message, text_part
from babelgate.conversation.record import Message


class EmbeddingsCodec:
    def request(self, document: Any) -> Conversation:
        given = document.get("input") if isinstance(document, dict) else None
        texts = given if isinstance(given, list) else [given]
        return Conversation(input=[message("user", [text_part(text)]) for text in texts if isinstance(text, str)])

    def answer(self, events: list[Any]) -> list[Message]:
        return []


CODEC: Final = EmbeddingsCodec()
