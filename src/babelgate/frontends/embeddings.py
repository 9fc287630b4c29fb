"""`POST /v1/embeddings` in OpenAI's format, for every provider that embeds.

Inputs beyond a provider's batch limit are split into several upstream calls (a few in flight at
once) and reassembled in input order, usage summed. Vectors travel as floats from every provider;
`encoding_format: base64` is encoded here (little-endian float32, as OpenAI does), so it works the
same whichever upstream answered.
"""

from __future__ import annotations

import asyncio
import base64
import sys
from array import array
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate.answer import Answer
from babelgate.errors import InvalidRequest
from babelgate.exchange import Exchange
from babelgate.frontends import body_schema as schema
from babelgate.frontends.embeddings_conversation import CODEC
from babelgate.frontends.openai_validation import expect_number, require_model
from babelgate.frontends.route import Frontend, Operation, Route
from babelgate.guardrails.paths import TextPaths, paths
from babelgate.model_call import ModelCall
from babelgate.pipeline import Body, require
from babelgate.providers.base import CallNotes, embeddings_of
from babelgate.routing.registry import Deployment
from babelgate.schema.chat import Usage
from babelgate.schema.embeddings import EmbeddingRequest, EmbeddingResponse

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

IN_FLIGHT: Final = 4  # upstream calls one split request may run at once
_KNOWN: Final = frozenset({"model", "input", "encoding_format", "dimensions", "user"})
ENCODINGS: Final = ("float", "base64")
# What decode_request reads, as /openapi.json publishes it.
EMBEDDINGS_BODY: Final = schema.obj(
    ("model", "input"),
    strings=("user",),
    properties={
        "model": schema.MODEL,
        "encoding_format": schema.enum(ENCODINGS),
        "dimensions": schema.number(1, 2**16, integer=True),
        "input": schema.any_of(
            schema.STRING,
            *(
                schema.array(items, min_items=1)
                for items in (schema.STRING, schema.INTEGER, schema.array(schema.INTEGER))
            ),
        ),
    },
)


# The texts to embed, for the guardrails' input stage (an embedding has no text to check).
TEXTS: Final = TextPaths(input=paths("input", "input.*"))


async def create_embeddings(runtime: Runtime, exchange: Exchange) -> ModelCall:
    body = Body(await exchange.read_body(runtime.max_body_bytes))

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        fields = body.take()
        deployment.apply_to_body(fields)
        request, encoding = decode_request(fields)
        answer = await embed_in_batches(deployment, request, notes)
        notes.usage = answer.usage
        return Answer(orjson.dumps(encode_response(answer, deployment.public_name, encoding)), notes)

    return ModelCall(
        require_model(body.peek()),
        attempt,
        False,
        check=_capable,
        cache_body=body.raw,
        texts=TEXTS,
        document=body,
        codec=CODEC,
    )


def _capable(deployment: Deployment) -> None:
    require(deployment.provider.capabilities.embeddings, deployment, "embeddings")


def decode_request(body: dict[str, Any]) -> tuple[EmbeddingRequest, str]:
    """The canonical request and the encoding the client wants (docs/decisions.md, "What the gateway checks": what we
    read is checked)."""
    inputs = _inputs(body.get("input"))
    encoding = body.get("encoding_format", "float")
    if encoding not in ENCODINGS:
        raise InvalidRequest("invalid_value", param="encoding_format", detail="expected float or base64")
    dimensions = body.get("dimensions")
    if dimensions is not None:
        expect_number(dimensions, "dimensions", 1, 2**16, integer=True)
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise InvalidRequest("wrong_type", param="user", expected="a string")
    extra = {key: value for key, value in body.items() if key not in _KNOWN}
    request = EmbeddingRequest(model=require_model(body), inputs=inputs, dimensions=dimensions, user=user, extra=extra)
    return request, encoding


def _inputs(value: Any) -> list[str] | list[list[int]]:
    """A string, strings, token ids, or lists of token ids → a list of inputs."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not value:
        raise InvalidRequest("wrong_type", param="input", expected="a string or a non-empty array")
    if all(isinstance(item, str) for item in value):
        return value
    if all(_is_token(item) for item in value):
        return [value]
    if all(isinstance(item, list) and item and all(_is_token(token) for token in item) for item in value):
        return value
    raise InvalidRequest(
        "wrong_type",
        param="input",
        expected="a string, an array of strings, an array of token ids, or an array of those",
    )


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


async def embed_in_batches(deployment: Deployment, request: EmbeddingRequest, notes: CallNotes) -> EmbeddingResponse:
    provider = embeddings_of(deployment.provider)
    limit = deployment.provider.capabilities.embedding_batch_limit or len(request.inputs)
    batches = [request.inputs[start : start + limit] for start in range(0, len(request.inputs), limit)]
    if len(batches) == 1:
        return await provider.embed(request, deployment.model, notes)
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(inputs: list[Any]) -> EmbeddingResponse:
        async with gate:
            part = EmbeddingRequest(request.model, inputs, request.dimensions, request.user, request.extra)
            part_notes = CallNotes()
            answer = await provider.embed(part, deployment.model, part_notes)
            # Every batch makes the same adjustments; the client hears of each once.
            notes.adjusted.extend(entry for entry in part_notes.adjusted if entry not in notes.adjusted)
            return answer

    answers = await asyncio.gather(*(one(batch) for batch in batches))
    vectors = [vector for answer in answers for vector in answer.vectors]
    usages = [answer.usage for answer in answers if answer.usage is not None]
    usage = (
        Usage(prompt_tokens=sum(u.prompt_tokens for u in usages), total_tokens=sum(u.total_tokens for u in usages))
        if usages
        else None
    )
    return EmbeddingResponse(model=answers[0].model, vectors=vectors, usage=usage)


def encode_response(answer: EmbeddingResponse, model: str, encoding: str) -> dict[str, Any]:
    data = [
        {"object": "embedding", "index": index, "embedding": _b64(vector) if encoding == "base64" else vector}
        for index, vector in enumerate(answer.vectors)
    ]
    usage = answer.usage or Usage()
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.total_tokens or usage.prompt_tokens},
    }


def _b64(vector: list[float]) -> str:
    packed = array("f", vector)
    if sys.byteorder != "little":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode()


FRONTEND: Final[Frontend] = Frontend(
    routes={
        "/embeddings": Route(
            "POST", create_embeddings, "embeddings", operations=(Operation("POST", body=EMBEDDINGS_BODY),)
        )
    },
    operations={"embeddings": "embeddings"},
)
