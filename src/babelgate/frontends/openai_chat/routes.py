"""`POST /v1/chat/completions`: the OpenAI Chat Completions route.

Two roads lead through the provider. The fast path (OpenAI-compatible provider, no hook that
needs the typed request) forwards the validated JSON with `model` rewritten and relays bytes;
the typed path decodes into `ChatRequest` and encodes canonical answers back (stream.py, and the OpenAI chat codec).
Both are one attempt of the call path (pipeline.py), so the router may repeat either.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Final

import orjson

from babelgate import tool_ids
from babelgate.answer import Answer, streamed
from babelgate.exchange import Exchange
from babelgate.frontends.openai_chat import dialects
from babelgate.frontends.openai_chat.conversation import CODEC
from babelgate.frontends.openai_chat.stream import OpenAIChatStreamEncoder
from babelgate.frontends.openai_errors import encode_stream_error
from babelgate.frontends.openai_validation import CHAT_BODY, require_model, validate_chat_body
from babelgate.frontends.prepare import supported_tools
from babelgate.frontends.route import SSE, Frontend, Operation, Route
from babelgate.frontends.stream_encoder import stream_answer
from babelgate.guardrails.paths import TextPaths, paths
from babelgate.hooks import transformed
from babelgate.model_call import ModelCall
from babelgate.pipeline import Body, name_end_user
from babelgate.providers.base import CallNotes, relay_of
from babelgate.providers.openai.translate import request_from_wire, response_to_wire
from babelgate.routing.registry import Deployment
from babelgate.schema.chat import ChatRequest

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


# Where a conversation's texts are, for the guardrails: messages (a string, or text parts), the arguments of the
# tool calls in it, and in the answer and its chunks.
TEXTS: Final = TextPaths(
    input=paths("messages.*.content", "messages.*.content.*.text", "messages.*.tool_calls.*.function.arguments"),
    output=paths(
        "choices.*.message.content", "choices.*.message.refusal", "choices.*.message.tool_calls.*.function.arguments"
    ),
    pieces=paths(
        "choices.*.delta.content", "choices.*.delta.refusal", "choices.*.delta.tool_calls.*.function.arguments"
    ),
)


async def chat_completions(runtime: Runtime, exchange: Exchange) -> ModelCall:
    raw = await exchange.read_body(runtime.max_body_bytes)
    body = Body(raw)
    fields = body.peek()
    model = require_model(fields)
    stream = fields.get("stream") is True
    name_end_user(exchange.call, fields.get("user"))

    # The attempt is a partial, not a closure around another coroutine: one coroutine less per request.
    attempt = functools.partial(_attempt, runtime, exchange, body, stream)
    return ModelCall(model, attempt, stream, cache_body=raw, fields=fields, texts=TEXTS, document=body, codec=CODEC)


async def _attempt(
    runtime: Runtime,
    exchange: Exchange,
    fields: Body,
    stream: bool,
    deployment: Deployment,
    notes: CallNotes,
) -> Answer:
    raw, body = fields.raw, fields.take()
    # The model's configured parameters go in before validation, so a bad default is caught too,
    # and both roads below see the same body.
    deployment.apply_to_body(body)
    validate_chat_body(body)
    provider = deployment.provider
    # Signed tool-call ids (tool_ids.py) reach only the provider that issued them.
    foreign_signatures = not provider.capabilities.signed_tool_ids and raw.find(tool_ids.MARK_BYTES) >= 0
    relay = None if runtime.typed_hooks else relay_of(provider, "chat", deployment.model)
    if relay is not None:
        if foreign_signatures:
            tool_ids.strip_body(body)
        if dialects.needs_edits(body):
            dialects.make_openai(body, notes.adjusted)
        if stream:
            return await streamed(
                relay.relay_stream("chat", body, deployment.model, notes), notes, on_error=encode_stream_error
            )
        return Answer(await relay.relay("chat", body, deployment.model, notes), notes)
    request = supported_tools(request_from_wire(body), deployment, notes)
    if foreign_signatures:
        request = tool_ids.strip_request(request)
    if runtime.typed_hooks:
        assert exchange.call.context is not None  # hooks are installed: the pipeline made the context
        request = await transformed(runtime.typed_hooks, exchange.call.context, request)
    return await _typed(deployment, request, notes)


async def _typed(deployment: Deployment, request: ChatRequest, notes: CallNotes) -> Answer:
    provider = deployment.provider
    if not request.stream:
        response = await provider.chat(request, deployment.model, notes)
        return Answer(orjson.dumps(response_to_wire(response)), notes)
    encoder = OpenAIChatStreamEncoder(include_usage=request.include_usage)
    # Accounting needs the usage (the ledger, budgets, token limits); the client gets it only if it asked.
    request.include_usage = True
    return await stream_answer(provider.stream(request, deployment.model, notes), encoder, notes)


FRONTEND: Final[Frontend] = Frontend(
    routes={
        "/chat/completions": Route(
            "POST", chat_completions, "chat.completions", operations=(Operation("POST", body=CHAT_BODY, streams=SSE),)
        )
    },
    operations={"chat.completions": "chat"},
)
