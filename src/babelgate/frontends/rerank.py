"""`POST /v1/rerank` (also `/rerank` and `/v2/rerank`) in Cohere's v2 shape, for every provider that reranks.

The request: `{model, query, documents: [str | {text}], top_n?, return_documents?, max_tokens_per_doc?}`; the
answer: `{id, results: [{index, relevance_score, document?: {text}}], meta: {billed_units}}`, best first, at most
`top_n`, each index the caller's own. Whichever upstream answered (Cohere, Jina, Voyage, vLLM, Bedrock, Vertex),
the results are sorted and cut here, and documents are added from the request (upstreams are never asked to send
them back). Errors are Cohere's `{"id", "message"}`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate.answer import Answer
from babelgate.errors import GatewayError, InvalidRequest
from babelgate.exchange import Exchange
from babelgate.frontends import body_schema as schema
from babelgate.frontends.openai_validation import expect_number, require_model
from babelgate.frontends.route import Frontend, Operation, Route
from babelgate.guardrails.paths import TextPaths, paths
from babelgate.i18n import render_message
from babelgate.model_call import ModelCall
from babelgate.pipeline import Body, require
from babelgate.providers.base import CallNotes, rerank_of
from babelgate.routing.registry import Deployment
from babelgate.schema.rerank import RerankRequest, RerankResponse

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

# Cohere's own cap on one request's documents.
MAX_DOCUMENTS: Final = 10_000
_KNOWN: Final = frozenset({"model", "query", "documents", "top_n", "return_documents", "max_tokens_per_doc"})
_DOCUMENT: Final = schema.any_of(schema.STRING, schema.obj(("text",), strings=("text",)))
# What decode_request reads, as /openapi.json publishes it.
RERANK_BODY: Final = schema.obj(
    ("model", "query", "documents"),
    strings=("query",),
    booleans=("return_documents",),
    properties={
        "model": schema.MODEL,
        "query": {"type": "string", "minLength": 1},
        "documents": schema.array(_DOCUMENT, min_items=1),
        "top_n": schema.number(1, MAX_DOCUMENTS, integer=True),
        "max_tokens_per_doc": schema.number(1, 2**20, integer=True),
    },
)
# The query and the documents, for the guardrails' input stage (an answer of scores has no text to check).
TEXTS: Final = TextPaths(input=paths("query", "documents.*", "documents.*.text"))


async def rerank(runtime: Runtime, exchange: Exchange) -> ModelCall:
    body = Body(await exchange.read_body(runtime.max_body_bytes))

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        fields = body.take()
        deployment.apply_to_body(fields)
        request, return_documents = decode_request(fields, notes.adjusted)
        answer = await rerank_of(deployment.provider).rerank(request, deployment.model, notes)
        notes.usage = answer.usage
        return Answer(orjson.dumps(encode_response(answer, request, return_documents=return_documents)), notes)

    return ModelCall(
        require_model(body.peek()), attempt, False, check=_capable, cache_body=body.raw, texts=TEXTS, document=body
    )


def _capable(deployment: Deployment) -> None:
    require(deployment.provider.capabilities.rerank, deployment, "rerank")


def decode_request(body: dict[str, Any], adjusted: list[str]) -> tuple[RerankRequest, bool]:
    """The canonical request, and whether the caller wants its documents back; fields of Cohere's the gateway
    does not carry (`priority`, `relevant_spans`…) are dropped and reported."""
    query = body.get("query")
    if query is None:
        raise InvalidRequest("missing_field", param="query")
    if not isinstance(query, str) or not query.strip():
        raise InvalidRequest("wrong_type", param="query", expected="a non-empty string")
    documents = _documents(body.get("documents"))
    top_n = body.get("top_n")
    if top_n is not None:
        expect_number(top_n, "top_n", 1, MAX_DOCUMENTS, integer=True)
    most = body.get("max_tokens_per_doc")
    if most is not None:
        expect_number(most, "max_tokens_per_doc", 1, 2**20, integer=True)
    return_documents = body.get("return_documents", False)
    if not isinstance(return_documents, bool):
        raise InvalidRequest("wrong_type", param="return_documents", expected="a boolean")
    adjusted.extend(f"{name}=dropped" for name in body if name not in _KNOWN)
    request = RerankRequest(model=require_model(body), query=query, documents=documents, top_n=top_n)
    request.max_tokens_per_doc = most
    return request, return_documents


def _documents(value: Any) -> list[str]:
    """Strings, or Cohere's v1 `{text}` objects → the texts."""
    if value is None:
        raise InvalidRequest("missing_field", param="documents")
    if not isinstance(value, list) or not value:
        raise InvalidRequest("wrong_type", param="documents", expected="a non-empty array")
    if len(value) > MAX_DOCUMENTS:
        raise InvalidRequest("out_of_range", param="documents", expected=f"at most {MAX_DOCUMENTS} documents")
    texts = []
    for index, document in enumerate(value):
        text = document.get("text") if isinstance(document, dict) else document
        if not isinstance(text, str):
            raise InvalidRequest("wrong_type", param=f"documents[{index}]", expected="a string or an object with text")
        texts.append(text)
    return texts


def encode_response(answer: RerankResponse, request: RerankRequest, *, return_documents: bool) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for result in answer.results:
        item: dict[str, Any] = {"index": result.index, "relevance_score": result.relevance_score}
        if return_documents:
            item["document"] = {"text": request.documents[result.index]}
        results.append(item)
    usage = answer.usage
    billed: dict[str, int] = {}
    if usage is not None and usage.search_units:
        billed["search_units"] = usage.search_units
    if usage is not None and usage.prompt_tokens:
        billed["input_tokens"] = usage.prompt_tokens
    return {
        "id": answer.id or str(uuid.uuid4()),
        "results": results,
        "meta": {"api_version": {"version": "2"}, "billed_units": billed},
    }


def encode_error(error: GatewayError, language: str) -> bytes:
    """Cohere's error body: what its SDKs read (`message`)."""
    return orjson.dumps({"id": str(uuid.uuid4()), "message": render_message(error, language)})


_ROUTE: Final = Route("POST", rerank, "rerank", errors=encode_error, operations=(Operation("POST", body=RERANK_BODY),))
FRONTEND: Final[Frontend] = Frontend(
    # `/rerank` answers at `/v1/rerank` too; `/v2/rerank` is where Cohere's ClientV2 sends it.
    routes={"/rerank": _ROUTE, "/v2/rerank": _ROUTE},
    operations={"rerank": "rerank"},
)
