"""A chat request a frontend decoded, written as a chat body by the OpenAI codec, so that golden tests read
and compare it as JSON. Writing it also checks it: the chat validation accepts the body (a frontend that
decodes straight into the canonical request checks at least what the chat road would) and the codec reads
it back as the same request (nothing the request says is lost in the writing)."""

from __future__ import annotations

from typing import Any

from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.providers.openai.translate import request_from_wire, to_wire
from babelgate.schema.chat import ChatRequest


def written(request: ChatRequest) -> dict[str, Any]:
    wire = to_wire(request, request.model)
    validate_chat_body(wire)
    assert request_from_wire(wire) == request
    return wire
