"""Canonical rerank request and answer: what the rerank door (`/v1/rerank`, Cohere's v2 shape) decodes
into and every provider that reranks answers."""

from __future__ import annotations

from dataclasses import dataclass, field

from babelgate.schema.chat import JSON, Usage


@dataclass(slots=True)
class RerankRequest:
    model: str
    query: str
    documents: list[str]  # the texts, in the caller's order (an index in the answer points here)
    top_n: int | None = None
    max_tokens_per_doc: int | None = None
    extra: JSON = field(default_factory=dict)


@dataclass(slots=True)
class RerankResult:
    index: int  # into RerankRequest.documents
    relevance_score: float


@dataclass(slots=True)
class RerankResponse:
    results: list[RerankResult]  # best first, at most top_n
    # Tokens where the upstream bills by token (prompt_tokens), search units where it bills by search.
    usage: Usage | None = None
    id: str | None = None
