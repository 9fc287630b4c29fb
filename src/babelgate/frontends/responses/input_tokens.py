"""`POST /v1/responses/input_tokens`: a Responses request's input tokens, without generating. OpenAI's own API
counts it (the body relayed to its `/responses/input_tokens`); every other provider counts the chat request the
Responses door would send, with its own counter or the local estimate (token_count.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import orjson

from babelgate.answer import Answer
from babelgate.exchange import Exchange
from babelgate.frontends import token_count
from babelgate.frontends.body_schema import MODEL, OBJECT, STRING, any_of, array, obj
from babelgate.frontends.responses.translate import chat_request, normalize_input
from babelgate.frontends.responses.turn import owned, previous_not_found, stored_conversation
from babelgate.frontends.responses.validate import validate_create_body, validate_translatable
from babelgate.frontends.responses.wire import JSON
from babelgate.model_call import ModelCall
from babelgate.pipeline import parse_json_object
from babelgate.providers.base import CallNotes, relay_of
from babelgate.routing.registry import Deployment

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

# What count_input_tokens reads, as /openapi.json publishes it.
INPUT_TOKENS_BODY: Final = obj(
    ("model",),
    strings=("instructions", "previous_response_id"),
    properties={"model": MODEL, "input": any_of(STRING, array(OBJECT)), "tools": array(OBJECT)},
)


async def count_input_tokens(runtime: Runtime, exchange: Exchange) -> ModelCall:
    body = parse_json_object(await exchange.read_body(runtime.max_body_bytes))
    validate_create_body(body)  # what a create body is checked for (its model, fields and input)
    conversation: list[JSON] = []
    previous_id = body.get("previous_response_id")
    if previous_id:
        previous = await owned(runtime.response_store, str(previous_id), exchange.call.key_id)
        if previous is None:
            raise previous_not_found(str(previous_id))
        conversation = stored_conversation(previous)
    items = normalize_input(body.get("input"))

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        relay = relay_of(deployment.provider, "responses.input_tokens", deployment.model)
        if relay is not None:
            counted = await relay.relay("responses.input_tokens", dict(body), deployment.model, notes)
            return Answer(counted, notes, headers=list(token_count.UPSTREAM))
        validate_translatable(body)  # the translated road's refusals (tools of shapes it cannot read…)
        request, _ = chat_request(body, conversation, items, [])
        tokens, headers = await token_count.count_input_tokens(deployment, request, CallNotes())
        return Answer(orjson.dumps({"object": "response.input_tokens", "input_tokens": tokens}), notes, headers=headers)

    return ModelCall(body["model"], attempt, False)
