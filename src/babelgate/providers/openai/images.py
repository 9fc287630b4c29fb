"""Canonical images ↔ OpenAI's Images API (OAI `CreateImageRequest`, `CreateImageEditRequest`,
`ImagesResponse`), for OpenAI and every compatible server.

Nothing is translated: generations go out as JSON and edits as multipart, each with every field the
client sent (the ones the canonical request does not model come from `extra`) and only `model`
rewritten. The answer is read into the canonical response with everything in it kept (`usage` with
its token details, `revised_prompt`, `size`, `quality`, `output_format`, `background`…), so the
frontend re-encodes what the upstream said.

Image usage is canonical `Usage` with `prompt_tokens` = `input_tokens`, `completion_tokens` =
`output_tokens`, and OpenAI's `input_tokens_details` / `output_tokens_details` in `Usage.extra`
(providers that count by modality fill them the same way).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate.errors import UpstreamProtocolError
from babelgate.http import UpstreamResponse
from babelgate.providers.transport import read_json_object
from babelgate.schema.chat import JSON, Usage
from babelgate.schema.images import GeneratedImage, ImageFile, ImageRequest, ImageResponse

if TYPE_CHECKING:  # aiohttp (~14 MiB) loads with the first form sent, not with the gateway
    import aiohttp

GENERATIONS_PATH: Final = "/images/generations"
EDITS_PATH: Final = "/images/edits"
# `output_format` → the MIME type of the bytes (what a `data:` URL made of them says).
MIME_TYPES: Final[dict[str, str]] = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "svg": "image/svg+xml",
}
USAGE_DETAILS: Final = ("input_tokens_details", "output_tokens_details")


def _fields(request: ImageRequest) -> list[tuple[str, Any]]:
    """The modelled fields after `prompt` and `model`, in the spec's order, that the client set.
    `n` is left out at 1, the API's default (the canonical request cannot tell "1" from unset)."""
    values = (
        ("n", request.n if request.n != 1 else None),
        ("quality", request.quality),
        ("response_format", request.response_format),
        ("output_format", request.output_format),
        ("size", request.size),
        ("background", request.background),
        ("user", request.user),
    )
    return [(name, value) for name, value in values if value is not None]


def generation_to_wire(request: ImageRequest, model: str) -> JSON:
    body: JSON = {"prompt": request.prompt, "model": model, **dict(_fields(request))}
    for name, value in request.extra.items():
        body.setdefault(name, value)
    return body


def edit_to_form(request: ImageRequest, model: str) -> aiohttp.FormData:
    """The edit as multipart: the images (`image`, or `image[]` for several, as the official SDK
    sends them), the prompt, the mask, the model, then every other field as the client named it."""
    import aiohttp

    form = aiohttp.FormData(quote_fields=False)
    name = "image" if len(request.images) == 1 else "image[]"
    for image in request.images:
        _add_file(form, name, image)
    form.add_field("prompt", request.prompt)
    if request.mask is not None:
        _add_file(form, "mask", request.mask)
    form.add_field("model", model)
    for field, value in _fields(request):
        form.add_field(field, _text(value))
    for field, value in request.extra.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, ImageFile):
                _add_file(form, field, item)
            else:
                form.add_field(field, _text(item))
    return form


def _text(value: Any) -> str:
    """A form field's text: strings as they are; other values (a model's configured defaults) as JSON."""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _add_file(form: aiohttp.FormData, name: str, file: ImageFile) -> None:
    form.add_field(name, file.data, filename=file.filename, content_type=file.content_type)


def from_wire(body: JSON) -> ImageResponse:
    """An `ImagesResponse`: `created` and `data` read, `usage` kept with its details, every other
    top-level field (size, quality, output_format, background…) kept for the client."""
    created = body["created"]
    if not isinstance(created, int) or isinstance(created, bool):
        raise TypeError("created is not an integer")
    mime_type = MIME_TYPES.get(str(body.get("output_format")), "image/png")
    images = [_image(item, mime_type) for item in body.get("data") or ()]
    extra = {key: value for key, value in body.items() if key not in ("created", "data", "usage")}
    return ImageResponse(created=created, images=images, usage=usage_from_wire(body.get("usage")), extra=extra)


def _image(item: Any, mime_type: str) -> GeneratedImage:
    if not isinstance(item, dict):
        raise TypeError("an image is not an object")
    values = {name: item.get(name) for name in ("b64_json", "url", "revised_prompt")}
    if not all(value is None or isinstance(value, str) for value in values.values()):
        raise TypeError("an image field is not a string")
    return GeneratedImage(mime_type=mime_type, **values)


def usage_from_wire(usage: Any) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    prompt, completion = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=int(usage.get("total_tokens") or prompt + completion),
        extra={name: usage[name] for name in USAGE_DETAILS if isinstance(usage.get(name), dict)},
    )


async def read_answer(response: UpstreamResponse, provider: str) -> ImageResponse:
    _, parsed = await read_json_object(response, provider)
    try:
        return from_wire(parsed)
    except (AttributeError, TypeError, ValueError, KeyError):
        raise UpstreamProtocolError(provider=provider, detail="the body has the wrong shape") from None
