"""The Gemini API on Vertex AI's paths (google-genai with `vertexai=True`, Google's Agent Development Kit,
LangChain's ChatVertexAI): `POST /v1/projects/{project}/locations/{location}/publishers/{publisher}/models/
{model}:generateContent`, `:streamGenerateContent` (SSE with `alt=sse`, else one JSON array), `:countTokens`,
the embeddings (`:embedContent` and `:batchEmbedContents`, which google-genai uses for Gemini embedding
models, and `:predict`, for the others), and the same under `/v1beta1/` (the SDK's default version); and Vertex's
express mode (google-genai with `vertexai=True` and an API key, as Google's ADK runs with
`GOOGLE_GENAI_USE_VERTEXAI=TRUE`), whose paths name no project: `/v1/publishers/{publisher}/models/{model}:…`.

One translator, two URL shapes: the Gemini API door's handlers (routes.py) serve every method, with its two
roads (relayed to a provider that serves generateContent itself, a `gemini` or `vertex` one; translated for
every other) and its errors in Google's format. What Vertex spells otherwise is read here: its countTokens
body (the generateContent fields at the top level) and its embedding requests (translate_embed.py).

`{model}` is a model of the gateway. google-genai in Vertex mode writes a model named `openai/gpt-4o-mini` as
`publishers/openai/models/gpt-4o-mini`, so a publisher other than `google` is the model name's prefix again.
The paths are read by vertex_paths.py, which Claude's rawPredict door on the same prefix shares. A caller
authenticates as on every route: the bearer token google-genai sends (its credentials' token) is a gateway key,
a virtual key or a JWT caller's token; in express mode its API key comes in `x-goog-api-key`.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Final

from babelgate.errors import MethodNotAllowed, NotFound
from babelgate.exchange import Exchange
from babelgate.frontends.gemini import routes, wire
from babelgate.frontends.gemini.field_names import VERTEX_BATCH_EMBED_REQUEST, VERTEX_EMBED_REQUEST
from babelgate.frontends.gemini.translate import encode_error
from babelgate.frontends.gemini.translate_embed import VERTEX_BATCH_EMBED, VERTEX_EMBED, VERTEX_PREDICT
from babelgate.frontends.route import SSE, Frontend, Operation, PrefixRoute
from babelgate.frontends.vertex_paths import EXPRESS, PREFIXES, PublisherModel, claims, express_model, publisher_model
from babelgate.model_call import ModelCall

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

PREDICT: Final = "predict"
METHODS: Final = frozenset({*wire.METHODS, PREDICT})
ROUTE_NAMES: Final = {name: f"vertex.{name}" for name in METHODS}
# The publisher whose models are named without it: google-genai writes `gemini-2.5-flash` under it.
GOOGLE: Final = "google"


def publisher_method(runtime: Runtime, exchange: Exchange, rest: str) -> Awaitable[ModelCall]:
    """Under a project's path."""
    return _serve(runtime, exchange, publisher_model(rest))


def express_method(runtime: Runtime, exchange: Exchange, rest: str) -> Awaitable[ModelCall]:
    """Under express mode's, with no project."""
    return _serve(runtime, exchange, express_model(rest))


async def _serve(runtime: Runtime, exchange: Exchange, found: PublisherModel | None) -> ModelCall:
    method = exchange.scope["method"]
    if found is None or found.method not in METHODS:
        raise NotFound(method=method, path=exchange.scope["path"])
    if method != "POST":
        raise MethodNotAllowed(method=method, path=exchange.scope["path"])
    model = found.model if found.publisher == GOOGLE else f"{found.publisher}/{found.model}"
    name = found.method
    exchange.call.route = ROUTE_NAMES[name]
    if name in (wire.GENERATE, wire.STREAM):
        return await routes.generate(runtime, exchange, model, stream=name == wire.STREAM)
    if name == wire.COUNT_TOKENS:
        return await routes.count_tokens(runtime, exchange, model)
    if name == wire.EMBED:
        return await routes.embed(runtime, exchange, model, VERTEX_EMBED, VERTEX_EMBED_REQUEST)
    if name == wire.BATCH_EMBED:
        return await routes.embed(runtime, exchange, model, VERTEX_BATCH_EMBED, VERTEX_BATCH_EMBED_REQUEST)
    return await routes.embed(runtime, exchange, model, VERTEX_PREDICT, None)


_EMBED_BODY: Final = {"type": "object", "required": ["content"]}
_OPERATIONS: Final = {
    f":{wire.GENERATE}": (Operation("POST", body=routes.GENERATE_BODY),),
    f":{wire.STREAM}": (Operation("POST", body=routes.GENERATE_BODY, streams=SSE, query=("alt",)),),
    f":{wire.COUNT_TOKENS}": (Operation("POST", body={"type": "object"}),),
    f":{wire.EMBED}": (Operation("POST", body=_EMBED_BODY),),
    f":{wire.BATCH_EMBED}": (Operation("POST", body={"type": "object", "required": ["requests"]}),),
    f":{PREDICT}": (Operation("POST", body={"type": "object", "required": ["instances"]}),),
}
PREFIX_ROUTES: Final = tuple(
    PrefixRoute(
        prefix,
        name,
        handler,
        False,
        # One path parameter stands for `{project}/locations/{location}/publishers/{publisher}/models/{model}`, or
        # express mode's `{publisher}/models/{model}`.
        "resource",
        _OPERATIONS,
        errors=encode_error,
        # Express mode's prefixes are this door's alone: every request there is its own (in Google's format too).
        claims=None if handler is express_method else claims(METHODS),
        names_model=True,
    )
    for prefix, name, handler in (
        (PREFIXES[0], "vertex.gemini", publisher_method),
        (PREFIXES[1], "vertex.gemini.v1beta1", publisher_method),
        (EXPRESS[0], "vertex.gemini.express", express_method),
        (EXPRESS[1], "vertex.gemini.express.v1beta1", express_method),
    )
)

FRONTEND: Final[Frontend] = Frontend(
    routes={},
    prefix_routes=PREFIX_ROUTES,
    error_prefix=("/v1beta1/", encode_error),
    operations={
        ROUTE_NAMES[wire.GENERATE]: "chat",
        ROUTE_NAMES[wire.STREAM]: "chat",
        ROUTE_NAMES[wire.EMBED]: "embeddings",
        ROUTE_NAMES[wire.BATCH_EMBED]: "embeddings",
        ROUTE_NAMES[PREDICT]: "embeddings",
    },
)
