"""Vertex AI's rawPredict door (Claude Code with `CLAUDE_CODE_USE_VERTEX=1`, the `AnthropicVertex` client):
`POST /v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:rawPredict` (the Messages
answer as JSON) and `:streamRawPredict` (Anthropic's SSE stream, as Vertex relays it), every model of the
gateway by its name as `{model}` (slashes and all: the method is what follows the last colon), the same under
`/v1beta1/`, and the token
count at `…/models/count-tokens:rawPredict` (the model in the body, as on Vertex). The body is Anthropic's
Messages body in Vertex's envelope (envelope.py), served by the Messages frontend on either road; answers are
Anthropic's as Vertex relays them, errors before the answer Google's (`{"error": {"code", "message",
"status"}}`), and an error inside a stream that already began Anthropic's `error` event, as Vertex passes it on.

The paths are read by vertex_paths.py, which the Gemini door on Vertex's paths (gemini/vertex.py) shares: this
door claims the `anthropic` publisher's rawPredict methods, that one the Gemini methods. A caller authenticates as on
every route: a gateway key as the bearer token Claude Code's Vertex mode sends (with
`CLAUDE_CODE_SKIP_VERTEX_AUTH=1` and `ANTHROPIC_CUSTOM_HEADERS: Authorization: Bearer <key>`), or `x-api-key`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import orjson

from babelgate.errors import GatewayError, MethodNotAllowed, NotFound
from babelgate.exchange import Exchange
from babelgate.frontends.anthropic_clouds.envelope import ENVELOPE_BODY, messages_body
from babelgate.frontends.anthropic_messages.routes import serve_count, serve_message
from babelgate.frontends.anthropic_messages.translate import error_payload as messages_error_payload
from babelgate.frontends.gemini.translate import error_payload
from babelgate.frontends.route import SSE, Frontend, Operation, PrefixRoute
from babelgate.frontends.vertex_paths import PREFIXES, claims, publisher_model
from babelgate.model_call import ModelCall
from babelgate.pipeline import parse_json_object

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

RAW: Final = "rawPredict"
STREAM: Final = "streamRawPredict"
COUNT_TOKENS_MODEL: Final = "count-tokens"
PUBLISHER: Final = "anthropic"


def encode_error(error: GatewayError, language: str) -> bytes:
    """Google's error body; the wrong-key message names the headers an Anthropic client can send."""
    if error.message_key == "invalid_api_key" and error.raw_message is None:
        message = messages_error_payload(error, language)["error"]["message"]
        return orjson.dumps({"error": {"code": error.status, "message": message, "status": "UNAUTHENTICATED"}})
    return orjson.dumps(error_payload(error, language))


async def raw_predict(runtime: Runtime, exchange: Exchange, rest: str) -> ModelCall:
    found = publisher_model(rest)
    if found is None or found.publisher != PUBLISHER or found.method not in (RAW, STREAM):
        raise NotFound(method=exchange.scope["method"], path=exchange.scope["path"])
    if exchange.scope["method"] != "POST":
        raise MethodNotAllowed(method=exchange.scope["method"], path=exchange.scope["path"])
    model, method = found.model, found.method
    raw = await exchange.read_body(runtime.max_body_bytes)
    if model == COUNT_TOKENS_MODEL and method == RAW:
        exchange.call.route = "vertex.count_tokens"
        body = parse_json_object(raw)
        body.pop("anthropic_version", None)
        return await serve_count(runtime, exchange, orjson.dumps(body))
    stream = method == STREAM
    exchange.call.route = "vertex.stream_raw_predict" if stream else "vertex.raw_predict"
    return await serve_message(runtime, exchange, messages_body(raw, model, stream=stream))


_OPERATIONS: Final = {
    f":{RAW}": (Operation("POST", body=ENVELOPE_BODY),),
    f":{STREAM}": (Operation("POST", body=ENVELOPE_BODY, streams=SSE),),
}
PREFIX_ROUTES: Final = tuple(
    PrefixRoute(
        prefix,
        name,
        raw_predict,
        False,
        # One path parameter stands for `{project}/locations/{location}/publishers/anthropic/models/{model}`:
        # a prefix route has one (frontends/route.py); docs/agents.md spells the whole path.
        "resource",
        _OPERATIONS,
        errors=encode_error,
        claims=claims((RAW, STREAM), publisher=PUBLISHER),
        names_model=True,
    )
    for prefix, name in zip(PREFIXES, ("vertex", "vertex.v1beta1"), strict=True)
)

FRONTEND: Final[Frontend] = Frontend(
    routes={},
    prefix_routes=PREFIX_ROUTES,
    error_prefix=("/projects/", encode_error),
    operations={"vertex.raw_predict": "chat", "vertex.stream_raw_predict": "chat"},
)
