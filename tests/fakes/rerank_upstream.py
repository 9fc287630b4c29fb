"""Fake rerank (and Mistral moderation) upstreams on 127.0.0.1, each in its own API's shape:

- Cohere's `POST /v2/rerank` (the fields `cohere.ClientV2.rerank` sends; answers a `V2RerankResponse`, checked
  with the cohere SDK's own type, and `meta.billed_units.search_units`);
- Jina's `POST /jina/v1/rerank` (Cohere-like body with `return_documents`; answers `results` in the documents'
  order, not sorted, with `usage.total_tokens`);
- vLLM's `POST /vllm/v1/rerank` (Cohere-like; `results` and `usage.total_tokens`);
- Voyage's `POST /voyage/v1/rerank` (`top_k`; answers under `data`, checked with the voyageai SDK's own type);
- Mistral's `POST /mistral/v1/moderations` (`{model, input}`; Mistral's categories).

A document's score is the share of the query's words it holds; what the gateway sends that the real API would
refuse is noted in `violations`. `script(Reply(...))` makes the next call answer that instead.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Final

from aiohttp import web

from tests.fakes.scripted import Received, Reply, ScriptedStreams

COHERE_FIELDS: Final = frozenset({"model", "query", "documents", "top_n", "max_tokens_per_doc", "priority"})
JINA_FIELDS: Final = frozenset({"model", "query", "documents", "top_n", "return_documents"})
VLLM_FIELDS: Final = frozenset({"model", "query", "documents", "top_n", "max_tokens_per_doc"})
VOYAGE_FIELDS: Final = frozenset({"model", "query", "documents", "top_k", "return_documents", "truncation"})
MISTRAL_CATEGORIES: Final = (
    "sexual",
    "hate_and_discrimination",
    "violence_and_threats",
    "dangerous_and_criminal_content",
    "selfharm",
    "health",
    "financial",
    "law",
    "pii",
)


def score(query: str, document: str) -> float:
    words = set(query.lower().split())
    held = set(document.lower().split())
    return round(len(words & held) / max(1, len(words)), 4)


class FakeRerank(ScriptedStreams):
    def __init__(self, key: str) -> None:
        self.key = key
        self.replies: deque[Reply] = deque()
        self.received: list[Received] = []
        self.violations: list[str] = []

    def reset(self) -> None:
        self.replies.clear()
        self.received.clear()
        self.violations.clear()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v2/rerank", self._cohere)
        app.router.add_post("/jina/v1/rerank", self._jina)
        app.router.add_post("/vllm/v1/rerank", self._vllm)
        app.router.add_post("/voyage/v1/rerank", self._voyage)
        app.router.add_post("/mistral/v1/moderations", self._mistral_moderation)
        await self.serve(app)

    async def _take(self, request: web.Request, known: frozenset[str]) -> tuple[dict[str, Any], web.Response | None]:
        body = await request.json()
        self.received.append(Received(request.method, request.path, dict(request.headers), body))
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            self.violations.append(f"{request.path}: not the upstream's bearer key")
            return body, web.json_response({"message": "invalid api token"}, status=401)
        self.violations += [f"{request.path}: unknown field {name}" for name in body if name not in known]
        if not isinstance(body.get("query", ""), str) or not isinstance(body.get("model"), str):
            self.violations.append(f"{request.path}: query or model is not a string")
        documents = body.get("documents", [])
        if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
            self.violations.append(f"{request.path}: documents are not strings")
        if self.replies:
            reply = self.replies.popleft()
            return body, web.json_response(reply.json, status=reply.status, headers=reply.headers)
        return body, None

    def _scored(self, body: dict[str, Any], top: str) -> list[tuple[int, float]]:
        pairs = [(index, score(body["query"], text)) for index, text in enumerate(body["documents"])]
        ranked = sorted(pairs, key=lambda pair: -pair[1])
        return ranked[: body[top]] if body.get(top) else ranked

    async def _cohere(self, request: web.Request) -> web.Response:
        body, scripted = await self._take(request, COHERE_FIELDS)
        if scripted is not None:
            return scripted
        answer = {
            "id": "cohere-rerank-1",
            "results": [{"index": index, "relevance_score": value} for index, value in self._scored(body, "top_n")],
            "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
        }
        from cohere import V2RerankResponse

        V2RerankResponse.model_validate(answer)
        return web.json_response(answer)

    async def _jina(self, request: web.Request) -> web.Response:
        body, scripted = await self._take(request, JINA_FIELDS)
        if scripted is not None:
            return scripted
        kept = {index for index, _ in self._scored(body, "top_n")}
        results = [
            {"index": index, "relevance_score": score(body["query"], text), "document": {"text": text}}
            for index, text in enumerate(body["documents"])
            if index in kept
        ]
        return web.json_response({"model": body["model"], "results": results, "usage": {"total_tokens": 42}})

    async def _vllm(self, request: web.Request) -> web.Response:
        body, scripted = await self._take(request, VLLM_FIELDS)
        if scripted is not None:
            return scripted
        results = [
            {"index": index, "document": {"text": body["documents"][index]}, "relevance_score": value}
            for index, value in self._scored(body, "top_n")
        ]
        return web.json_response(
            {"id": "rerank-vllm", "model": body["model"], "usage": {"total_tokens": 17}, "results": results}
        )

    async def _voyage(self, request: web.Request) -> web.Response:
        body, scripted = await self._take(request, VOYAGE_FIELDS)
        if scripted is not None:
            return scripted
        data = [{"index": index, "relevance_score": value} for index, value in self._scored(body, "top_k")]
        answer = {"object": "list", "data": data, "model": body["model"], "usage": {"total_tokens": 30}}
        from voyageai.api_resources.response import VoyageResponse
        from voyageai.object.reranking import RerankingObject

        RerankingObject(body["documents"], VoyageResponse.construct_from(answer))  # the voyageai SDK reads it
        return web.json_response(answer)

    async def _mistral_moderation(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(Received(request.method, request.path, dict(request.headers), body))
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            self.violations.append("moderations: not the upstream's bearer key")
            return web.json_response({"message": "Unauthorized"}, status=401)
        self.violations += [f"moderations: unknown field {name}" for name in body if name not in ("model", "input")]
        given = body.get("input")
        texts = given if isinstance(given, list) else [given]
        if not all(isinstance(text, str) for text in texts):
            self.violations.append("moderations: input is not a string or strings")
            texts = [str(text) for text in texts]
        results = []
        for text in texts:
            hits = {"violence_and_threats", "pii"} if "forbidden" in text else set()
            results.append(
                {
                    "categories": {name: name in hits for name in MISTRAL_CATEGORIES},
                    "category_scores": {name: 0.95 if name in hits else 0.01 for name in MISTRAL_CATEGORIES},
                }
            )
        return web.json_response({"id": "mod-1", "model": body.get("model"), "results": results})
