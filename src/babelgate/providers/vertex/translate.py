"""What Vertex AI takes differently from the APIs whose translators it reuses (pure functions).

Chat goes through the Gemini translators (providers/gemini/translate.py: the same GenerateContent
bodies, with `role` on every content, which Vertex requires and the Gemini translator always writes),
through the Anthropic translators (a Messages body, made a rawPredict body here), or through the OpenAI
codec (endpoints/openapi). Embeddings are Vertex's own: `:predict` with one instance per text (GEM
`_EmbedContentParametersPrivate_to_vertex`, `embedding_api_type` PREDICT) where the Gemini API has
`batchEmbedContents`.
"""

from __future__ import annotations

from typing import Any

from babelgate.errors import InvalidRequest, UnsupportedCapability
from babelgate.providers.gemini.wire import TASK_TYPES
from babelgate.providers.vertex.wire import ANTHROPIC_VERSION
from babelgate.schema.chat import JSON, Usage
from babelgate.schema.embeddings import EmbeddingRequest, EmbeddingResponse

PROVIDER = "vertex"


def raw_predict_body(body: dict[str, Any], *, keep_model: bool = False) -> dict[str, Any]:
    """A Messages body as rawPredict takes it (ANTV `_prepare_options`): `anthropic_version` in the
    body, and no `model` (the URL names it), except for count-tokens, whose URL names none."""
    out = {key: value for key, value in body.items() if keep_model or key != "model"}
    out.setdefault("anthropic_version", ANTHROPIC_VERSION)
    return out


def embedding_to_wire(request: EmbeddingRequest, adjusted: list[str], *, task_type: str | None = None) -> JSON:
    """`{"instances": [{"content", "task_type"?}], "parameters": {"outputDimensionality"?}}`."""
    texts = [item for item in request.inputs if isinstance(item, str)]
    if len(texts) != len(request.inputs):
        raise UnsupportedCapability(provider=PROVIDER, capability="token-id inputs (send text)", param="input")
    requested = request.extra.get("task_type", task_type)
    if requested is not None and requested not in TASK_TYPES:
        raise InvalidRequest("invalid_value", param="task_type", detail=f"expected one of {', '.join(TASK_TYPES)}")
    for name, value in request.extra.items():
        if name != "task_type" and value is not None:
            adjusted.append(f"{name}=dropped")
    if request.user:
        adjusted.append("user=dropped")
    instance: JSON = {"task_type": requested} if requested is not None else {}
    body: JSON = {"instances": [{"content": text, **instance} for text in texts]}
    if request.dimensions is not None:
        body["parameters"] = {"outputDimensionality": request.dimensions}
    return body


def embedding_from_wire(body: JSON, model: str) -> EmbeddingResponse:
    """`predictions[].embeddings.values`, in request order; each prediction's `statistics.token_count`
    summed into usage (VTX: "the number of tokens of the input text")."""
    vectors: list[list[float]] = []
    tokens = 0
    counted = False
    for prediction in body["predictions"]:
        embeddings = prediction["embeddings"]
        vectors.append([float(x) for x in embeddings["values"]])
        statistics = embeddings.get("statistics")
        if isinstance(statistics, dict) and "token_count" in statistics:
            tokens += int(statistics["token_count"] or 0)
            counted = True
    usage = Usage(prompt_tokens=tokens, total_tokens=tokens) if counted else None
    return EmbeddingResponse(model=model, vectors=vectors, usage=usage)


def merged_embeddings(answers: list[EmbeddingResponse], model: str) -> EmbeddingResponse:
    """The answers of one-instance calls (gemini-embedding-001 on Vertex takes one per request) as one."""
    vectors = [vector for answer in answers for vector in answer.vectors]
    usages = [answer.usage for answer in answers if answer.usage is not None]
    tokens = sum(usage.prompt_tokens for usage in usages)
    usage = Usage(prompt_tokens=tokens, total_tokens=tokens) if usages else None
    return EmbeddingResponse(model=model, vectors=vectors, usage=usage)
