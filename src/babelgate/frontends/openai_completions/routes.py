"""`POST /v1/completions`: validation, the choice of road, and the upstream calls of each road.

The road is the provider's to say (its relay of "completions", `relay_of`): an upstream that serves the legacy
endpoint for the model gets the body as it is (only `model` rewritten, plus the profile's
top-level edits) and its answer or SSE frames are relayed; otherwise each prompt is one chat call
through the canonical request, and the answers are encoded as `text_completion` objects.

Hooks: `on_request` runs once per client request on both roads. `transform_request` sees every
chat request the translated road sends (one per prompt); the native road sends no chat request,
so it does not run there.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Final

import orjson

from babelgate.answer import Answer, streamed
from babelgate.exchange import Exchange
from babelgate.frontends.openai_completions import validate, wire
from babelgate.frontends.openai_completions.conversation import CODEC
from babelgate.frontends.openai_completions.fanout import gather_bounded, merge_streams
from babelgate.frontends.openai_completions.stream import OpenAICompletionsStreamEncoder
from babelgate.frontends.openai_completions.translate import (
    chat_request,
    decode_request,
    encode_response,
    sum_usage,
)
from babelgate.frontends.openai_completions.validate import validate_completion_body, validate_translatable
from babelgate.frontends.openai_errors import encode_stream_error
from babelgate.frontends.openai_validation import require_model
from babelgate.frontends.prepare import prepared_request
from babelgate.frontends.route import SSE, Frontend, Operation, Route
from babelgate.frontends.stream_encoder import stream_answer
from babelgate.guardrails.paths import TextPaths, paths
from babelgate.hooks import transformed
from babelgate.model_call import ModelCall
from babelgate.pipeline import Body
from babelgate.providers.base import CallNotes, Relay, relay_of
from babelgate.routing.registry import Deployment
from babelgate.schema.chunks import ChatChunk

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


# Where a completion's texts are, for the guardrails: the prompt (one, or several) and the choices' text.
TEXTS: Final = TextPaths(
    input=paths("prompt", "prompt.*", "suffix"), output=paths("choices.*.text"), pieces=paths("choices.*.text")
)


async def create_completion(runtime: Runtime, exchange: Exchange) -> ModelCall:
    body = Body(await exchange.read_body(runtime.max_body_bytes))
    stream = body.peek().get("stream") is True

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        fields = body.take()
        # The model's configured parameters go in before validation, as on chat, so both roads get them.
        deployment.apply_to_body(fields)
        validate_completion_body(fields)
        relay = relay_of(deployment.provider, "completions", deployment.model)
        if relay is not None:
            return await _native(fields, deployment, relay, notes)
        return await _translated(runtime, exchange, fields, deployment, notes)

    return ModelCall(
        require_model(body.peek()), attempt, stream, cache_body=body.raw, texts=TEXTS, document=body, codec=CODEC
    )


async def _native(body: wire.JSON, deployment: Deployment, relay: Relay, notes: CallNotes) -> Answer:
    if body.get("stream") is True:
        frames = relay.relay_stream("completions", body, deployment.model, notes)
        return await streamed(frames, notes, on_error=encode_stream_error)
    return Answer(await relay.relay("completions", body, deployment.model, notes), notes)


async def _translated(
    runtime: Runtime, exchange: Exchange, body: wire.JSON, deployment: Deployment, combined: CallNotes
) -> Answer:
    validate_translatable(body, deployment.public_name)
    request = decode_request(body)
    # `transform_request` runs here, not in `prepared_request`: on each chat request the client's
    # request fans out to.
    combined.adjusted.extend(request.adjusted)
    chats = [
        await prepared_request(
            runtime, deployment, chat_request(request, prompt), stream=request.stream, context=None, notes=combined
        )
        for prompt in request.prompts
    ]
    context = exchange.call.context
    if context is not None:
        chats = [await transformed(runtime.typed_hooks, context, chat) for chat in chats]
    calls = [CallNotes() for _ in chats]
    provider, model = deployment.provider, deployment.model
    if request.stream:
        encoder = OpenAICompletionsStreamEncoder(
            completion_id=wire.new_id(),
            created=int(time.time()),
            model=deployment.public_name,
            prompts=request.prompts,
            n=request.n,
            echo=request.echo,
            include_usage=request.include_usage,
        )
        streams = [provider.stream(chat, model, notes) for chat, notes in zip(chats, calls, strict=True)]
        return await stream_answer(_combined(merge_streams(streams), combined, calls), encoder, combined)
    try:
        answers = await gather_bounded(
            [functools.partial(provider.chat, chat, model, notes) for chat, notes in zip(chats, calls, strict=True)]
        )
    finally:
        _combine(combined, calls)  # what the calls that ended cost is counted even when one failed
    payload = encode_response(request, answers, completion_id=wire.new_id(), created=int(time.time()))
    combined.finish_reason = payload["choices"][0]["finish_reason"] if payload["choices"] else None
    return Answer(orjson.dumps(payload), combined)


async def _combined(
    chunks: AsyncIterator[tuple[int, ChatChunk]], combined: CallNotes, calls: Sequence[CallNotes]
) -> AsyncIterator[tuple[int, ChatChunk]]:
    """The calls' chunks as they come, their notes combined into the answer's: at the first chunk (the
    adjusted-params header goes out with the first bytes), and however the stream ends (usage for accounting)."""
    try:
        async with contextlib.aclosing(chunks):  # type: ignore[type-var]
            first = True
            async for item in chunks:
                if first:
                    first = False
                    _combine(combined, calls)
                yield item
        combined.completed = all(notes.completed for notes in calls)
    finally:
        _combine(combined, calls)


def _combine(combined: CallNotes, calls: Sequence[CallNotes]) -> None:
    """The calls' notes as one: every adjustment once, the usage so far, the first finish reason."""
    for notes in calls:
        for item in notes.adjusted:
            if item not in combined.adjusted:
                combined.adjusted.append(item)
    combined.usage = sum_usage([notes.usage for notes in calls if notes.usage is not None])
    if calls and calls[0].finish_reason is not None:
        combined.finish_reason = wire.finish_reason(calls[0].finish_reason)


ROUTES: dict[str, Route] = {
    "/completions": Route(
        "POST",
        create_completion,
        "completions",
        operations=(Operation("POST", body=validate.COMPLETION_BODY, streams=SSE),),
    ),
}


FRONTEND: Final[Frontend] = Frontend(routes=ROUTES, operations={"completions": "text_completion"})
