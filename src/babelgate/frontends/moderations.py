"""`POST /v1/moderations` in OpenAI's shape, for every provider with the `moderations` part (the same part the
`moderation` guardrail asks): OpenAI and compatible servers relay it, Mistral's answer is translated to OpenAI's
categories (providers/mistral/moderation.py). `model` may be left out, as OpenAI allows: then
`omni-moderation-latest`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate.answer import Answer
from babelgate.errors import InvalidRequest
from babelgate.exchange import Exchange
from babelgate.frontends import body_schema as schema
from babelgate.frontends.route import Frontend, Operation, Route
from babelgate.guardrails.paths import TextPaths, paths
from babelgate.model_call import ModelCall
from babelgate.pipeline import Body, require
from babelgate.providers.base import CallNotes, moderation_of
from babelgate.routing.registry import Deployment

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

DEFAULT_MODEL: Final = "omni-moderation-latest"  # OpenAI's own default
_PART: Final = schema.any_of(
    schema.obj(("type", "text"), strings=("text",), properties={"type": schema.enum(("text",))}),
    schema.obj(("type", "image_url"), properties={"type": schema.enum(("image_url",)), "image_url": schema.OBJECT}),
)
# What decode_input reads, as /openapi.json publishes it.
MODERATIONS_BODY: Final = schema.obj(
    ("input",),
    properties={
        "model": schema.MODEL,
        "input": schema.any_of(
            schema.STRING, schema.array(schema.STRING, min_items=1), schema.array(_PART, min_items=1)
        ),
    },
)
# The texts to classify, for the guardrails' input stage.
TEXTS: Final = TextPaths(input=paths("input", "input.*", "input.*.text"))


async def create_moderation(runtime: Runtime, exchange: Exchange) -> ModelCall:
    body = Body(await exchange.read_body(runtime.max_body_bytes))
    model = body.peek().get("model", DEFAULT_MODEL)
    if not isinstance(model, str) or not model:
        raise InvalidRequest("wrong_type", param="model", expected="a non-empty string")

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        fields = body.take()
        given = decode_input(fields.get("input"))
        notes.adjusted.extend(f"{name}=dropped" for name in fields if name not in ("model", "input"))
        answer = await moderation_of(deployment.provider).moderate({"input": given}, deployment.model)
        return Answer(orjson.dumps(answer), notes)

    return ModelCall(model, attempt, False, check=_capable, cache_body=body.raw, texts=TEXTS, document=body)


def _capable(deployment: Deployment) -> None:
    require(deployment.provider.capabilities.moderations, deployment, "moderations")


def decode_input(value: Any) -> str | list[Any]:
    """A string, strings, or OpenAI's multimodal parts (`text`, `image_url`), checked as OpenAI checks them."""
    if value is None:
        raise InvalidRequest("missing_field", param="input")
    if isinstance(value, str):
        return value
    if not isinstance(value, list) or not value:
        raise InvalidRequest("wrong_type", param="input", expected="a string or a non-empty array")
    if all(isinstance(item, str) for item in value):
        return value
    for index, item in enumerate(value):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "text" and isinstance(item.get("text"), str):
            continue
        image = item.get("image_url") if isinstance(item, dict) else None
        if kind == "image_url" and isinstance(image, dict) and isinstance(image.get("url"), str):
            continue
        raise InvalidRequest(
            "wrong_type", param=f"input[{index}]", expected="a string, a text part or an image_url part"
        )
    return value


FRONTEND: Final[Frontend] = Frontend(
    routes={
        "/moderations": Route(
            "POST", create_moderation, "moderations", operations=(Operation("POST", body=MODERATIONS_BODY),)
        )
    },
    operations={"moderations": "moderations"},
)
