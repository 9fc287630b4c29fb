"""Embeddings on Bedrock through InvokeModel (pure): Amazon Titan and Cohere Embed bodies.

Titan (`amazon.titan-embed-text-v2:0`, `…-v1`) embeds one text per call: `{"inputText", "dimensions",
"normalize"}` -> `{"embedding", "inputTextTokenCount"}`; `dimensions` is 256, 512 or 1024 on v2, fixed
(1536) on v1. Cohere (`cohere.embed-*`) embeds up to 96 texts per call: `{"texts", "input_type"}` ->
`{"embeddings": [[…]]}` (or `{"embeddings": {"float": [[…]]}}` when types are asked for); its token
count comes in the `X-Amzn-Bedrock-Input-Token-Count` header.
"""

from __future__ import annotations

from typing import Any, Final

from babelgate.errors import InvalidRequest, UnsupportedCapability
from babelgate.schema.chat import JSON

PROVIDER: Final = "bedrock"
TITAN_V2_DIMENSIONS: Final = (256, 512, 1024)
TITAN_V1_DIMENSIONS: Final = 1536
COHERE_BATCH: Final = 96
TOKEN_COUNT_HEADER: Final = "x-amzn-bedrock-input-token-count"


def family(model: str) -> str:
    tail = model.rsplit("/", 1)[-1]
    if "titan-embed" in tail:
        return "titan"
    if "cohere.embed" in tail:
        return "cohere"
    raise UnsupportedCapability(provider=PROVIDER, capability=f"embeddings with {model}", param="model")


def texts_of(inputs: list[str] | list[list[int]]) -> list[str]:
    if any(not isinstance(item, str) for item in inputs):
        raise UnsupportedCapability(provider=PROVIDER, capability="token arrays as input", param="input")
    return [str(item) for item in inputs]


def titan_body(text: str, model: str, dimensions: int | None) -> JSON:
    body: JSON = {"inputText": text}
    if "v2" in model:
        if dimensions is not None:
            if dimensions not in TITAN_V2_DIMENSIONS:
                raise InvalidRequest(
                    "invalid_value", param="dimensions", detail="Titan v2 embeds in 256, 512 or 1024 dimensions"
                )
            body["dimensions"] = dimensions
        body["normalize"] = True  # OpenAI's vectors are unit length
    elif dimensions is not None and dimensions != TITAN_V1_DIMENSIONS:
        raise InvalidRequest("invalid_value", param="dimensions", detail="Titan v1 embeds in 1536 dimensions")
    return body


def titan_vector(parsed: dict[str, Any]) -> tuple[list[float], int]:
    return [float(value) for value in parsed["embedding"]], int(parsed.get("inputTextTokenCount") or 0)


def cohere_body(texts: list[str], extra: JSON, dimensions: int | None) -> JSON:
    body: JSON = {"texts": texts, "input_type": str(extra.get("input_type") or "search_document")}
    if dimensions is not None:
        body["output_dimension"] = dimensions  # Embed v4; v3 refuses it, as the client asked
    return body


def cohere_vectors(parsed: dict[str, Any]) -> list[list[float]]:
    embeddings = parsed["embeddings"]
    if isinstance(embeddings, dict):
        embeddings = embeddings["float"]
    return [[float(value) for value in vector] for vector in embeddings]
