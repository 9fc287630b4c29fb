"""The Ollama API's chat, generate and embeddings handlers (routes.py declares their paths; the door loads at
its first request: frontends/later.py).

Chat and generate are decoded into the canonical chat request (translate.py) by each attempt and
prepared the way every frontend's is (`prepare.prepared_request`: model defaults, tool ids, hosted
tools, hooks); the answer, or the stream of chunks, is folded back into Ollama's JSON or NDJSON.
Ollama streams unless told `stream: false`; `/api/generate`'s raw and suffix road is completions.py, the
sending of answers answer.py.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate.answer import Answer
from babelgate.frontends.embeddings import decode_request as decode_embeddings
from babelgate.frontends.embeddings import embed_in_batches
from babelgate.frontends.ollama import completions, translate, wire
from babelgate.frontends.ollama.answer import Clock, stream_answer
from babelgate.frontends.ollama.conversation import CODEC
from babelgate.frontends.ollama.models import resolve, routable
from babelgate.frontends.ollama.stream import OllamaStreamEncoder
from babelgate.frontends.ollama.texts import TEXTS
from babelgate.frontends.ollama.validate import validate_chat, validate_embed, validate_generate
from babelgate.frontends.ollama.wire import JSON
from babelgate.frontends.prepare import prepared_request
from babelgate.model_call import ModelCall
from babelgate.pipeline import parse_json_object, require

if TYPE_CHECKING:
    from collections.abc import Callable

    from babelgate.exchange import Exchange
    from babelgate.providers.base import CallNotes
    from babelgate.routing.registry import Deployment
    from babelgate.runtime import Runtime
    from babelgate.schema.chat import ChatRequest

_ZERO_DURATION: Final = re.compile(r"0+(\.0*)?(ns|us|µs|ms|s|m|h)?")


async def chat(runtime: Runtime, exchange: Exchange) -> Answer | ModelCall:
    clock = Clock(exchange)
    body = parse_json_object(await exchange.read_body(runtime.max_body_bytes))
    validate_chat(body)
    if not body.get("messages"):
        _route_to(runtime, exchange, body)
        return _loaded(body, generate=False)
    return _model_call(runtime, exchange, body, translate.chat_request, clock, generate=False)


async def generate(runtime: Runtime, exchange: Exchange) -> Answer | ModelCall:
    clock = Clock(exchange)
    body = parse_json_object(await exchange.read_body(runtime.max_body_bytes))
    validate_generate(body)
    if not (body.get("prompt") or body.get("suffix") or body.get("system") or body.get("images")):
        _route_to(runtime, exchange, body)
        return _loaded(body, generate=True)
    if body.get("raw") or body.get("suffix"):
        return completions.generate(routable(runtime, body["model"]), body, clock)
    return _model_call(runtime, exchange, body, translate.generate_request, clock, generate=True)


async def embed(runtime: Runtime, exchange: Exchange) -> ModelCall:
    return await _embed(runtime, exchange, legacy=False)


async def embeddings(runtime: Runtime, exchange: Exchange) -> ModelCall:
    """The legacy route: one `prompt`, one `embedding`."""
    return await _embed(runtime, exchange, legacy=True)


def _route_to(runtime: Runtime, exchange: Exchange, body: JSON) -> None:
    """A request with nothing to send upstream still names a model that must exist."""
    deployment = resolve(runtime, body["model"])
    exchange.call.provider, exchange.call.model = deployment.provider.name, deployment.public_name


def _loaded(body: JSON, *, generate: bool) -> Answer:
    """Ollama answers a request with nothing to say by loading (or, with `keep_alive: 0`,
    unloading) the model; upstream models need neither, so the answer is all there is to do."""
    reason = "unload" if _is_zero(body.get("keep_alive")) else "load"
    at = Clock.now()
    payload = (
        wire.generate_line(body["model"], at, "", done=True)
        if generate
        else wire.chat_line(body["model"], at, wire.assistant(), done=True)
    )
    payload["done_reason"] = reason
    return Answer(orjson.dumps(payload), None)


def _model_call(
    runtime: Runtime,
    exchange: Exchange,
    body: JSON,
    decode: Callable[[JSON, list[str]], ChatRequest],
    clock: Clock,
    *,
    generate: bool,
) -> ModelCall:
    stream = body.get("stream") is not False  # Ollama streams by default
    model = body["model"]  # Ollama echoes the name the client sent

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        # Each attempt decodes its own request: the prepare step and the hooks change it in place.
        request = await prepared_request(
            runtime, deployment, decode(body, notes.adjusted), stream=stream, context=exchange.call.context, notes=notes
        )
        provider = deployment.provider
        clock.upstream_called()
        if stream:
            encoder = OllamaStreamEncoder(model, clock, provider=provider.name, generate=generate)
            return await stream_answer(provider.stream(request, deployment.model, notes), encoder, notes)
        response = await provider.chat(request, deployment.model, notes)
        notes.finish_reason = response.choices[0].finish_reason if response.choices else None
        durations = clock.durations()
        if generate:
            payload = translate.encode_generate(response, model=model, at=Clock.now(), durations=durations)
        else:
            payload = translate.encode_chat(
                response, model=model, provider=provider.name, at=Clock.now(), durations=durations
            )
        return Answer(orjson.dumps(payload), notes)

    return ModelCall(routable(runtime, model), attempt, stream, texts=TEXTS, document=body, codec=CODEC)


async def _embed(runtime: Runtime, exchange: Exchange, *, legacy: bool) -> ModelCall:
    clock = Clock(exchange)
    body = parse_json_object(await exchange.read_body(runtime.max_body_bytes))
    validate_embed(body, legacy=legacy)

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        embed_json, adjusted = translate.embed_body(body, legacy=legacy)
        notes.adjusted.extend(adjusted)
        answer = None
        if embed_json["input"]:
            deployment.apply_to_body(embed_json)
            request, _ = decode_embeddings(embed_json)
            clock.upstream_called()
            answer = await embed_in_batches(deployment, request, notes)
            notes.usage = answer.usage
        payload = (
            translate.encode_embeddings(answer)
            if legacy
            else translate.encode_embed(answer, model=body["model"], durations=clock.durations())
        )
        return Answer(orjson.dumps(payload), notes)

    def capable(deployment: Deployment) -> None:
        require(deployment.provider.capabilities.embeddings, deployment, "embeddings")

    return ModelCall(routable(runtime, body["model"]), attempt, False, check=capable)


def _is_zero(keep_alive: Any) -> bool:
    """`keep_alive: 0` (a number, or a duration such as "0" or "0s") asks Ollama to unload."""
    if isinstance(keep_alive, bool):
        return False
    if isinstance(keep_alive, int | float):
        return keep_alive == 0
    return isinstance(keep_alive, str) and _ZERO_DURATION.fullmatch(keep_alive.strip()) is not None
