"""Bedrock's Converse door's handlers: the Converse actions and the token count under `/model/`, and the control
plane's listings (routes.py declares their paths; the door loads at its first request: frontends/later.py).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate.answer import Answer, json_answer
from babelgate.errors import InvalidRequest, MethodNotAllowed
from babelgate.frontends import models, token_count
from babelgate.frontends.anthropic_clouds import bedrock
from babelgate.frontends.anthropic_clouds.bedrock import EVENT_STREAM_TYPE
from babelgate.frontends.bedrock_converse import listing, native
from babelgate.frontends.bedrock_converse.answers import encode_response
from babelgate.frontends.bedrock_converse.conversation import CODEC
from babelgate.frontends.bedrock_converse.routes import CONVERSE_STREAM, COUNT_TOKENS, ENDS
from babelgate.frontends.bedrock_converse.stream import ConverseStreamEncoder, Framing, as_event_stream
from babelgate.frontends.bedrock_converse.translate import decode_request
from babelgate.frontends.bedrock_model_ids import public_model
from babelgate.frontends.prepare import prepared_request
from babelgate.frontends.stream_encoder import stream_answer
from babelgate.governance.gateway_keys import credentials
from babelgate.guardrails.paths import TextPaths, paths
from babelgate.model_call import ModelCall
from babelgate.pipeline import Body, identify, parse_json_object
from babelgate.providers.base import CallNotes, relay_of

if TYPE_CHECKING:
    from babelgate.exchange import Exchange
    from babelgate.routing.registry import Deployment
    from babelgate.runtime import Runtime

JSON = dict[str, Any]

# Where a conversation's texts are, for the guardrails: the system prompt's and the messages' text blocks, tool
# uses' inputs and tool results' texts and JSON; in the answer its text and tool-use blocks, and a stream's deltas.
TEXTS: Final = TextPaths(
    input=paths(
        "system.*.text",
        "messages.*.content.*.text",
        "messages.*.content.*.guardContent.text.text",
        "messages.*.content.*.toolUse.input.**",
        "messages.*.content.*.toolResult.content.*.text",
        "messages.*.content.*.toolResult.content.*.json.**",
    ),
    output=paths("output.message.content.*.text", "output.message.content.*.toolUse.input.**"),
    pieces=paths("delta.text", "delta.toolUse.input"),
)


async def model_action(runtime: Runtime, exchange: Exchange, rest: str) -> ModelCall:
    suffix = next(end for end in ENDS if rest.endswith(end))
    if exchange.scope["method"] != "POST":
        raise MethodNotAllowed(method=exchange.scope["method"], path=exchange.scope["path"])
    model = public_model(runtime.registry, rest[: -len(suffix)])
    if suffix == COUNT_TOKENS:
        return await count_tokens(runtime, exchange, model)
    stream = suffix == CONVERSE_STREAM
    exchange.call.route = "bedrock.converse_stream" if stream else "bedrock.converse"
    return await converse(runtime, exchange, model, stream=stream)


async def converse(runtime: Runtime, exchange: Exchange, model: str, *, stream: bool) -> ModelCall:
    raw = await exchange.read_body(runtime.max_body_bytes)
    body = Body(raw)
    fields = body.peek()
    messages = fields.get("messages")
    if messages is None:
        raise InvalidRequest("missing_field", param="messages")
    if not isinstance(messages, list):
        raise InvalidRequest("wrong_type", param="messages", expected="an array")
    named = _named_guardrail(runtime, fields.get("guardrailConfig"))
    started = time.monotonic()
    # A stream the guardrails read goes through SSE first (stream.py); any other is written as the event stream.
    guarded = runtime.guardrails.active and bool(
        named or runtime.guardrails.applicable(exchange.call.virtual_key, model)
    )
    framing: Framing = "sse" if guarded else "eventstream"

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        fields = body.take()
        given = fields.get("guardrailConfig")
        if named:
            del fields["guardrailConfig"]  # the gateway's guardrail of that name checks the request
        relay = relay_of(deployment.provider, "converse", deployment.model)
        if relay is not None:
            return await native.relay(fields, deployment, relay, notes, stream=stream)
        if given is not None and not named:
            notes.adjusted.append("guardrailConfig=dropped")  # a guardrail kept in Bedrock, which this road skips
        return await _translated(
            runtime, exchange, fields, deployment, notes, stream=stream, started=started, framing=framing
        )

    return ModelCall(
        model,
        attempt,
        stream,
        cache_body=raw,
        fields=fields,
        texts=TEXTS,
        document=body,
        codec=CODEC,
        reframe=as_event_stream if stream else None,  # after the output guardrails: they read the SSE events
        guardrails=named,
    )


def _named_guardrail(runtime: Runtime, config: Any) -> tuple[str, ...]:
    """The gateway guardrail a `guardrailConfig` names by its identifier, if the configuration has one."""
    if config is None:
        return ()
    if not isinstance(config, dict):
        raise InvalidRequest("wrong_type", param="guardrailConfig", expected="an object")
    name = config.get("guardrailIdentifier")
    if not isinstance(name, str):
        raise InvalidRequest("missing_field", param="guardrailConfig.guardrailIdentifier")
    return (name,) if name in runtime.guardrails.by_name else ()


async def _translated(
    runtime: Runtime,
    exchange: Exchange,
    body: JSON,
    deployment: Deployment,
    notes: CallNotes,
    *,
    stream: bool,
    started: float,
    framing: Framing,
) -> Answer:
    request = await prepared_request(
        runtime,
        deployment,
        decode_request(body, deployment.public_name, adjusted=notes.adjusted),
        stream=stream,
        context=exchange.call.context,
        notes=notes,
    )
    provider = deployment.provider
    if stream:
        encoder = ConverseStreamEncoder(
            deployment.public_name, provider=provider.name, started=started, framing=framing
        )
        chunks = provider.stream(request, deployment.model, notes)
        if framing == "sse":
            return await stream_answer(chunks, encoder, notes)
        return await stream_answer(chunks, encoder, notes, content_type=EVENT_STREAM_TYPE)
    response = await provider.chat(request, deployment.model, notes)
    notes.finish_reason = response.choices[0].finish_reason if response.choices else None
    latency = int((time.monotonic() - started) * 1000)
    return Answer(orjson.dumps(encode_response(response, provider=provider.name, latency_ms=latency)), notes)


async def count_tokens(runtime: Runtime, exchange: Exchange, model: str) -> ModelCall:
    """CountTokens: `{"input": {"converse": {messages, system, toolConfig, …}}}` → `{"inputTokens": n}`, the
    provider's own count where it has one (Bedrock's, for Claude), else the gateway's estimate; an `invokeModel`
    input is the InvokeModel door's."""
    exchange.call.route = "bedrock.count_tokens"
    request = parse_json_object(await exchange.read_body(runtime.max_body_bytes))
    given = request.get("input")
    inner = given.get("converse") if isinstance(given, dict) else None
    if inner is None:
        return await bedrock.count_invoke(runtime, exchange, model, request)
    if not isinstance(inner, dict):
        raise InvalidRequest("wrong_type", param="input.converse", expected="an object")

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        chat = decode_request(inner, deployment.public_name, adjusted=[], count=True)
        tokens, headers = await token_count.count_input_tokens(deployment, chat, CallNotes())
        return Answer(orjson.dumps({"inputTokens": tokens}), notes, headers=headers)

    return ModelCall(model, attempt, False)


# -- the control plane's listings ----------------------------------------------------------------


async def foundation_models(runtime: Runtime, exchange: Exchange) -> Answer:
    """ListFoundationModels: every model of the gateway, by its public name."""
    described = await models.described(runtime)
    return json_answer({"modelSummaries": [listing.foundation_model(*entry) for entry in described.values()]})


async def inference_profiles(runtime: Runtime, exchange: Exchange) -> Answer:
    """ListInferenceProfiles: every model of the gateway as a profile of itself, one page. Claude Code asks it at
    start, with no key when it skips AWS auth: public, so that it starts; a request without credentials gets an
    empty list, one with a key is identified (a wrong key refused) and gets the listing."""
    if credentials(exchange.call.header, exchange.call.query) is None:
        return json_answer({"inferenceProfileSummaries": []})
    await identify(runtime, exchange.call)
    described = await models.described(runtime)
    return json_answer(
        {"inferenceProfileSummaries": [listing.inference_profile(*entry) for entry in described.values()]}
    )
