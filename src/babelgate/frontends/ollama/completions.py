"""`/api/generate` with `raw` or `suffix`: the legacy completions road.

A raw prompt already holds the model's own template tokens, and a suffix asks for fill-in-the-middle:
both are what a legacy `/completions` endpoint takes as they are (`prompt`, `suffix`), and what no
chat endpoint can do (it wraps every prompt in the model's chat template). So where the provider
serves that endpoint for the model (its relay of "completions": instruct and base models, FIM servers,
compatible servers as their profile says) the request goes there; elsewhere it is refused. The
upstream's answer, JSON or SSE, becomes canonical chunks for the same encoder as chat.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, Final

import orjson

from babelgate.answer import Answer
from babelgate.errors import InvalidRequest, UpstreamProtocolError
from babelgate.frontends.ollama.answer import Clock, stream_answer
from babelgate.frontends.ollama.conversation import CODEC
from babelgate.frontends.ollama.stream import OllamaStreamEncoder
from babelgate.frontends.ollama.texts import TEXTS
from babelgate.frontends.ollama.translate import encode_generate, option_fields
from babelgate.frontends.ollama.wire import JSON
from babelgate.model_call import ModelCall
from babelgate.providers.base import CallNotes, Relay, relay_of
from babelgate.providers.openai.translate import usage_from_wire  # legacy completions report OpenAI's usage
from babelgate.providers.transport import event_object
from babelgate.routing.registry import Deployment
from babelgate.schema.chat import AssistantMessage, ChatResponse, Choice, FinishReason
from babelgate.schema.chunks import ChatChunk, ChunkChoice, Delta
from babelgate.streaming import SSEDecoder

_FINISH: Final[dict[str, FinishReason]] = {"stop": "stop", "length": "length", "content_filter": "content_filter"}
# What a completions endpoint has no field for. In raw mode Ollama itself ignores `system` and
# `template` (they only feed the template); `format`, `think` and `logprobs` have no legacy form.
_DROPPED: Final = ("system", "template", "format", "think", "logprobs", "top_logprobs")


def legacy_body(body: JSON, *, stream: bool) -> tuple[JSON, list[str]]:
    """The legacy completions body for a raw or suffixed `/api/generate` body, and what was dropped."""
    if body.get("images"):
        raise InvalidRequest(
            "invalid_value",
            param="images",
            detail="a raw prompt or a suffix goes to a completions endpoint, which takes no images",
        )
    if body.get("context"):
        raise InvalidRequest("ollama_context_unsupported", param="context")
    legacy: JSON = {"model": body["model"], "prompt": body.get("prompt") or ""}
    if body.get("suffix"):
        legacy["suffix"] = body["suffix"]
    adjusted = [f"{name}=dropped" for name in _DROPPED if body.get(name) not in (None, "", False)]
    legacy.update(option_fields(body.get("options"), adjusted))
    if stream:
        legacy["stream"] = True
        legacy["stream_options"] = {"include_usage": True}  # the final object reports the counts
    return legacy, adjusted


def chunk_from_wire(payload: JSON) -> ChatChunk:
    """One legacy completion chunk as a canonical chunk: its text is the delta."""
    choices = [
        ChunkChoice(int(c.get("index") or 0), Delta(content=c.get("text") or None), _finish(c.get("finish_reason")))
        for c in payload.get("choices") or ()
        if isinstance(c, dict)
    ]
    return ChatChunk(
        id=str(payload.get("id") or ""),
        created=int(payload.get("created") or 0),
        model=str(payload.get("model") or ""),
        choices=choices,
        usage=usage_from_wire(payload.get("usage")),
    )


def response_from_wire(payload: JSON) -> ChatResponse:
    choices = [
        Choice(
            int(c.get("index") or 0),
            AssistantMessage(content=str(c.get("text") or "")),
            _finish(c.get("finish_reason")),
        )
        for c in payload.get("choices") or ()
        if isinstance(c, dict)
    ]
    return ChatResponse(
        id=str(payload.get("id") or ""),
        created=int(payload.get("created") or 0),
        model=str(payload.get("model") or ""),
        choices=choices,
        usage=usage_from_wire(payload.get("usage")),
    )


def _finish(reason: Any) -> FinishReason | None:
    return None if reason is None else _FINISH.get(str(reason), "stop")


def generate(name: str, body: JSON, clock: Clock) -> ModelCall:
    """`raw` or `suffix`: the prompt goes to the upstream's legacy completions API as it is."""
    model = body["model"]
    stream = body.get("stream") is not False

    def native(deployment: Deployment) -> Relay:
        relay = relay_of(deployment.provider, "completions", deployment.model)
        if relay is None:
            raw = bool(body.get("raw"))
            raise InvalidRequest(
                "ollama_raw_unsupported" if raw else "ollama_suffix_unsupported",
                param="raw" if raw else "suffix",
                model=model,
            )
        return relay

    def accepts(deployment: Deployment) -> None:
        native(deployment)

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        provider, relay = deployment.provider, native(deployment)
        legacy, adjusted = legacy_body(body, stream=stream)
        deployment.apply_to_body(legacy)
        notes.adjusted.extend(adjusted)
        # No chat request is sent here, so `transform_request` does not run.
        clock.upstream_called()
        if stream:
            frames = relay.relay_stream("completions", legacy, deployment.model, notes)
            encoder = OllamaStreamEncoder(model, clock, provider=provider.name, generate=True)
            return await stream_answer(_chunks(frames, provider.name), encoder, notes)
        try:
            payload = orjson.loads(await relay.relay("completions", legacy, deployment.model, notes))
            response = response_from_wire(payload)
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            raise UpstreamProtocolError(provider=provider.name, detail="the body has the wrong shape") from None
        notes.finish_reason = response.choices[0].finish_reason if response.choices else None
        answer = encode_generate(response, model=model, at=clock.now(), durations=clock.durations())
        return Answer(orjson.dumps(answer), notes)

    return ModelCall(name, attempt, stream, check=accepts, texts=TEXTS, document=body, codec=CODEC)


async def _chunks(frames: AsyncIterator[bytes], provider: str) -> AsyncIterator[ChatChunk]:
    """The relayed SSE frames, parsed (the relay reads only what accounting needs)."""
    decoder = SSEDecoder()
    async with contextlib.aclosing(frames):  # type: ignore[type-var]
        async for data in frames:
            for event in decoder.feed(data):
                if event.data.strip() == "[DONE]":
                    continue
                payload = event_object(event.data, provider)
                try:
                    chunk = chunk_from_wire(payload)
                except (AttributeError, TypeError, ValueError):
                    raise UpstreamProtocolError(
                        provider=provider, detail="a stream event has the wrong shape"
                    ) from None
                yield chunk
