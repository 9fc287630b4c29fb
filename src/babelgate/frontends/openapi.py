"""`GET /openapi.json`: the gateway's own OpenAPI 3.1 document, generated from the route table.

Every path the gateway serves is in the route table (app.py), and each route declares its
operations (frontends/route.py) with the JSON Schema of its body, built from the validators'
own tables (frontends/body_schema.py). This module only arranges them: a route added to the
table is documented, and a validator's range changed is published, with nothing written twice.
Errors are described in each route's own format (OpenAI's, Anthropic's, Ollama's, Google's or Bedrock's), which is
what the fuzz tests (tests/reliability/) hold every 4xx to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final

import orjson

from babelgate.answer import Answer
from babelgate.exchange import Exchange
from babelgate.frontends.anthropic_clouds.bedrock import encode_error as bedrock_errors
from babelgate.frontends.anthropic_clouds.vertex import encode_error as vertex_errors
from babelgate.frontends.anthropic_messages.translate import encode_error as anthropic_errors
from babelgate.frontends.body_schema import INTEGER, JSON, STRING, obj
from babelgate.frontends.gemini.translate import encode_error as google_errors
from babelgate.frontends.ollama.wire import encode_error as ollama_errors
from babelgate.frontends.openai_errors import encode_error as openai_errors
from babelgate.frontends.rerank import encode_error as cohere_errors
from babelgate.frontends.route import ErrorEncoder, Operation, PrefixRoute, Route

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

NULLABLE_STRING: Final = {"type": ["string", "null"]}
# The error formats: OpenAI's `{"error": {...}}`, Anthropic's `{"type": "error", ...}`, Ollama's `{"error": "..."}`.
ERROR_SCHEMAS: Final[dict[str, JSON]] = {
    "OpenAIError": obj(
        ("error",),
        properties={
            "error": obj(
                ("message", "type"),
                properties={"message": STRING, "type": STRING, "param": NULLABLE_STRING, "code": NULLABLE_STRING},
            )
        },
    ),
    "AnthropicError": obj(
        ("type", "error"),
        properties={"type": {"const": "error"}, "error": obj(("type", "message"), strings=("type", "message"))},
    ),
    "OllamaError": obj(("error",), strings=("error",)),
    # Bedrock's: the error's name is in the `x-amzn-ErrorType` header.
    "BedrockError": obj(("message",), strings=("message",)),
    # Cohere's (the rerank door's): `message`, and an id of the error.
    "CohereError": obj(("id", "message"), strings=("id", "message")),
    "GoogleError": obj(
        ("error",),
        properties={
            "error": obj(
                ("code", "message", "status"), properties={"code": INTEGER, "message": STRING, "status": STRING}
            )
        },
    ),
}
_SCHEMA_OF: Final[dict[ErrorEncoder, str]] = {
    openai_errors: "OpenAIError",
    anthropic_errors: "AnthropicError",
    ollama_errors: "OllamaError",
    google_errors: "GoogleError",
    vertex_errors: "GoogleError",
    bedrock_errors: "BedrockError",
    cohere_errors: "CohereError",
}
# Paths served at the root; the rest are documented under /v1 (they answer without it too).
_UNVERSIONED: Final = (
    "/api/",
    "/v1beta/",
    "/v1beta1/",
    "/model/",
    "/inference-profiles",
    "/foundation-models",
    "/admin/",
    "/ui",
    "/health",
    "/metrics",
    "/openapi.json",
)
_DESCRIPTION: Final = (
    "One API in front of OpenAI, Anthropic, Gemini, Mistral and any OpenAI-compatible server. Every "
    "/v1 path also answers without the /v1 prefix. `/v1/responses` also accepts a WebSocket (OpenAI's "
    "Responses WebSocket mode), and `/v1/realtime` is a WebSocket only (OpenAI's Realtime API), which OpenAPI "
    "cannot describe. Bodies list what the gateway itself "
    "checks; other fields pass to the upstream. Errors use each API's own format."
)


def document(routes: Mapping[str, Route], prefix_routes: Iterable[PrefixRoute], version: str) -> JSON:
    paths: JSON = {}
    for path, route in routes.items():
        paths[_published(path)] = _operations(
            route.name, route.documented(), route.errors, route.public, route.name.startswith("admin.")
        )
    for prefixed in prefix_routes:
        parameter = {
            "name": prefixed.parameter,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "pattern": "^[^/]+$"},
        }
        for suffix, operations in prefixed.operations.items():
            item = _operations(
                prefixed.name + suffix.replace("/", "."),
                operations,
                prefixed.errors,
                prefixed.public and not prefixed.name.startswith("admin."),
                prefixed.name.startswith("admin."),
            )
            item["parameters"] = [parameter]
            paths[f"{_published(prefixed.prefix)}{{{prefixed.parameter}}}{suffix}"] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "babelgate",
            "version": version,
            "description": _DESCRIPTION,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": paths,
        "components": {
            "schemas": ERROR_SCHEMAS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a gateway key (the master key for /admin)",
                },
                "apiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-api-key",
                    "description": "a gateway key, as Anthropic's clients send it",
                },
            },
        },
    }


def _published(path: str) -> str:
    return path if path == "/" or path.startswith(_UNVERSIONED) else "/v1" + path


def _operations(name: str, operations: tuple[Operation, ...], errors: ErrorEncoder, public: bool, admin: bool) -> JSON:
    error = {
        "description": "an error, in this API's own format",
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{_SCHEMA_OF[errors]}"}}},
    }
    item: JSON = {}
    for operation in operations:
        success: JSON = {operation.answers: {"schema": {}}}
        if operation.streams:
            success[operation.streams] = {"schema": {"type": "string"}}
        entry: JSON = {
            "operationId": name if len(operations) == 1 else f"{name}.{operation.method.lower()}",
            "responses": {
                str(operation.status): {"description": "success", "content": success},
                "4XX": error,
                "5XX": error,
            },
        }
        if operation.body is not None:
            entry["requestBody"] = {
                "required": not operation.body_optional,
                "content": {"application/json": {"schema": operation.body}},
            }
        elif operation.form is not None:
            entry["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": operation.form}}}
        if operation.query:
            entry["parameters"] = [
                {"name": q, "in": "query", "required": False, "schema": {"type": "string"}} for q in operation.query
            ]
        if admin:
            entry["security"] = [{"bearer": []}]
        elif not public:
            entry["security"] = [{"bearer": []}, {"apiKey": []}]
        item[operation.method.lower()] = entry
    return item


class OpenAPIDocument:
    """The document, serialised once per route table and version (it never changes at run time)."""

    def __init__(self, routes: Mapping[str, Route], prefix_routes: Iterable[PrefixRoute]) -> None:
        self._routes = routes
        self._prefix_routes = tuple(prefix_routes)
        self._body: bytes | None = None

    def body(self, version: str) -> bytes:
        if self._body is None:
            self._body = orjson.dumps(document(self._routes, self._prefix_routes, version))
        return self._body

    async def serve(self, runtime: Runtime, exchange: Exchange) -> Answer:
        return Answer(self.body(runtime.version), None)
