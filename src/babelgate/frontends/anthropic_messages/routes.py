"""Routes of the Anthropic Messages API frontend: `POST /v1/messages` (JSON or SSE) and
`POST /v1/messages/count_tokens`, every error on them in Anthropic's shape.

Two roads, chosen per model. The native road (a provider that relays "messages": Claude) relays the
client's body (native.py); hooks see the request there (`on_request`) but there is no chat request
for `transform_request`. Every other model gets the request decoded into the canonical chat request,
checked as it is read (translate.py), prepared the way every frontend's is (`prepare.prepared_request`:
model defaults, signed tool ids, hosted tools, hooks), and its answer encoded back (translate.py,
stream.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import orjson

from babelgate.answer import Answer
from babelgate.errors import InvalidRequest
from babelgate.exchange import Exchange
from babelgate.frontends import token_count
from babelgate.frontends.anthropic_messages import mcp, native, wire
from babelgate.frontends.anthropic_messages.conversation import CODEC
from babelgate.frontends.anthropic_messages.stream import AnthropicMessagesStreamEncoder
from babelgate.frontends.anthropic_messages.translate import (
    chat_request,
    decode_request,
    encode_error,
    encode_response,
)
from babelgate.frontends.anthropic_messages.translate_content import Shaping
from babelgate.frontends.anthropic_messages.wire import JSON
from babelgate.frontends.body_schema import INTEGER, MODEL, OBJECT, STRING, any_of, array, enum, obj
from babelgate.frontends.openai_validation import require_model
from babelgate.frontends.prepare import prepared_request
from babelgate.frontends.route import SSE, Frontend, Operation, Route
from babelgate.frontends.stream_encoder import stream_answer
from babelgate.guardrails.paths import TextPaths, paths
from babelgate.model_call import ModelCall
from babelgate.pipeline import Body, name_end_user
from babelgate.providers.base import CallNotes, relay_of
from babelgate.routing.registry import Deployment
from babelgate.schema.chat import ChatRequest
from babelgate.tool_loop.loop import Loop, Outcome, Toolbox, with_tools

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


# What a door that speaks Messages in another envelope does to each answer before it goes out (the Bedrock
# InvokeModel frontend reframes a stream as an AWS event stream).
Reframe = Callable[[Answer], Answer]


# Where a conversation's texts are, for the guardrails: the system prompt, the messages' text blocks, tool uses'
# inputs and tool results; in the answer, its text and tool-use blocks, and the deltas of a stream.
TEXTS: Final = TextPaths(
    input=paths(
        "system",
        "system.*.text",
        "messages.*.content",
        "messages.*.content.*.text",
        "messages.*.content.*.input.**",
        "messages.*.content.*.content",
        "messages.*.content.*.content.*.text",
    ),
    output=paths("content.*.text", "content.*.input.**"),
    pieces=paths("delta.text", "delta.partial_json"),
)


async def create_message(runtime: Runtime, exchange: Exchange) -> ModelCall:
    return await serve_message(runtime, exchange, await exchange.read_body(runtime.max_body_bytes))


async def serve_message(
    runtime: Runtime, exchange: Exchange, raw: bytes, *, reframe: Reframe | None = None
) -> ModelCall:
    """A Messages request's body (`raw`), to be served on either road. The cloud doors (frontends/anthropic_clouds/)
    hand it the body they rebuilt, and a `reframe` for their answers. The response cache keys by route and
    replays the frames and content type that went out, so each door's answers are cached in its own framing."""
    body = Body(raw)
    fields = body.peek()
    _check_basics(fields)
    stream = fields.get("stream") is True
    metadata = fields.get("metadata")
    if metadata.__class__ is dict:
        name_end_user(exchange.call, metadata.get("user_id"))

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        fields = body.take()
        relay = relay_of(deployment.provider, "messages", deployment.model)
        if relay is not None:
            answer = await native.relay(exchange, fields, deployment, relay, notes, stream=stream, raw=raw)
        else:
            answer = await _translated(runtime, exchange, fields, deployment, notes, stream=stream)
        return answer

    # A request whose MCP tools run (here or at Anthropic) has effects a cached answer would skip: not cached.
    cached = None if fields.get("mcp_servers") else raw
    return ModelCall(
        body.peek()["model"],
        attempt,
        stream,
        cache_body=cached,
        fields=body.peek(),
        texts=TEXTS,
        document=body,
        codec=CODEC,
        reframe=reframe,  # after the output guardrails: they read Anthropic's SSE
    )


async def _translated(
    runtime: Runtime, exchange: Exchange, body: JSON, deployment: Deployment, notes: CallNotes, *, stream: bool
) -> Answer:
    request = await prepared_request(
        runtime,
        deployment,
        decode_request(body, adjusted=notes.adjusted),
        stream=stream,
        context=exchange.call.context,
        notes=notes,
    )
    provider = deployment.provider
    message_id = wire.new_id()
    toolbox = mcp.connector(runtime, body, exchange.call, deployment, stream=stream)
    if toolbox is not None:
        return await _with_connector(toolbox, request, deployment, notes, message_id, stream=stream)
    if stream:
        encoder = AnthropicMessagesStreamEncoder(message_id, deployment.public_name, provider=provider.name)
        return await stream_answer(provider.stream(request, deployment.model, notes), encoder, notes)
    response = await provider.chat(request, deployment.model, notes)
    notes.finish_reason = response.choices[0].finish_reason if response.choices else None
    answer = encode_response(response, message_id=message_id, model=deployment.public_name, provider=provider.name)
    return Answer(orjson.dumps(answer), notes)


async def _with_connector(
    toolbox: Toolbox, request: ChatRequest, deployment: Deployment, notes: CallNotes, message_id: str, *, stream: bool
) -> Answer:
    """The MCP connector run by the gateway (mcp.py): model turns and tool calls until the answer."""
    provider = deployment.provider
    outcome = Outcome()
    try:
        mcp.check_listed(await toolbox.open())
        request = with_tools(request, toolbox)
    except BaseException:
        await toolbox.aclose()
        raise
    loop = Loop(provider, deployment.model, notes, toolbox)
    if stream:
        encoder = mcp.ConnectorStreamEncoder(
            message_id, deployment.public_name, provider=provider.name, outcome=outcome
        )
        return await stream_answer(loop.stream_closing(request, outcome), encoder, notes)
    try:
        response = await loop.run(request, outcome)
    finally:
        await toolbox.aclose()
    answer = encode_response(response, message_id=message_id, model=deployment.public_name, provider=provider.name)
    answer["content"] = [*mcp.event_blocks(outcome.events), *answer["content"]]
    answer["stop_reason"] = mcp.stop_reason_of(outcome, answer["stop_reason"])
    answer["usage"] = wire.usage_to_wire(notes.usage)
    return Answer(orjson.dumps(answer), notes)


async def count_tokens(runtime: Runtime, exchange: Exchange) -> ModelCall:
    return await serve_count(runtime, exchange, await exchange.read_body(runtime.max_body_bytes))


async def serve_count(runtime: Runtime, exchange: Exchange, raw: bytes, *, reframe: Reframe | None = None) -> ModelCall:
    """Anthropic's own count relayed where the model is Claude; elsewhere the provider's counter or an estimate
    (token_count.py). A cloud door's `reframe` rewrites the `{"input_tokens": n}` answer in its own words."""
    body = Body(raw)

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        fields = body.take()
        relay = relay_of(deployment.provider, "messages.count_tokens", deployment.model)
        if relay is not None:
            counted = await native.count(
                fields, deployment, relay, notes, raw=raw, beta=exchange.header(b"anthropic-beta")
            )
            answer = Answer(counted, notes, headers=list(token_count.UPSTREAM))
        else:
            request = chat_request(fields, Shaping(adjusted=[]))
            tokens, headers = await token_count.count_input_tokens(deployment, request, CallNotes())
            answer = Answer(orjson.dumps({"input_tokens": tokens}), notes, headers=headers)
        return answer if reframe is None else reframe(answer)

    return ModelCall(require_model(body.peek()), attempt, False)


def _check_basics(body: JSON) -> None:
    """What both roads read before choosing one (docs/decisions.md, "What the gateway checks"); the rest is checked as
    it is translated, or is Anthropic's to judge on the native road."""
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
FRONTEND: Final[Frontend] = Frontend(
    routes=ROUTES, error_prefix=("/messages/", encode_error), operations={"messages": "chat"}
)
