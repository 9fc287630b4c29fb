"""One chat request's journey, top to bottom: body → validation → model → hooks → provider → answer.

Two roads lead through the provider. The fast path (OpenAI-compatible provider, no hook that
needs the typed request) forwards the validated JSON with `model` rewritten and relays bytes;
the typed path decodes into `ChatRequest` and encodes canonical answers back. Both end in the
same accounting.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import orjson

from babelgate import hosted_tools, tool_ids
from babelgate.errors import GatewayError, InvalidRequest, UnsupportedCapability
from babelgate.exchange import Exchange
from babelgate.frontends.openai_chat import OpenAIChatStreamEncoder, decode_request, encode_response
from babelgate.frontends.openai_errors import encode_stream_error
from babelgate.frontends.openai_validation import require_model, validate_chat_body
from babelgate.hooks import RequestContext
from babelgate.providers.base import CallNotes
from babelgate.routing.registry import Deployment
from babelgate.schema.chat import ChatRequest
from babelgate.schema.chunks import ChatChunk
from babelgate.streaming import SSE_HEADERS

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

log = logging.getLogger("babelgate.pipeline")
ADJUSTED_HEADER = b"x-babelgate-adjusted-params"
_SSE_TYPE = SSE_HEADERS[0]


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest("invalid_json", detail=str(exc).split(":")[0]) from None
    if not isinstance(body, dict):
        raise InvalidRequest("body_not_object")
    return body


async def chat_completions(runtime: Runtime, exchange: Exchange) -> None:
    raw = await exchange.read_body(runtime.max_body_bytes)
    body = parse_json_object(raw)
    deployment = runtime.registry.resolve(require_model(body))
    # The model's configured parameters go in before validation, so a bad default is caught too,
    # and both roads below see the same body.
    deployment.apply_to_body(body)
    validate_chat_body(body)
    provider = deployment.provider
    exchange.provider, exchange.model = provider.name, deployment.public_name
    stream = body.get("stream") is True
    context = exchange.context = request_context(exchange, deployment, stream) if runtime.hooks else None
    for hook in runtime.hooks:
        await hook.on_request(context)  # type: ignore[arg-type]
    notes = exchange.notes = CallNotes()
    # Signed tool-call ids (tool_ids.py) reach only the provider that issued them.
    foreign_signatures = not provider.capabilities.signed_tool_ids and tool_ids.MARK_BYTES in raw
    if provider.capabilities.openai_passthrough and not runtime.typed_hooks:
        if foreign_signatures:
            tool_ids.strip_body(body)
        if stream:
            await send_stream(exchange, provider.forward_stream(body, deployment.model, notes), notes)
        else:
            answer = await provider.forward_chat(body, deployment.model, notes)
            await exchange.respond(200, answer, headers=adjusted_headers(notes))
    else:
        request = _supported_tools(decode_request(body), deployment, notes)
        if foreign_signatures:
            request = tool_ids.strip_request(request)
        for hook in runtime.typed_hooks:
            request = await hook.transform_request(context, request)  # type: ignore[arg-type]
        await _typed(exchange, deployment, request, notes)


async def typed_request(runtime: Runtime, deployment: Deployment, chat: dict[str, Any], *, stream: bool,
                        context: RequestContext | None, notes: CallNotes, prechecked: bool = False) -> ChatRequest:
    """What every frontend that is not OpenAI Chat does with the chat body it translated its
    request into: the model's defaults and overrides, the chat validation, decoding, signed tool
    ids kept with their own provider, hosted tools kept only where the provider has them (what is
    dropped goes into `notes`), and the hooks (`on_request`, `transform_request`).
    A stream always asks for usage: the frontends report it at the end.

    `prechecked` is the caller's promise that its own validation already refused everything the
    chat validation would find in `chat` (the Responses frontend's, for a body built from its
    create body alone). The check is then skipped, unless the model's defaults or overrides
    changed the body: those the frontend's validation has not seen."""
    rewritten = bool(deployment.defaults or deployment.overrides)
    if rewritten:
        deployment.apply_to_body(chat)
    if rewritten or not prechecked:
        validate_chat_body(chat)
    request = decode_request(chat)
    request.stream = request.include_usage = stream
    if not deployment.provider.capabilities.signed_tool_ids:
        request = tool_ids.strip_request(request)
    request = _supported_tools(request, deployment, notes)
    if context is not None:
        for hook in runtime.hooks:
            await hook.on_request(context)
        for hook in runtime.typed_hooks:
            request = await hook.transform_request(context, request)
    return request


def _supported_tools(request: ChatRequest, deployment: Deployment, notes: CallNotes) -> ChatRequest:
    return hosted_tools.keep_supported(request, deployment.provider.capabilities.hosted_tools, notes,
                                       refuse=deployment.refuse_unsupported_tools)


async def _typed(exchange: Exchange, deployment: Deployment, request: ChatRequest, notes: CallNotes) -> None:
    provider = deployment.provider
    if not request.stream:
        response = await provider.chat(request, deployment.model, notes)
        await exchange.respond(200, orjson.dumps(encode_response(response)), headers=adjusted_headers(notes))
        return
    encoder = OpenAIChatStreamEncoder(include_usage=request.include_usage)
    await send_stream(exchange, _encoded(provider.stream(request, deployment.model, notes), encoder), notes)


async def _encoded(chunks: AsyncIterator[ChatChunk], encoder: OpenAIChatStreamEncoder) -> AsyncIterator[bytes]:
    last: ChatChunk | None = None
    async with contextlib.aclosing(chunks):  # type: ignore[type-var]
        async for chunk in chunks:
            last = chunk
            data = encoder.encode(chunk)
            if data:
                yield data
    yield encoder.finish(last)


async def send_stream(exchange: Exchange, frames: AsyncIterator[bytes], notes: CallNotes, *,
                      on_error: Callable[[GatewayError, str], bytes] = encode_stream_error,
                      content_type: tuple[bytes, bytes] = _SSE_TYPE) -> None:
    """Wait for the first frame before committing to 200, so that errors before the first byte
    are ordinary HTTP errors (which the router may still retry) rather than stream events.
    SSE by default; any other streamed type (Ollama's NDJSON) gets the same no-buffering headers."""
    try:
        first = await anext(frames)
    except StopAsyncIteration:
        first = b""
    except BaseException:
        await frames.aclose()  # type: ignore[attr-defined]
        raise
    language = exchange.language
    headers = [*SSE_HEADERS[1:], *adjusted_headers(notes)]
    error = await exchange.stream(first, frames, content_type=content_type, headers=headers,
                                  on_error=lambda e: on_error(e, language))
    if error is not None:
        exchange.error_code = error.code or error.type


def adjusted_headers(notes: CallNotes) -> list[tuple[bytes, bytes]]:
    if not notes.adjusted:
        return []
    value = ";".join(notes.adjusted)
    log.debug("parameters adjusted for the upstream: %s", value)
    return [(ADJUSTED_HEADER, value.encode())]


async def begin_call(runtime: Runtime, exchange: Exchange, deployment: Deployment, *, capable: bool,
                     capability: str) -> CallNotes:
    """How every model route without a chat request (embeddings, images, audio) starts: accounting
    learns provider and model, a provider without the capability is refused before any upstream
    call, and the hooks see the request (`on_complete` follows from the app once the answer is out)."""
    provider = deployment.provider
    exchange.provider, exchange.model = provider.name, deployment.public_name
    if not capable:
        raise UnsupportedCapability(provider=provider.name, capability=capability, param="model")
    if runtime.hooks:
        context = exchange.context = request_context(exchange, deployment, False)
        for hook in runtime.hooks:
            await hook.on_request(context)
    notes = exchange.notes = CallNotes()
    return notes


def request_context(exchange: Exchange, deployment: Deployment, stream: bool) -> RequestContext:
    return RequestContext(
        request_id=exchange.request_id.decode(),
        route=exchange.route,
        model=deployment.public_name,
        provider=deployment.provider.name,
        upstream_model=deployment.model,
        stream=stream,
        key_id=exchange.key_id,
        headers={k.decode("latin-1"): v.decode("latin-1") for k, v in exchange.scope["headers"]},
    )

