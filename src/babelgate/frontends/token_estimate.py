"""A request's input tokens where no upstream counts them (the Messages and Gemini APIs' count routes on a
model whose provider has no counter): characters / 4, rounded up, over the request's messages and tools
written as chat JSON, plus MEDIA_TOKENS per image or document.
"""

from __future__ import annotations

import math
from typing import Final

import orjson

from babelgate.providers.openai.translate import to_wire
from babelgate.schema.chat import ChatRequest

# What one image or document counts for (Anthropic's figure for an image of about 1.15 megapixels); its
# base64 text would count hundreds of times more.
MEDIA_TOKENS: Final = 1600
CHARACTERS_PER_TOKEN: Final = 4


def estimate_tokens(request: ChatRequest) -> int:
    chat = to_wire(request, request.model)
    media = 0
    messages = []
    for message in chat["messages"]:
        content = message.get("content")
        if isinstance(content, list):
            kept = [part for part in content if part.get("type") not in ("image_url", "file")]
            media += len(content) - len(kept)
            message = {**message, "content": kept}
        messages.append(message)
    text = orjson.dumps({"messages": messages, "tools": chat.get("tools") or []}).decode()
    return math.ceil(len(text) / CHARACTERS_PER_TOKEN) + media * MEDIA_TOKENS
