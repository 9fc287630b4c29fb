"""`POST /v1/responses/compact`: the conversation (input items and/or `previous_response_id`)
shrinks to the user's own messages plus one opaque compaction item, whose summary the model
itself writes (compaction.py). Works the same on every provider."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import orjson

from babelgate.answer import Answer
from babelgate.exchange import Exchange
from babelgate.frontends.openai_validation import require_model
from babelgate.frontends.prepare import with_settings
from babelgate.frontends.responses import wire
from babelgate.frontends.responses.compaction import SUMMARY_PROMPT, compacted_output
from babelgate.frontends.responses.translate import chat_messages, normalize_input
from babelgate.frontends.responses.turn import owned, previous_not_found, stored_conversation
from babelgate.frontends.responses.validate import validate_input
from babelgate.frontends.responses.wire import JSON
from babelgate.model_call import ModelCall
from babelgate.pipeline import parse_json_object
from babelgate.providers.base import CallNotes
from babelgate.routing.registry import Deployment
from babelgate.schema.chat import ChatRequest, Message

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


async def compact_response(runtime: Runtime, exchange: Exchange) -> ModelCall:
    body = parse_json_object(await exchange.read_body(runtime.max_body_bytes))
    require_model(body)
    validate_input(body.get("input"))
    conversation: list[JSON] = []
    previous_id = body.get("previous_response_id")
    if previous_id:
        previous = await owned(runtime.response_store, str(previous_id), exchange.call.key_id)
        if previous is None:
            raise previous_not_found(str(previous_id))
        conversation = stored_conversation(previous)
    items = [*conversation, *normalize_input(body.get("input"))]
    messages = chat_messages(items)
    if isinstance(body.get("instructions"), str):
        messages.insert(0, Message("system", body["instructions"]))
    messages.append(Message("user", SUMMARY_PROMPT))

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        request = ChatRequest(body["model"], list(messages))
        if deployment.defaults or deployment.overrides:
            with_settings(request, deployment)
        answer = await deployment.provider.chat(request, deployment.model, notes)
        summary = (answer.choices[0].message.content or "") if answer.choices else ""
        resource = {
            "id": wire.new_response_id(),
            "object": "response.compaction",
            "output": compacted_output(items, summary),
            "created_at": int(time.time()),
            "usage": wire.usage_to_wire(answer.usage),
        }
        return Answer(orjson.dumps(resource), notes, headers=[])

    return ModelCall(body["model"], attempt, False)
