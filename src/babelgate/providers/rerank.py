"""The rerank wire shapes that several upstreams share, and the reading of their answers.

Cohere's v2 `/rerank` body (`{model, query, documents, top_n, max_tokens_per_doc}`) is also what Jina, vLLM,
Infinity and Cohere's models on Bedrock take; Voyage names `top_n` `top_k`. Answers list `{index,
relevance_score}` under `results` (Voyage: `data`); usage is Cohere's `meta.billed_units.search_units` or the
others' `usage.total_tokens`. Every provider that reranks reads its answer here, so that an index outside the
documents or a score that is no number is the upstream's protocol error, never a wrong answer.
"""

from __future__ import annotations

import math
from typing import Any, Final

from babelgate.errors import UpstreamProtocolError
from babelgate.schema.chat import Usage
from babelgate.schema.rerank import RerankRequest, RerankResponse, RerankResult

# Cohere's billing unit: one query over up to this many documents is one search.
DOCUMENTS_PER_SEARCH: Final = 100


def cohere_body(request: RerankRequest, model: str, *, top: str = "top_n") -> dict[str, Any]:
    """Cohere's v2 body for `model` (`top`: the upstream's name of `top_n`); the request's extra fields ride along."""
    body: dict[str, Any] = {**request.extra, "model": model, "query": request.query, "documents": request.documents}
    if request.top_n is not None:
        body[top] = request.top_n
    if request.max_tokens_per_doc is not None:
        body["max_tokens_per_doc"] = request.max_tokens_per_doc
    return body


def read_answer(
    parsed: dict[str, Any], request: RerankRequest, provider: str, *, results: str = "results"
) -> RerankResponse:
    """The scored results (best first, at most `top_n`) and usage of an answer with `{index, relevance_score}` items."""
    items = parsed.get(results)
    if not isinstance(items, list):
        raise UpstreamProtocolError(provider=provider, detail=f"the answer has no `{results}` list")
    scored = [_result(item, len(request.documents), provider) for item in items]
    return RerankResponse(ranked(scored, request.top_n), usage_of(parsed, request), _id(parsed))


def ranked(results: list[RerankResult], top_n: int | None) -> list[RerankResult]:
    """Best first (ties keep the documents' order), cut at `top_n`: what the door promises whatever the upstream did."""
    ordered = sorted(results, key=lambda result: (-result.relevance_score, result.index))
    return ordered[:top_n] if top_n is not None else ordered


def usage_of(parsed: dict[str, Any], request: RerankRequest) -> Usage:
    """Search units where the upstream bills by the search (Cohere's `meta.billed_units`), tokens where it counts
    them (`usage.total_tokens`); with neither, Cohere's rule: a search per started hundred documents."""
    meta = parsed.get("meta")
    billed = meta.get("billed_units") if isinstance(meta, dict) else None
    units = billed.get("search_units") if isinstance(billed, dict) else None
    usage = parsed.get("usage")
    tokens = usage.get("total_tokens", usage.get("prompt_tokens")) if isinstance(usage, dict) else None
    if isinstance(tokens, (int, float)) and _count(tokens):
        return Usage(prompt_tokens=int(tokens), total_tokens=int(tokens))
    return Usage(search_units=int(units) if isinstance(units, (int, float)) and _count(units) else searches(request))


def searches(request: RerankRequest) -> int:
    return max(1, math.ceil(len(request.documents) / DOCUMENTS_PER_SEARCH))


def _count(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _result(item: Any, documents: int, provider: str) -> RerankResult:
    if not isinstance(item, dict):
        raise UpstreamProtocolError(provider=provider, detail="a result is not an object")
    index, score = item.get("index"), item.get("relevance_score", item.get("score"))
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < documents:
        raise UpstreamProtocolError(provider=provider, detail=f"a result's index {index!r} names no document")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        raise UpstreamProtocolError(provider=provider, detail="a result's relevance_score is not a number")
    return RerankResult(index, float(score))


def _id(parsed: dict[str, Any]) -> str | None:
    value = parsed.get("id")
    return value if isinstance(value, str) else None
