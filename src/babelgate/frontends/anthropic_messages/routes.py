"""Routes of the Anthropic Messages API frontend: `POST /v1/messages` (JSON or SSE) and
`POST /v1/messages/count_tokens`, every error on them in Anthropic's shape.

Two roads, chosen per model. The native road (a provider that relays "messages": Claude) relays the
client's body (native.py); hooks see the request there (`on_request`) but there is no chat request
for `transform_request`. Every other model gets the request translated onto a chat body, which goes
the way every non-chat frontend's does (`prepare.typed_request`: model defaults, validation, signed
tool ids, hooks), and its answer encoded back (translate.py, stream.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import orjson

from babelgate.answer import Answer
from babelgate.errors import InvalidRequest
from babelgate.exchange import Exchange
from babelgate.frontends.anthropic_messages import native, wire
from babelgate.frontends.anthropic_messages.stream import AnthropicMessagesStreamEncoder
from babelgate.frontends.anthropic_messages.translate import (
    chat_body,
    decode_request,
    encode_error,
    encode_response,
    estimate_tokens,
)
from babelgate.frontends.anthropic_messages.translate_content import Shaping
from babelgate.frontends.anthropic_messages.wire import JSON
from babelgate.frontends.body_schema import INTEGER, MODEL, OBJECT, STRING, any_of, array, enum, obj
from babelgate.frontends.openai_validation import require_model
from babelgate.frontends.prepare import typed_request
from babelgate.frontends.route import SSE, Frontend, Operation, Route
from babelgate.frontends.stream_encoder import stream_answer
from babelgate.pipeline import Body, call
from babelgate.providers.base import CallNotes, relay_of
from babelgate.routing.registry import Deployment

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


async def create_message(runtime: Runtime, exchange: Exchange) -> None:
    raw = await exchange.read_body(runtime.max_body_bytes)
    body = Body(raw)
    _check_basics(body.peek())
    stream = body.peek().get("stream") is True

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        fields = body.take()
        relay = relay_of(deployment.provider, "messages", deployment.model)
        if relay is not None:
            return await native.relay(exchange, fields, deployment, relay, notes, stream=stream, raw=raw)
        return await _translated(runtime, exchange, fields, deployment, notes, stream=stream)

    await call(runtime, exchange, body.peek()["model"], attempt, stream=stream, cache_body=raw)


async def _translated(
    runtime: Runtime, exchange: Exchange, body: JSON, deployment: Deployment, notes: CallNotes, *, stream: bool
) -> Answer:
    chat = decode_request(body, adjusted=notes.adjusted)
    request = await typed_request(runtime, deployment, chat, stream=stream, context=exchange.call.context, notes=notes)
    provider = deployment.provider
    message_id = wire.new_id()
    if stream:
        encoder = AnthropicMessagesStreamEncoder(message_id, deployment.public_name, provider=provider.name)
        return await stream_answer(provider.stream(request, deployment.model, notes), encoder, notes)
    response = await provider.chat(request, deployment.model, notes)
    notes.finish_reason = response.choices[0].finish_reason if response.choices else None
    answer = encode_response(response, message_id=message_id, model=deployment.public_name, provider=provider.name)
    return Answer(orjson.dumps(answer), notes)


async def count_tokens(runtime: Runtime, exchange: Exchange) -> None:
    """Anthropic's own count where the model is Claude; elsewhere an estimate (translate.estimate_tokens)."""
    raw = await exchange.read_body(runtime.max_body_bytes)
    body = Body(raw)

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        fields = body.take()
        relay = relay_of(deployment.provider, "messages.count_tokens", deployment.model)
        if relay is not None:
            counted = await native.count(
                fields, deployment, relay, notes, raw=raw, beta=exchange.header(b"anthropic-beta")
            )
            return Answer(counted, notes, headers=[])
        tokens = estimate_tokens(chat_body(fields, Shaping(adjusted=[])))
        return Answer(orjson.dumps({"input_tokens": tokens}), notes, headers=[])

    await call(runtime, exchange, require_model(body.peek()), attempt, stream=False)


def _check_basics(body: JSON) -> None:
    """What both roads read before choosing one (DECISIONS 9); the rest is checked as it is
    translated, or is Anthropic's to judge on the native road."""
    require_model(body)
    if body.get("max_tokens") is None:
        raise InvalidRequest("missing_field", param="max_tokens")
    max_tokens = body["max_tokens"]
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise InvalidRequest("wrong_type", param="max_tokens", expected="an integer")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("wrong_type", param="stream", expected="a boolean")
    if not isinstance(body.get("messages"), list):
        raise InvalidRequest(
            "missing_field" if body.get("messages") is None else "wrong_type", param="messages", expected="an array"
        )


# What _check_basics reads, as /openapi.json publishes it.
_TURN: Final = obj(
    ("role", "content"),
    properties={"role": enum(("user", "assistant", "system")), "content": any_of(STRING, array(OBJECT))},
)
_CONVERSATION: Final = {
    "model": MODEL,
    "messages": array(_TURN, min_items=1),
    "system": any_of(STRING, array(OBJECT)),
    "tools": array(OBJECT),
    "tool_choice": OBJECT,
}
MESSAGES_BODY: Final = obj(
    ("model", "max_tokens", "messages"), booleans=("stream",), properties={**_CONVERSATION, "max_tokens": INTEGER}
)
COUNT_TOKENS_BODY: Final = obj(("model", "messages"), properties=_CONVERSATION)

ROUTES: dict[str, Route] = {
    "/messages": Route(
        "POST",
        create_message,
        "messages.create",
        errors=encode_error,
        operations=(Operation("POST", body=MESSAGES_BODY, streams=SSE),),
    ),
    "/messages/count_tokens": Route(
        "POST",
        count_tokens,
        "messages.count_tokens",
        errors=encode_error,
        operations=(Operation("POST", body=COUNT_TOKENS_BODY),),
    ),
}


# Where no route matched under /messages/, the error still speaks Anthropic's format.
FRONTEND: Final = Frontend(routes=ROUTES, error_prefix=("/messages/", encode_error), operations={"messages": "chat"})
