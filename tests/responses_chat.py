"""The chat request the Responses frontend decodes (translate.chat_request), written as a chat body
(tests/chat_wire.py), and the names its tool calls come back under."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from babelgate.frontends.responses.reasoning import ReasoningState
from babelgate.frontends.responses.tools import ToolNames
from babelgate.frontends.responses.translate import chat_request
from tests.chat_wire import written

JSON = dict[str, Any]


def chat_body(
    body: JSON,
    conversation: list[JSON],
    items: list[JSON],
    adjusted: list[str],
    *,
    reasoning: Mapping[int, ReasoningState] | None = None,
) -> tuple[JSON, ToolNames]:
    request, names = chat_request(body, conversation, items, adjusted, reasoning=reasoning)
    return written(request), names
