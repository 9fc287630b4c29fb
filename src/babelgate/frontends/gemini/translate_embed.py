"""`embedContent` and `batchEmbedContents` ⇄ the gateway's embeddings request (pure): one text per
request (its parts' texts joined, as Gemini embeds a Content's parts into one vector),
`outputDimensionality` as `dimensions`, `taskType` as the `task_type` the Gemini provider reads (another
provider drops and reports it); a `title` is dropped and reported.

Vertex AI spells the same requests otherwise (gemini/vertex.py): its `embedContent` and `batchEmbedContents`
put the options in an `embedContentConfig`, and its `predict` (the text-embedding models') takes `instances`
of plain strings with `parameters`, answered with `predictions`. Each is read into the Gemini API's
EmbedContentRequests and goes the same way from there; `autoTruncate` is Vertex's default behaviour on every
provider the gateway serves and is not reported."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from babelgate.errors import InvalidRequest
from babelgate.frontends.gemini.wire import JSON
from babelgate.frontends.openai_validation import expect_number, expect_object
from babelgate.guardrails.paths import TextPaths, paths
from babelgate.schema.embeddings import EmbeddingRequest, EmbeddingResponse


def embedding_request(model: str, requests: list[tuple[JSON, str]], adjusted: list[str]) -> EmbeddingRequest:
    """`requests`: each EmbedContentRequest and its path in the body (`requests[2]`, or `` for one)."""
    texts: list[str] = []
    dimensions: int | None = None
    task_type: Any = None
    for request, path in requests:
        where = f"{path}." if path else ""
        texts.append(_text(request.get("content"), f"{where}content"))
        size = request.get("outputDimensionality")
        if size is not None:
            expect_number(size, f"{where}outputDimensionality", 1, 2**16, integer=True)
            if dimensions is not None and size != dimensions:
                raise InvalidRequest("invalid_value", param=f"{where}outputDimensionality", detail="one size per batch")
            dimensions = size
        kind = request.get("taskType")
        if kind is not None:
            if task_type is not None and kind != task_type:
                raise InvalidRequest("invalid_value", param=f"{where}taskType", detail="one task type per batch")
            task_type = kind
        if request.get("title") is not None:
            entry = "title=dropped"
            if entry not in adjusted:
                adjusted.append(entry)
    extra: JSON = {"task_type": task_type} if task_type is not None else {}
    return EmbeddingRequest(model=model, inputs=texts, dimensions=dimensions, extra=extra)


def batch_requests(body: JSON) -> list[tuple[JSON, str]]:
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        if requests is None:
            raise InvalidRequest("missing_field", param="requests")
        raise InvalidRequest("wrong_type", param="requests", expected="a non-empty array")
    return [(expect_object(item, f"requests[{index}]"), f"requests[{index}]") for index, item in enumerate(requests)]


def _text(content: Any, path: str) -> str:
    content = expect_object(content, path)
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise InvalidRequest("missing_field", param=f"{path}.parts")
    texts = []
    for index, part in enumerate(parts):
        text = expect_object(part, f"{path}.parts[{index}]").get("text")
        if not isinstance(text, str):
            raise InvalidRequest("invalid_value", param=f"{path}.parts[{index}]", detail="only text is embedded here")
        texts.append(text)
    return "\n".join(texts)


def embed_answer(answer: EmbeddingResponse) -> JSON:
    """`{"embedding": {"values"}}` of embedContent."""
    return {"embedding": {"values": answer.vectors[0]}}


def batch_answer(answer: EmbeddingResponse) -> JSON:
    return {"embeddings": [{"values": vector} for vector in answer.vectors]}


# -- Vertex AI's spellings -------------------------------------------------------------------------


def vertex_request(body: JSON) -> list[tuple[JSON, str]]:
    """Vertex's `embedContent`: the content, its options in `embedContentConfig`."""
    return [(_flat(body, ""), "")]


def vertex_batch_requests(body: JSON) -> list[tuple[JSON, str]]:
    return [(_flat(request, path), path) for request, path in batch_requests(body)]


def _flat(request: JSON, path: str) -> JSON:
    config = request.get("embedContentConfig")
    if config is None:
        return request
    where = f"{path}." if path else ""
    return {**expect_object(config, f"{where}embedContentConfig"), "content": request.get("content")}


def predict_requests(body: JSON) -> list[tuple[JSON, str]]:
    """Vertex's `predict` on a text-embedding model: `{"instances": [{"content", "task_type", "title"}],
    "parameters": {"outputDimensionality", "autoTruncate"}}`, each instance one text."""
    instances = body.get("instances")
    if not isinstance(instances, list) or not instances:
        if instances is None:
            raise InvalidRequest("missing_field", param="instances")
        raise InvalidRequest("wrong_type", param="instances", expected="a non-empty array")
    parameters = expect_object(body.get("parameters") or {}, "parameters")
    size = parameters.get("outputDimensionality")
    requests: list[tuple[JSON, str]] = []
    for index, item in enumerate(instances):
        path = f"instances[{index}]"
        instance = expect_object(item, path)
        text = instance.get("content")
        if text is None:
            raise InvalidRequest("missing_field", param=f"{path}.content")
        if not isinstance(text, str):
            raise InvalidRequest("wrong_type", param=f"{path}.content", expected="a string")
        request: JSON = {"content": {"parts": [{"text": text}]}, "outputDimensionality": size}
        for name, camel in (("task_type", "taskType"), ("title", "title")):
            if instance.get(name) is not None:
                request[camel] = instance[name]
        requests.append((request, path))
    return requests


def vertex_embed_answer(answer: EmbeddingResponse) -> JSON:
    """`{"embedding": {"values"}, "usageMetadata"}`: google-genai makes the usage the embedding's statistics."""
    body = embed_answer(answer)
    if answer.usage is not None:
        body["usageMetadata"] = {"promptTokenCount": answer.usage.prompt_tokens}
    return body


def predict_answer(answer: EmbeddingResponse) -> JSON:
    """`{"predictions": [{"embeddings": {"values", "statistics"}}]}`. The upstream counts a request's tokens, not
    each text's: one text's count is the request's, several texts' statistics say only that none was cut."""
    single = len(answer.vectors) == 1 and answer.usage is not None
    predictions = []
    for vector in answer.vectors:
        statistics: JSON = {"truncated": False}
        if single and answer.usage is not None:
            statistics["token_count"] = answer.usage.prompt_tokens
        predictions.append({"embeddings": {"values": vector, "statistics": statistics}})
    return {"predictions": predictions}


@dataclass(frozen=True, slots=True)
class EmbedShape:
    """One embedding method as its clients write it: its requests read from the body (each with its path, for
    errors), its answer, and where the guardrails find its texts."""

    requests: Callable[[JSON], list[tuple[JSON, str]]]
    answer: Callable[[EmbeddingResponse], JSON]
    texts: TextPaths


# The Gemini API's (batch requests: `requests.*`), and Vertex's (its batch the same, `predict`: `instances.*`).
GEMINI_EMBED: Final = EmbedShape(
    lambda body: [(body, "")], embed_answer, TextPaths(input=paths("content.parts.*.text"))
)
GEMINI_BATCH_EMBED: Final = EmbedShape(
    batch_requests, batch_answer, TextPaths(input=paths("requests.*.content.parts.*.text"))
)
VERTEX_EMBED: Final = EmbedShape(vertex_request, vertex_embed_answer, GEMINI_EMBED.texts)
VERTEX_BATCH_EMBED: Final = EmbedShape(vertex_batch_requests, batch_answer, GEMINI_BATCH_EMBED.texts)
VERTEX_PREDICT: Final = EmbedShape(predict_requests, predict_answer, TextPaths(input=paths("instances.*.content")))
