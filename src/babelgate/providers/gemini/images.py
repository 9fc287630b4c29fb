"""Canonical images → Gemini, and back (pure translators, then the send helpers the provider lends
its I/O to).

Two roads, chosen by the model name:
- Gemini image models (`gemini-2.5-flash-image`, `gemini-3-pro-image-preview`…) through
  `generateContent`: the prompt (and, for edits, the input images as `inlineData` parts) as one user
  turn built by the chat translator, `generationConfig.responseModalities` asking for images and
  `imageConfig.aspectRatio` from `size`. The answer is read by the chat translator too, so an image
  the model makes has one representation (`translate.image_entry`; thought images are skipped
  there). `n` is that many calls: image models make one image per call.
- Imagen (`imagen-*`) through `:predict`: `{"instances": [{"prompt"}], "parameters": {"sampleCount",
  "aspectRatio", "outputOptions"}}` (the Gemini API's shape, GEM `_GenerateImagesConfig_to_mldev`
  before google-genai 3.4 dropped Imagen from its Gemini API mode) → `predictions[].bytesBase64Encoded`.
  Imagen cannot edit images: edits are refused before any call.

`size` becomes the supported aspect ratio nearest to WIDTH/HEIGHT (compared on a log scale, so 2:1 and
1:2 are equally far from 1:1); "auto" or no size sends none (the model's default). A ratio the
model supports may also be given as it is (`size: "21:9"`). Parameters Gemini has no field for are
dropped and listed (`quality`, `output_format` where the model cannot choose, `background` other than
transparent, `user`, OpenAI-only fields); what would change the answer is a 400 (`background:
transparent`, a `mask`).
"""

from __future__ import annotations

import asyncio
import base64
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Final, TypeVar

import orjson

from babelgate.errors import (
    GatewayError,
    InvalidRequest,
    UnsupportedCapability,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRejected,
)
from babelgate.providers.base import CallNotes
from babelgate.providers.gemini.profiles import ModelProfile
from babelgate.providers.gemini.translate import from_wire, to_wire
from babelgate.providers.gemini.wire import FINISH_REASONS
from babelgate.providers.transport import read_json_object
from babelgate.schema.chat import JSON, ChatRequest, ContentPart, ImagePart, Message, TextPart, Usage
from babelgate.schema.images import GeneratedImage, ImageFile, ImageRequest, ImageResponse

PROVIDER = "gemini"
IMAGEN_PATTERNS: Final = ("imagen-*",)
# Gemini 2.0's image-generation preview refuses image-only output ("The requested combination of
# response modalities is not supported by the model"); later image models take it.
TEXT_AND_IMAGE_PATTERNS: Final = ("gemini-2.0-*",)
# GEM types.ImageConfig.aspect_ratio and types.GenerateImagesConfig.aspect_ratio ("Supported values are …").
GEMINI_ASPECT_RATIOS: Final = ("1:1", "2:3", "3:2", "3:4", "4:3", "9:16", "16:9", "21:9")
IMAGEN_ASPECT_RATIOS: Final = ("1:1", "3:4", "4:3", "9:16", "16:9")
IMAGEN_MAX_SAMPLES: Final = 4  # sampleCount is 1 to 4 per :predict call
IMAGEN_MIME_TYPES: Final[dict[str, str]] = {"png": "image/png", "jpeg": "image/jpeg"}  # outputOptions.mimeType
# Imagen parameters a client may pass as they are (extra body fields, camelCase as on the wire).
IMAGEN_NATIVE: Final = frozenset(
    {
        "personGeneration",
        "guidanceScale",
        "safetySetting",
        "includeRaiReason",
        "includeSafetyAttributes",
        "language",
        "sampleImageSize",
    }
)
OUTPUT_FORMATS: Final[dict[str, str]] = {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp"}
# Finish reasons that mean the answer was refused as unsafe (OpenAI says content_policy_violation);
# a prompt blocked outright (`promptFeedback.blockReason`) is refused whatever the reason.
REFUSALS: Final = frozenset(
    {*(reason for reason, finish in FINISH_REASONS.items() if finish == "content_filter"), "MODEL_ARMOR"}
)
IN_FLIGHT: Final = 4  # upstream calls one request for several images may run at once
_SIGNATURES: Final = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))
# Our reason when Imagen gave no image and no `raiFilteredReason` (it leaves filtered images out).
IMAGEN_FILTERED: Final = "no image left after Imagen's safety filters"
T = TypeVar("T")


def is_imagen(model: str) -> bool:
    return any(fnmatchcase(model, pattern) for pattern in IMAGEN_PATTERNS)


def aspect_ratio(size: str | None, ratios: Sequence[str]) -> str | None:
    """The ratio of `ratios` nearest to a WIDTHxHEIGHT size (the first of equals), a ratio of
    `ratios` given as it is, or None for no size or "auto"."""
    if size is None or size == "auto":
        return None
    if size in ratios:
        return size
    width, x, height = size.lower().partition("x")
    if not (x and width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        raise InvalidRequest(
            "invalid_value",
            param="size",
            detail=f"expected auto, WIDTHxHEIGHT (e.g. 1024x1024) or one of {', '.join(ratios)}",
        )
    target = math.log(int(width) / int(height))
    return min(ratios, key=lambda ratio: abs(math.log(_ratio(ratio)) - target))


def _ratio(ratio: str) -> float:
    width, _, height = ratio.partition(":")
    return int(width) / int(height)


def _common_drops(request: ImageRequest, adjusted: list[str]) -> None:
    if request.background == "transparent":
        raise UnsupportedCapability(provider=PROVIDER, capability="transparent backgrounds", param="background")
    for name in ("quality", "background", "user"):
        if getattr(request, name) is not None:
            adjusted.append(f"{name}=dropped")


def image_mime_type(file: ImageFile, param: str) -> str:
    """An upload's image type: as the client declared it, else from its first bytes (clients often
    send `application/octet-stream`), else a 400: Gemini needs to be told."""
    if file.content_type.startswith("image/"):
        return file.content_type.split(";")[0].strip().lower()
    for signature, mime_type in _SIGNATURES:
        if file.data.startswith(signature):
            return mime_type
    if file.data[:4] == b"RIFF" and file.data[8:12] == b"WEBP":
        return "image/webp"
    raise InvalidRequest("invalid_value", param=param, detail="expected a PNG, JPEG, WebP or GIF image")


def content_to_wire(request: ImageRequest, model: str, profile: ModelProfile, adjusted: list[str]) -> JSON:
    """A generateContent body: one user turn (prompt, then the input images) through the chat
    translator (so `extra`'s native fields and drops behave as on chat), asking for images."""
    if request.mask is not None:
        raise UnsupportedCapability(
            provider=PROVIDER, capability="edit masks (describe the area to change in the prompt)", param="mask"
        )
    _common_drops(request, adjusted)
    if request.output_format is not None and request.output_format != "png":
        adjusted.append("output_format=dropped")  # image models answer PNG; the response says which
    parts: list[ContentPart] = [TextPart(request.prompt)]
    for index, image in enumerate(request.images):
        mime_type = image_mime_type(image, "image" if len(request.images) == 1 else f"image[{index}]")
        parts.append(ImagePart(f"data:{mime_type};base64,{base64.b64encode(image.data).decode()}"))
    # Other uploaded files (multipart fields Gemini has no use for) are listed as dropped here; the
    # rest goes through the chat translator, which passes Gemini's own fields and lists the others.
    extra = {name: value for name, value in request.extra.items() if not _is_file(value)}
    adjusted += [f"{name}=dropped" for name in request.extra if name not in extra]
    chat = ChatRequest(model=model, messages=[Message(role="user", content=parts)], extra=extra)
    body = to_wire(chat, profile, adjusted, inline={})
    config: JSON = body.setdefault("generationConfig", {})
    text = any(fnmatchcase(model, pattern) for pattern in TEXT_AND_IMAGE_PATTERNS)
    config["responseModalities"] = ["TEXT", "IMAGE"] if text else ["IMAGE"]
    ratio = aspect_ratio(request.size, GEMINI_ASPECT_RATIOS)
    if ratio is not None:
        config["imageConfig"] = {"aspectRatio": ratio}
    return body


def _is_file(value: Any) -> bool:
    return isinstance(value, ImageFile) or (isinstance(value, list) and any(isinstance(v, ImageFile) for v in value))


@dataclass(slots=True)
class Generated:
    """What one call gave: its images, its usage, and why there is no image when there is none."""

    images: list[GeneratedImage]
    usage: Usage | None = None
    reason: str | None = None
    refused: bool = False  # the reason is a safety refusal


def content_from_wire(body: JSON, model: str) -> Generated:
    """The images of a GenerateContentResponse (read by the chat translator) and its usage with the
    per-modality counts OpenAI reports."""
    answer = from_wire(body, created=0, model=model)
    images = [_from_entry(entry) for choice in answer.choices for entry in choice.message.images or ()]
    usage = answer.usage
    metadata = body.get("usageMetadata")
    if usage is not None and isinstance(metadata, dict):
        usage.extra = {
            "input_tokens_details": _by_modality(metadata.get("promptTokensDetails"), usage.prompt_tokens),
            "output_tokens_details": _by_modality(
                metadata.get("candidatesTokensDetails"), usage.completion_tokens, text_default=False
            ),
        }
    blocked = (body.get("promptFeedback") or {}).get("blockReason")
    if blocked is not None:
        return Generated(images, usage, str(blocked), refused=True)
    candidates = body.get("candidates") or ()
    finish = candidates[0].get("finishReason") if candidates else None
    return Generated(images, usage, None if finish is None else str(finish), refused=finish in REFUSALS)


def _from_entry(entry: JSON) -> GeneratedImage:
    """`translate.image_entry`'s data URL back into bytes and type."""
    header, _, data = entry["image_url"]["url"].partition(",")
    return GeneratedImage(b64_json=data, mime_type=header.removeprefix("data:").removesuffix(";base64"))


def _by_modality(details: Any, total: int, *, text_default: bool = True) -> JSON:
    """Gemini's `[{modality, tokenCount}]` as OpenAI's `{text_tokens, image_tokens}`; without a
    breakdown, the prompt is text and the output image."""
    counts = {"text_tokens": 0, "image_tokens": 0}
    if isinstance(details, list) and details:
        for item in details:
            if isinstance(item, dict) and item.get("modality") in ("TEXT", "IMAGE"):
                counts[f"{str(item['modality']).lower()}_tokens"] += int(item.get("tokenCount") or 0)
    else:
        counts["text_tokens" if text_default else "image_tokens"] = total
    return counts


def predict_to_wire(request: ImageRequest, adjusted: list[str]) -> JSON:
    """An Imagen `:predict` body without `sampleCount` (the caller splits `n` into calls of at most 4)."""
    _common_drops(request, adjusted)
    parameters: JSON = {}
    ratio = aspect_ratio(request.size, IMAGEN_ASPECT_RATIOS)
    if ratio is not None:
        parameters["aspectRatio"] = ratio
    if request.output_format is not None:
        mime_type = IMAGEN_MIME_TYPES.get(request.output_format)
        if mime_type is None:
            adjusted.append("output_format=dropped")
        else:
            parameters["outputOptions"] = {"mimeType": mime_type}
    for name, value in request.extra.items():
        if name in IMAGEN_NATIVE:
            parameters[name] = value
        elif value is not None:
            adjusted.append(f"{name}=dropped")
    return {"instances": [{"prompt": request.prompt}], "parameters": parameters}


def predict_from_wire(body: JSON) -> Generated:
    """`predictions[]` with bytes; Imagen leaves filtered images out (or, with `includeRaiReason`,
    lists them with `raiFilteredReason`), which is the reason given when none is left."""
    images: list[GeneratedImage] = []
    reasons: list[str] = []
    for prediction in body.get("predictions") or ():
        data = prediction.get("bytesBase64Encoded")
        if isinstance(data, str) and data:
            prompt = prediction.get("prompt")
            images.append(
                GeneratedImage(
                    b64_json=data,
                    mime_type=str(prediction.get("mimeType") or "image/png"),
                    revised_prompt=prompt if isinstance(prompt, str) else None,
                )
            )
        elif prediction.get("raiFilteredReason"):
            reasons.append(str(prediction["raiFilteredReason"]))
    return Generated(images, None, "; ".join(reasons) or IMAGEN_FILTERED, refused=True)


def no_image(reason: str | None, provider: str, *, refused: bool) -> GatewayError:
    """A 400 like OpenAI's (`content_policy_violation`) when the prompt or every image was refused as
    unsafe; otherwise a 502: the model answered, but not with an image."""
    if refused:
        return UpstreamRejected(
            "images_no_image", code="content_policy_violation", provider=provider, reason=reason or "SAFETY"
        )
    return UpstreamError("images_no_image", provider=provider, reason=reason or "none given")


def response(answers: list[Generated], provider: str, *, created: int) -> ImageResponse:
    """The images of every call, usage summed; no image at all is an error (see `no_image`)."""
    images = [image for answer in answers for image in answer.images]
    if not images:
        raise no_image(answers[0].reason, provider, refused=answers[0].refused)
    counted = [answer.usage for answer in answers if answer.usage is not None]
    extra: JSON = {}
    output_format = OUTPUT_FORMATS.get(images[0].mime_type)
    if output_format is not None:
        extra["output_format"] = output_format
    return ImageResponse(created=created, images=images, usage=_sum(counted) if counted else None, extra=extra)


def _sum(usages: list[Usage]) -> Usage:
    if len(usages) == 1:
        return usages[0]
    details: JSON = {}
    for usage in usages:
        for key, counts in usage.extra.items():
            into = details.setdefault(key, {})
            for name, count in counts.items():
                into[name] = into.get(name, 0) + count
    return Usage(
        prompt_tokens=sum(u.prompt_tokens for u in usages),
        completion_tokens=sum(u.completion_tokens for u in usages),
        total_tokens=sum(u.total_tokens for u in usages),
        extra=details,
    )


# ---------------------------------------------------------------------------------------------
# The send helpers: the provider lends its name, its POST and its URLs for one model.

Post = Callable[[str, bytes], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class ImageCalls:
    provider: str
    post: Post  # (url, body) → the upstream's response, error statuses already raised
    url: Callable[[str], str]  # method (`generateContent`, `predict`) → this model's URL
    profile: ModelProfile


async def generate(calls: ImageCalls, request: ImageRequest, model: str, notes: CallNotes) -> ImageResponse:
    if is_imagen(model):
        return await _predict(calls, request, notes)
    return await _generate_content(calls, request, model, notes)


async def edit(calls: ImageCalls, request: ImageRequest, model: str, notes: CallNotes) -> ImageResponse:
    if is_imagen(model):
        raise UnsupportedCapability(
            provider=calls.provider,
            capability="image edits on Imagen models (use a Gemini image model such as gemini-2.5-flash-image)",
            param="model",
        )
    return await _generate_content(calls, request, model, notes)


async def _generate_content(calls: ImageCalls, request: ImageRequest, model: str, notes: CallNotes) -> ImageResponse:
    body = orjson.dumps(content_to_wire(request, model, calls.profile, notes.adjusted))
    url = calls.url("generateContent")

    async def one() -> Generated:
        _, parsed = await read_json_object(await calls.post(url, body), calls.provider)
        return _checked(lambda: content_from_wire(parsed, model), calls.provider)

    answers = await _gathered([one for _ in range(request.n)])
    return _noted(response(answers, calls.provider, created=int(time.time())), notes)


async def _predict(calls: ImageCalls, request: ImageRequest, notes: CallNotes) -> ImageResponse:
    template = predict_to_wire(request, notes.adjusted)
    url = calls.url("predict")
    counts = [min(IMAGEN_MAX_SAMPLES, request.n - start) for start in range(0, request.n, IMAGEN_MAX_SAMPLES)]

    def call(count: int) -> Callable[[], Awaitable[Generated]]:
        body = orjson.dumps({**template, "parameters": {"sampleCount": count, **template["parameters"]}})

        async def one() -> Generated:
            _, parsed = await read_json_object(await calls.post(url, body), calls.provider)
            return _checked(lambda: predict_from_wire(parsed), calls.provider)

        return one

    answers = await _gathered([call(count) for count in counts])
    return _noted(response(answers, calls.provider, created=int(time.time())), notes)


def _noted(answer: ImageResponse, notes: CallNotes) -> ImageResponse:
    notes.usage = answer.usage
    return answer


async def _gathered(calls: list[Callable[[], Awaitable[T]]]) -> list[T]:
    if len(calls) == 1:
        return [await calls[0]()]
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def limited(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    return list(await asyncio.gather(*(limited(call) for call in calls)))


def _checked(read: Callable[[], T], provider: str) -> T:
    try:
        return read()
    except (AttributeError, TypeError, ValueError, KeyError):
        raise UpstreamProtocolError(provider=provider, detail="the body has the wrong shape") from None
