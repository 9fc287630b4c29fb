"""`embedContent` and `batchEmbedContents` ⇄ the gateway's embeddings request (pure): one text per
request (its parts' texts joined, as Gemini embeds a Content's parts into one vector),
`outputDimensionality` as `dimensions`, `taskType` as the `task_type` the Gemini provider reads (another
provider drops and reports it); a `title` is dropped and reported."""

from __future__ import annotations

from typing import Any

from babelgate.errors import InvalidRequest
from babelgate.frontends.gemini.wire import JSON
from babelgate.frontends.openai_validation import expect_number, expect_object
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
        raise InvalidRequest("missing_field" if requests is None else "wrong_type", param="requests")
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
