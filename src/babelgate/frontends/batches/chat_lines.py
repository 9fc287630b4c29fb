"""A chat line of a batch as the chat frontend reads and answers it, for the lines a provider's batch API runs:
its body checked and decoded into the canonical request, and a canonical answer encoded as OpenAI's chat
completion, with the same codec the interactive route uses."""

from __future__ import annotations

from typing import Any

import orjson

from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.providers.openai.translate import request_from_wire, response_to_wire
from babelgate.routing.registry import Deployment
from babelgate.schema.chat import ChatRequest, ChatResponse


def chat_request(body: dict[str, Any], deployment: Deployment) -> ChatRequest:
    """The line's request for `deployment` (its defaults and overrides applied); raises as the route would."""
    wire = dict(body)
    wire.pop("stream", None)
    deployment.apply_to_body(wire)
    validate_chat_body(wire)
    return request_from_wire(wire)


def chat_answer(response: ChatResponse) -> bytes:
    return orjson.dumps(response_to_wire(response))
