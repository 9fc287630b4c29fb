"""What a frontend declares for each of its paths: method, handler, metric name, and the error
format its clients read (OpenAI's by default; Anthropic and Ollama clients expect their own)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from babelgate.answer import Answer
from babelgate.errors import GatewayError
from babelgate.exchange import ErrorHeaders, Exchange
from babelgate.frontends.openai_errors import encode_error
from babelgate.model_call import ModelCall

if TYPE_CHECKING:
    from babelgate.observability.request_id import RequestIds
    from babelgate.runtime import Runtime

# A handler reads and checks its request and returns what to answer: its own answer (a route that names no
# model), or the model call for the pipeline to conduct. It never writes to the exchange.
Handler = Callable[["Runtime", Exchange], Awaitable[Answer | ModelCall]]
PrefixHandler = Callable[["Runtime", Exchange, str], Awaitable[Answer | ModelCall]]  # the path's rest after the prefix
JSON = dict[str, Any]
ErrorEncoder = Callable[[GatewayError, str], bytes]  # (error, language) → response body
# (runtime, scope, receive, send, request ids): one WebSocket connection, from accept to close.
WebSocketHandler = Callable[["Runtime", Any, Any, Any, "RequestIds"], Awaitable[None]]


SSE: Final = "text/event-stream"
NDJSON: Final = "application/x-ndjson"


@dataclass(frozen=True, slots=True)
class Operation:
    """One method on a path, as /openapi.json describes it (frontends/openapi.py)."""

    method: str
    body: JSON | None = None  # JSON Schema of a JSON body (frontends/body_schema.py)
    form: JSON | None = None  # of a multipart/form-data body
    body_optional: bool = False  # no body at all is fine too (an admin key with every default)
    streams: str = ""  # the media type of a streamed answer it may give (SSE; NDJSON on the Ollama API)
    status: int = 200  # the status of a success
    query: tuple[str, ...] = ()  # query parameters it reads
    answers: str = "application/json"  # the media type of a success


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    handler: Handler
    name: str
    public: bool = False  # reachable without a gateway key
    errors: ErrorEncoder = encode_error
    # What /openapi.json says of it; empty: one `method` operation with no body.
    operations: tuple[Operation, ...] = ()

    def documented(self) -> tuple[Operation, ...]:
        return self.operations or (Operation(self.method),)

    @property
    def names_model(self) -> bool:
        """Its body names a model: a request to it leaves a ledger row, even one refused before
        the body was read (a wrong key)."""
        return any(
            "model" in (schema or {}).get("properties", ())
            for operation in self.documented()
            for schema in (operation.body, operation.form)
        )


@dataclass(frozen=True, slots=True)
class PrefixRoute:
    """A route with an id in its path: `prefix` then the id, and perhaps a suffix after it."""

    prefix: str
    name: str
    handler: PrefixHandler
    public: bool  # to the gateway-key check (the admin API checks the master key itself)
    parameter: str  # the id's name in /openapi.json
    operations: Mapping[str, tuple[Operation, ...]]  # suffix after the id ("" for none) → its methods
    errors: ErrorEncoder = encode_error
    # (method, the path's rest) → whether the request is this route's, where two frontends share a prefix
    # (`/v1/models/{model}:generateContent` is the Gemini API's, `/v1/models/{model}` OpenAI's); routes with
    # one are tried first. None: every request under the prefix.
    claims: Callable[[str, str], bool] | None = None
    # The path names a model (the Gemini API's `{model}:method`): a request refused before it reached the
    # model (a wrong key) still leaves a ledger row, as on the routes whose body names one.
    names_model: bool = False
    # Headers an error's answer carries besides its body, in the route's format (Bedrock's `x-amzn-ErrorType`).
    error_headers: ErrorHeaders | None = None


@dataclass(frozen=True, slots=True)
class Frontend:
    """All the app learns of one frontend (frontends/__init__.py lists them): its paths, the paths with an id,
    the path prefix under which even an unknown path answers in its error format, its WebSocket paths, and
    the GenAI operation (`gen_ai.operation.name`: chat, text_completion, embeddings) of each of its routes
    that calls a model. Adding a frontend is its folder and one entry in that list."""

    routes: Mapping[str, Route]
    prefix_routes: tuple[PrefixRoute, ...] = ()
    error_prefix: tuple[str, ErrorEncoder] | None = None
    websocket_paths: frozenset[str] = frozenset()
    websocket: WebSocketHandler | None = None  # serves a connection on one of `websocket_paths`
    operations: Mapping[str, str] = field(default_factory=dict)  # route name -> gen_ai.operation.name
