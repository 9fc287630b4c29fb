"""The legacy completions door's messages for the conversation log: the prompt in, each choice's text out."""

from __future__ import annotations

from typing import Any, Final

from babelgate.conversation.codec import Conversation, message, objects, text_part
from babelgate.conversation.record import Message


class CompletionsCodec:
    def request(self, document: Any) -> Conversation:
        prompt = document.get("prompt") if isinstance(document, dict) else None
        prompts = prompt if isinstance(prompt, list) else [prompt]
        return Conversation(input=[message("user", [text_part(text)]) for text in prompts if isinstance(text, str)])

    def answer(self, events: list[Any]) -> list[Message]:
        texts: dict[int, list[Any]] = {}
        for event in events:
            for choice in objects(event.get("choices") if isinstance(event, dict) else None):
                index = choice.get("index", 0) if isinstance(choice.get("index", 0), int) else 0
                kept = texts.setdefault(index, ["", ""])
                if isinstance(choice.get("text"), str):
                    kept[0] += choice["text"]
                if isinstance(choice.get("finish_reason"), str):
                    kept[1] = choice["finish_reason"]
        return [message("assistant", [text_part(texts[i][0])], texts[i][1]) for i in sorted(texts)]


CODEC: Final = CompletionsCodec()
