"""`POST /v1/images/generations` (JSON) and `POST /v1/images/edits` (multipart) in OpenAI's format,
for every provider that makes images (others: a 400 before any upstream call).

Both bodies are read within `server.max_body_bytes` (a 413 as soon as they are known to pass it),
decoded into one `ImageRequest` (what the gateway reads is checked, each error naming its
parameter; every other field travels in `extra` for upstreams that know it) and answered as OpenAI's
`ImagesResponse`: `{created, data: [{b64_json | url, revised_prompt?}], usage?, …}` with whatever else
the upstream reported. Providers answer with bytes; `response_format: "url"` on one that has no URL
to give gets a `data:` URL of them, so the client always has the image in the form it asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate.answer import Answer
from babelgate.errors import InvalidRequest
from babelgate.exchange import Exchange
from babelgate.frontends.body_schema import BINARY, MODEL, STRING, enum, number, obj
from babelgate.frontends.multipart import Part, parse_form
from babelgate.frontends.openai_validation import expect_number, require_model
from babelgate.frontends.route import Frontend, Operation, Route
from babelgate.model_call import ModelCall
from babelgate.pipeline import Body, require
from babelgate.providers.base import CallNotes, image_edits_of, image_generation_of
from babelgate.routing.registry import Deployment
from babelgate.schema.chat import JSON, Usage
from babelgate.schema.images import GeneratedImage, ImageFile, ImageRequest, ImageResponse

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

MAX_N: Final = 10  # OAI CreateImageRequest.n: "Must be between 1 and 10"
RESPONSE_FORMATS: Final = ("url", "b64_json")
_STRINGS: Final = ("size", "quality", "output_format", "background", "user")
_KNOWN: Final = frozenset({"model", "prompt", "n", "response_format", "stream", *_STRINGS})
_FILES: Final = frozenset({"image", "mask"})


async def create_images(runtime: Runtime, exchange: Exchange) -> ModelCall:
    body = Body(await exchange.read_body(runtime.max_body_bytes))

    def request_for(deployment: Deployment) -> ImageRequest:
        fields = body.take()
        deployment.apply_to_body(fields)
        return decode_request(fields)

    return _model_call(require_model(body.peek()), request_for, edit=False)


async def edit_images(runtime: Runtime, exchange: Exchange) -> ModelCall:
    raw = await exchange.read_body(runtime.max_body_bytes)
    content_type = exchange.header(b"content-type")
    parts = parse_form(raw, content_type.decode("latin-1") if content_type else None)

    def request_for(deployment: Deployment) -> ImageRequest:
        values, files = decode_form(parts)
        deployment.apply_to_body(values)
        request = decode_request(values, form=True)
        images = files.pop("image", [])
        if not images:
            raise InvalidRequest("missing_field", param="image")
        masks = files.pop("mask", [])
        if len(masks) > 1:
            raise InvalidRequest("invalid_value", param="mask", detail="expected one mask")
        request.images, request.mask = images, masks[0] if masks else None
        request.extra.update({name: found[0] if len(found) == 1 else found for name, found in files.items()})
        return request

    return _model_call(require_model(decode_form(parts)[0]), request_for, edit=True)


def _model_call(model: str, request_for: Callable[[Deployment], ImageRequest], *, edit: bool) -> ModelCall:
    """`request_for` builds the canonical request for one deployment (its defaults and overrides)."""

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        request = request_for(deployment)
        provider = deployment.provider
        make = image_edits_of(provider).edit_images if edit else image_generation_of(provider).generate_images
        answer = await make(request, deployment.model, notes)
        notes.usage = answer.usage
        return Answer(orjson.dumps(encode_response(answer, request.response_format)), notes)

    def capable(deployment: Deployment) -> None:
        capabilities = deployment.provider.capabilities
        require(
            capabilities.image_edits if edit else capabilities.image_generation,
            deployment,
            "image edits" if edit else "image generation",
        )

    return ModelCall(model, attempt, False, check=capable)


def decode_form(parts: list[Part]) -> tuple[dict[str, Any], dict[str, list[ImageFile]]]:
    """Text fields by name (a field the gateway reads may come once; others repeated become lists,
    under the name the client used, `[]` included) and files by name (`image[]` is `image`)."""
    values: dict[str, Any] = {}
    files: dict[str, list[ImageFile]] = {}
    for part in parts:
        base = part.name.removesuffix("[]")
        if part.is_file:
            if base not in _FILES and base in _KNOWN:
                raise InvalidRequest("wrong_type", param=base, expected="a text field")
            files.setdefault(base if base in _FILES else part.name, []).append(
                ImageFile(part.data, part.filename or "image.png", part.content_type)
            )
        elif base in _FILES:
            raise InvalidRequest("wrong_type", param=base, expected="an image file")
        elif base in _KNOWN:
            if base in values:
                raise InvalidRequest("invalid_value", param=base, detail="given more than once")
            values[base] = part.text()
        elif part.name in values:
            previous = values[part.name]
            values[part.name] = [*previous, part.text()] if isinstance(previous, list) else [previous, part.text()]
        else:
            values[part.name] = part.text()
    return values, files


def decode_request(body: dict[str, Any], *, form: bool = False) -> ImageRequest:
    """The canonical request (docs/decisions.md, "What the gateway checks": the fields the gateway reads are checked).
    `form`: the values came as multipart text, so numbers and booleans are read from their text."""
    prompt = body.get("prompt")
    if prompt is None:
        raise InvalidRequest("missing_field", param="prompt")
    if not isinstance(prompt, str) or not prompt:
        raise InvalidRequest("wrong_type", param="prompt", expected="a non-empty string")
    n = body.get("n")
    if n is not None:
        n = _integer(n) if form else n
        expect_number(n, "n", 1, MAX_N, integer=True)
    response_format = body.get("response_format")
    if response_format is not None and response_format not in RESPONSE_FORMATS:
        raise InvalidRequest("invalid_value", param="response_format", detail="expected url or b64_json")
    for name in _STRINGS:
        if body.get(name) is not None and not isinstance(body[name], str):
            raise InvalidRequest("wrong_type", param=name, expected="a string")
    stream = body.get("stream")
    if stream is not None and stream is not False and stream != "false":
        # The gateway answers with whole images; streamed partial images are not relayed.
        raise InvalidRequest(
            "invalid_value", param="stream", detail="streamed images are not supported; leave it unset or false"
        )
    extra = {key: value for key, value in body.items() if key not in _KNOWN}
    return ImageRequest(
        model=require_model(body),
        prompt=prompt,
        n=n or 1,
        size=body.get("size"),
        quality=body.get("quality"),
        response_format=response_format,
        output_format=body.get("output_format"),
        background=body.get("background"),
        user=body.get("user"),
        extra=extra,
    )


def _integer(value: Any) -> Any:
    """A form field's number; anything else is left for the range check to name."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def encode_response(answer: ImageResponse, response_format: str | None) -> JSON:
    """OAI `ImagesResponse`: the upstream's other fields (size, quality, output_format, background…)
    between `data` and `usage`, as the spec orders them."""
    payload: JSON = {"created": answer.created, "data": [_image(image, response_format) for image in answer.images]}
    payload.update((key, value) for key, value in answer.extra.items() if key not in payload)
    if answer.usage is not None:
        payload["usage"] = encode_usage(answer.usage)
    return payload


def _image(image: GeneratedImage, response_format: str | None) -> JSON:
    entry: JSON = {}
    if image.b64_json is not None:
        if image.url is None and response_format == "url":
            entry["url"] = f"data:{image.mime_type};base64,{image.b64_json}"
        else:
            entry["b64_json"] = image.b64_json
    if image.url is not None:
        entry["url"] = image.url
    if image.revised_prompt is not None:
        entry["revised_prompt"] = image.revised_prompt
    return entry


def encode_usage(usage: Usage) -> JSON:
    """OAI `ImageGenUsage`; `input_tokens_details` is required there: without a provider's breakdown
    the whole prompt counts as text."""
    details = usage.extra.get("input_tokens_details") or {"text_tokens": usage.prompt_tokens, "image_tokens": 0}
    encoded: JSON = {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": details,
        "output_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens or usage.prompt_tokens + usage.completion_tokens,
    }
    if isinstance(usage.extra.get("output_tokens_details"), dict):
        encoded["output_tokens_details"] = usage.extra["output_tokens_details"]
    return encoded


_FIELDS: Final = {
    "model": MODEL,
    "prompt": {"type": "string", "minLength": 1},
    "response_format": enum(RESPONSE_FORMATS),
}
GENERATIONS_BODY: Final = obj(
    ("model", "prompt"),
    strings=_STRINGS,
    properties={**_FIELDS, "n": number(1, MAX_N, integer=True), "stream": {"const": False}},
)
EDITS_FORM: Final = obj(
    ("model", "prompt", "image"), strings=_STRINGS, properties={**_FIELDS, "n": STRING, "image": BINARY, "mask": BINARY}
)

ROUTES: dict[str, Route] = {
    "/images/generations": Route(
        "POST", create_images, "images.generations", operations=(Operation("POST", body=GENERATIONS_BODY),)
    ),
    "/images/edits": Route("POST", edit_images, "images.edits", operations=(Operation("POST", form=EDITS_FORM),)),
}


FRONTEND: Final[Frontend] = Frontend(routes=ROUTES)
