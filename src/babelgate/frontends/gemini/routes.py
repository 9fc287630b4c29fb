"""Routes of the Gemini API frontend (docs/decisions.md, "The Gemini API frontend's routes"): `POST
/v1beta/models/{model}:generateContent`, `:streamGenerateContent` (SSE with `alt=sse`, else one JSON array),
`:countTokens`, `:embedContent`, `:batchEmbedContents`, and `GET /v1beta/models`, `/v1beta/models/{model}`; the same
under `/v1/`, where a POST with a `:method` suffix is this frontend's and every other request to `/v1/models/…` stays
the OpenAI model routes'. `{model}` may hold slashes (`openai/gpt-4o-mini`): the method is what follows the
last colon. Every error on them is in Google's shape.

Two roads, chosen per model, as on the Messages API: a provider that relays "generate_content" (Gemini)
gets the client's body (native.py); every other model gets it decoded into the canonical chat request
(translate.py), prepared the way every frontend's is (`prepare.prepared_request`), and its answer encoded
back. Both read camelCase: snake_case field names are renamed first (field_names.py), as Google reads both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import orjson

from babelgate.answer import JSON_TYPE, Answer, json_answer
from babelgate.errors import InvalidRequest, MethodNotAllowed, ModelNotFound, NotFound
from babelgate.exchange import Exchange
from babelgate.frontends import models, token_count
from babelgate.frontends.embeddings import embed_in_batches
from babelgate.frontends.gemini import native, wire
from babelgate.frontends.gemini.conversation import CODEC, EMBED_CODEC
from babelgate.frontends.gemini.field_names import (
    BATCH_EMBED_REQUEST,
    COUNT_TOKENS_REQUEST,
    EMBED_CONTENT_REQUEST,
    GENERATE_CONTENT_REQUEST,
    Message,
    camel_case,
)
from babelgate.frontends.gemini.stream import GeminiStreamEncoder
from babelgate.frontends.gemini.translate import decode_request, encode_error, encode_response, model_object
from babelgate.frontends.gemini.translate_embed import GEMINI_BATCH_EMBED, GEMINI_EMBED, EmbedShape, embedding_request
from babelgate.frontends.gemini.wire import JSON
from babelgate.frontends.prepare import prepared_request
from babelgate.frontends.responses.reasoning import ReasoningSeal
from babelgate.frontends.route import SSE, Frontend, Operation, PrefixRoute, Route
from babelgate.frontends.stream_encoder import stream_answer
from babelgate.guardrails.paths import TextPaths, paths
from babelgate.model_call import ModelCall
from babelgate.pipeline import Body, require
from babelgate.providers.base import CallNotes, relay_of
from babelgate.routing.registry import Deployment

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


async def model_method(runtime: Runtime, exchange: Exchange, rest: str) -> Answer | ModelCall:
    """`{model}:method` (POST) or `{model}` (GET) under `/v1beta/models/` or `/v1/models/`."""
    method = exchange.scope["method"]
    found = wire.split_method(rest)
    if found is None:
        if method not in ("GET", "HEAD"):
            raise MethodNotAllowed(method=method, path=exchange.scope["path"])
        return await retrieve_model(runtime, exchange, rest)
    model, name = found
    model = model.removeprefix("models/")
    route = wire.ROUTE_NAMES.get(name)
    if route is None:
        raise NotFound(method=method, path=exchange.scope["path"])
    if method != "POST":
        raise MethodNotAllowed(method=method, path=exchange.scope["path"])
    exchange.call.route = route
    if name in (wire.GENERATE, wire.STREAM):
        return await generate(runtime, exchange, model, stream=name == wire.STREAM)
    if name == wire.COUNT_TOKENS:
        return await count_tokens(runtime, exchange, model)
    if name == wire.BATCH_EMBED:
        return await embed(runtime, exchange, model, GEMINI_BATCH_EMBED, BATCH_EMBED_REQUEST)
    return await embed(runtime, exchange, model, GEMINI_EMBED, EMBED_CONTENT_REQUEST)


def _claims(method: str, rest: str) -> bool:
    """Under `/v1/models/`: only a POST with a `:method` suffix is this frontend's."""
    return method == "POST" and wire.split_method(rest) is not None


def _others(method: str, rest: str) -> bool:
    return not _claims(method, rest)


# Where a conversation's texts are, for the guardrails, in both spellings of each field (field_names.py: the
# guardrails read the body as the client sent it): the contents' text parts, the system instruction, function
# calls' arguments and functions' responses; in each answer (a stream's chunks too), the candidates' parts.
_TEXT_PARTS: Final = ("text", "functionCall.args.**", "function_call.args.**")
TEXTS: Final = TextPaths(
    input=paths(
        *(f"contents.*.parts.*.{part}" for part in _TEXT_PARTS),
        "contents.*.parts.*.functionResponse.response.**",
        "contents.*.parts.*.function_response.response.**",
        "systemInstruction.parts.*.text",
        "system_instruction.parts.*.text",
    ),
    output=paths("candidates.*.content.parts.*.text", "candidates.*.content.parts.*.functionCall.args.**"),
    pieces=paths("candidates.*.content.parts.*.text"),
)
# A stream without `alt=sse` is one JSON array written an element at a time.
ARRAY_TEXTS: Final = TextPaths(input=TEXTS.input, output=TEXTS.output, pieces=TEXTS.pieces, framing="json-array")


async def generate(runtime: Runtime, exchange: Exchange, model: str, *, stream: bool) -> ModelCall:
    raw = await exchange.read_body(runtime.max_body_bytes)
    body = Body(raw)
    _check_basics(body.peek())
    sse = exchange.scope.get("query_string", b"").find(b"alt=sse") >= 0

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        fields = body.take()
        # Both roads read camelCase: the native one too (the model's defaults go into `generationConfig`).
        camel_case(fields, GENERATE_CONTENT_REQUEST, raw=raw)
        relay = relay_of(deployment.provider, "generate_content", deployment.model)
        if relay is not None:
            return await native.relay(fields, deployment, relay, notes, stream=stream, sse=sse, raw=raw)
        return await _translated(runtime, exchange, fields, deployment, notes, stream=stream, sse=sse)

    # Cached like the other conversation doors (response_cache.py), each stream framing apart: the same request
    # with and without `alt=sse` is answered in different bytes.
    framing = ("sse" if sse else "json-array") if stream else ""
    texts = TEXTS if sse or not stream else ARRAY_TEXTS
    return ModelCall(
        model,
        attempt,
        stream,
        cache_body=raw,
        cache_framing=framing,
        fields=body.peek(),
        texts=texts,
        codec=CODEC,
        document=body,
    )


async def _translated(
    runtime: Runtime,
    exchange: Exchange,
    body: JSON,
    deployment: Deployment,
    notes: CallNotes,
    *,
    stream: bool,
    sse: bool,
) -> Answer:
    seal = ReasoningSeal(
        runtime.reasoning_sealer.sealer or await runtime.reasoning_sealer.get(), deployment.provider.name
    )
    request = await prepared_request(
        runtime,
        deployment,
        decode_request(body, deployment.public_name, adjusted=notes.adjusted, opener=seal.open),
        stream=stream,
        context=exchange.call.context,
        notes=notes,
    )
    provider = deployment.provider
    if stream:
        encoder = GeminiStreamEncoder(deployment.public_name, sse=sse, seal=seal)
        chunks = provider.stream(request, deployment.model, notes)
        if sse:
            return await stream_answer(chunks, encoder, notes)
        return await stream_answer(chunks, encoder, notes, content_type=JSON_TYPE)
    response = await provider.chat(request, deployment.model, notes)
    notes.finish_reason = response.choices[0].finish_reason if response.choices else None
    return Answer(orjson.dumps(encode_response(response, model=deployment.public_name, seal=seal)), notes)


async def count_tokens(runtime: Runtime, exchange: Exchange, model: str) -> ModelCall:
    """Gemini's own count where the model is Gemini; elsewhere the Messages frontend's estimate."""
    raw = await exchange.read_body(runtime.max_body_bytes)
    body = Body(raw)

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        fields = body.take()
        camel_case(fields, COUNT_TOKENS_REQUEST, raw=raw)
        relay = relay_of(deployment.provider, "generate_content.count_tokens", deployment.model)
        if relay is not None:
            counted = await native.count(_wrapped(fields, deployment.model), deployment, relay, notes, raw=raw)
            return Answer(counted, notes, headers=list(token_count.UPSTREAM))
        inner = fields.get("generateContentRequest")
        request = inner if isinstance(inner, dict) else fields
        if "contents" not in request:
            request = {**request, "contents": []}
        chat = decode_request(request, deployment.public_name, adjusted=[])
        tokens, headers = await token_count.count_input_tokens(deployment, chat, CallNotes())
        return Answer(orjson.dumps({"totalTokens": tokens}), notes, headers=headers)

    return ModelCall(model, attempt, False)


async def embed(
    runtime: Runtime, exchange: Exchange, model: str, shape: EmbedShape, fields_of: Message | None
) -> ModelCall:
    """One embedding method, written as `shape` says; `fields_of`: its field table, to read snake_case names too."""
    raw = await exchange.read_body(runtime.max_body_bytes)
    body = Body(raw)

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        fields = body.take()
        if fields_of is not None:
            camel_case(fields, fields_of, raw=raw)
        request = embedding_request(deployment.public_name, shape.requests(fields), notes.adjusted)
        answer = await embed_in_batches(deployment, request, notes)
        notes.usage = answer.usage
        return Answer(orjson.dumps(shape.answer(answer)), notes)

    def capable(deployment: Deployment) -> None:
        require(deployment.provider.capabilities.embeddings, deployment, "embeddings")

    return ModelCall(model, attempt, False, check=capable, texts=shape.texts, document=body, codec=EMBED_CODEC)


def _wrapped(body: JSON, model: str) -> JSON:
    """A countTokens body as the Gemini API reads it: Vertex's (and a Gemini API client's that writes it so) puts
    the generateContent fields beside `contents`, where the Gemini API counts them only inside
    `generateContentRequest`, with the model named."""
    if "generateContentRequest" in body or body.keys() <= {"contents"}:
        return body
    return {"generateContentRequest": {"model": f"models/{model}", **body}}


def _check_basics(body: JSON) -> None:
    """What both roads read before choosing one (docs/decisions.md, "What the gateway checks"); the rest is checked as
    it is translated, or is Gemini's to judge on the native road."""
    contents = body.get("contents")
    if contents is None:
        raise InvalidRequest("missing_field", param="contents")
    if not isinstance(contents, list | dict):
        raise InvalidRequest("wrong_type", param="contents", expected="an array")


# -- models --------------------------------------------------------------------------------------


async def list_models(runtime: Runtime, exchange: Exchange) -> Answer:
    """One page: the listing is in memory, and no `nextPageToken` tells the SDK's pager to stop."""
    described = await models.described(runtime)
    return json_answer({"models": [model_object(*entry) for entry in described.values()]})


async def retrieve_model(runtime: Runtime, exchange: Exchange, model: str) -> Answer:
    model = model.removeprefix("models/")
    described = await models.described(runtime)
    found = described.get(model)
    if found is None:
        raise ModelNotFound(model=model, providers=", ".join(sorted(runtime.providers)) or "none")
    return json_answer(model_object(*found))


# -- what /openapi.json says ---------------------------------------------------------------------

_PARTS: Final = {"type": "array", "items": {"type": "object"}}
GENERATE_BODY: Final[JSON] = {
    "type": "object",
    "required": ["contents"],
    "properties": {
        "contents": {
            "type": "array",
            "items": {"type": "object", "properties": {"role": {"type": "string"}, "parts": _PARTS}},
        },
        "systemInstruction": {"type": "object"},
        "tools": {"type": "array", "items": {"type": "object"}},
        "toolConfig": {"type": "object"},
        "generationConfig": {"type": "object"},
        "safetySettings": {"type": "array", "items": {"type": "object"}},
    },
}
_METHODS: Final = {
    f":{wire.GENERATE}": (Operation("POST", body=GENERATE_BODY),),
    f":{wire.STREAM}": (Operation("POST", body=GENERATE_BODY, streams=SSE, query=("alt",)),),
    f":{wire.COUNT_TOKENS}": (Operation("POST", body={"type": "object"}),),
    f":{wire.EMBED}": (Operation("POST", body={"type": "object", "required": ["content"]}),),
    f":{wire.BATCH_EMBED}": (Operation("POST", body={"type": "object", "required": ["requests"]}),),
}

ROUTES: dict[str, Route] = {"/v1beta/models": Route("GET", list_models, "gemini.models", errors=encode_error)}
PREFIX_ROUTES: Final = (
    # A model's methods (POST `{model}:method`), under `/v1beta/models/` and, after the app took `/v1` off,
    # `/models/`: there only a POST with a `:method` is this frontend's (`_claims`).
    PrefixRoute(
        "/v1beta/models/",
        "gemini",
        model_method,
        False,
        "model",
        _METHODS,
        errors=encode_error,
        claims=_claims,
        names_model=True,
    ),
    PrefixRoute(
        "/models/",
        "gemini.v1",
        model_method,
        False,
        "model",
        _METHODS,
        errors=encode_error,
        claims=_claims,
        names_model=True,
    ),
    # Everything else under `/v1beta/models/`: the model's retrieve (GET), or a refusal in Google's format.
    PrefixRoute(
        "/v1beta/models/",
        "gemini.models",
        model_method,
        False,
        "model",
        {"": (Operation("GET"),)},
        errors=encode_error,
        claims=_others,
    ),
)

FRONTEND: Final[Frontend] = Frontend(
    routes=ROUTES,
    prefix_routes=PREFIX_ROUTES,
    error_prefix=("/v1beta/", encode_error),
    operations={
        f"gemini.{wire.GENERATE}": "chat",
        f"gemini.{wire.STREAM}": "chat",
        f"gemini.{wire.EMBED}": "embeddings",
        f"gemini.{wire.BATCH_EMBED}": "embeddings",
    },
)
