"""The chat request the Responses frontend decodes (translate.chat_request), written as a chat body by the
OpenAI codec so that a test reads and compares it as JSON, after checking that the codec reads that body
back as the same request (nothing the request says is lost in the writing)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from babelgate.frontends.responses.reasoning import ReasoningState
from babelgate.frontends.responses.tools import ToolNames
from babelgate.frontends.responses.translate import chat_request
from babelgate.providers.openai.translate import request_from_wire, to_wire

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
    wire = to_wire(request, request.model)
    assert request_from_wire(wire) == request
    return wire, names
