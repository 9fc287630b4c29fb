"""The image endpoints of the fake upstreams, kept beside them so each fake only routes to them.

OpenAI (`FakeOpenAI`): `/v1/images/generations` takes JSON checked against the spec's
`CreateImageRequest`; `/v1/images/edits` takes multipart whose fields are checked against
`CreateImageEditRequest` (names, types, required `image` and `prompt`). Both answer `ImagesResponse` the
way OpenAI does per model family: GPT image models always base64 with `usage`, `size`, `quality`,
`output_format` and `background`; DALL·E models a URL unless `b64_json` was asked, DALL·E 3 with a
`revised_prompt`.

Gemini (`FakeGemini`): `generateContent` asking for images (`responseModalities` with IMAGE) is refused on
models that cannot make them and with aspect ratios they do not take, and answered with an `inlineData`
PNG per candidate; `:predict` serves Imagen (`imagen-*` only), its body checked against the Gemini API's
shape (GEM `_GenerateImagesConfig_to_mldev`, google-genai before 3.4) and answered with
`predictions[].bytesBase64Encoded` (always the fake's PNG; `mimeType` says what was asked).
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections import deque
from fnmatch import fnmatchcase
from typing import Any, Protocol

import orjson
from aiohttp import web
from google.genai import _common
from google.genai import types as gt
from pydantic import ValidationError

from tests.fakes.openai_spec import component, schema_violations, spec_violations
from tests.fakes.scripted import Received, Reply


def png_bytes(width: int = 1, height: int = 1, rgb: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    """A valid PNG of one colour (8-bit RGB), built by hand: signature, IHDR, IDAT, IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PNG = png_bytes()
PNG_B64 = base64.b64encode(PNG).decode()
IMAGE_URL = "https://images.fake.example/generated/{index}.png"


# ---------------------------------------------------------------------------------------------
# OpenAI


def images_response(
    n: int = 1,
    *,
    model: str = "gpt-image-1",
    response_format: str | None = None,
    output_format: str | None = None,
    size: str | None = None,
    quality: str | None = None,
    background: str | None = None,
    prompt: str = "",
) -> dict[str, Any]:
    """An `ImagesResponse` as OpenAI gives it for `model`."""
    if model.startswith("dall-e-"):
        data: list[dict[str, Any]] = [
            {"url": IMAGE_URL.format(index=i)} if response_format != "b64_json" else {"b64_json": PNG_B64}
            for i in range(n)
        ]
        if model == "dall-e-3":
            for item in data:
                item["revised_prompt"] = f"A detailed picture: {prompt}"
        return {"created": 1_700_000_000, "data": data}
    if not model.startswith("gpt-image-"):  # a compatible server: the plain answer
        return {"created": 1_700_000_000, "data": [{"b64_json": PNG_B64} for _ in range(n)]}
    return {
        "created": 1_700_000_000,
        "data": [{"b64_json": PNG_B64} for _ in range(n)],
        "background": "transparent" if background == "transparent" else "opaque",
        "output_format": output_format or "png",
        "size": size if size not in (None, "auto") else "1024x1024",
        "quality": quality if quality in ("low", "medium", "high") else "high",
        "usage": {
            "input_tokens": 50,
            "input_tokens_details": {"text_tokens": 10, "image_tokens": 40},
            "output_tokens": 272 * n,
            "total_tokens": 50 + 272 * n,
            "output_tokens_details": {"image_tokens": 272 * n, "text_tokens": 0},
        },
    }


class _OpenAIFake(Protocol):
    replies: deque[Reply]
    received: list[Received]
    spec_violations: list[str]


def _scripted(fake: _OpenAIFake) -> web.Response | None:
    if not fake.replies:
        return None
    reply = fake.replies.popleft()
    data = reply.body if reply.body is not None else orjson.dumps(reply.json)
    return web.Response(
        status=reply.status,
        body=data,
        headers=reply.headers,
        content_type="application/json" if reply.body is None else None,
    )


def _answer(fake: _OpenAIFake, fields: dict[str, Any]) -> web.Response:
    scripted = _scripted(fake)
    if scripted is not None:
        return scripted
    n = fields.get("n") if isinstance(fields.get("n"), int) else 1
    return web.json_response(
        images_response(
            n,
            model=str(fields.get("model") or "dall-e-2"),
            response_format=fields.get("response_format"),
            output_format=fields.get("output_format"),
            size=fields.get("size"),
            quality=fields.get("quality"),
            background=fields.get("background"),
            prompt=str(fields.get("prompt") or ""),
        )
    )


async def openai_generations(fake: _OpenAIFake, request: web.Request) -> web.Response:
    body = await request.json()
    fake.received.append(Received(request.method, request.path, dict(request.headers), body))
    fake.spec_violations.extend(spec_violations(body, "CreateImageRequest"))
    return _answer(fake, body)


def _typed(text: str, schema: dict[str, Any]) -> Any:
    """A form field's text as the type the spec gives it (forms carry only text)."""
    kinds = {item.get("type") for item in schema.get("anyOf", [schema])}
    if "integer" in kinds and text.lstrip("-").isdigit():
        return int(text)
    if "boolean" in kinds and text in ("true", "false"):
        return text == "true"
    return text


def edit_form_violations(fields: dict[str, list[str]], files: dict[str, list[dict[str, Any]]]) -> list[str]:
    """What OpenAI would refuse in an edit form: unknown names, text where a file belongs (and the other
    way round), values of the wrong type, a missing `image` or `prompt`."""
    spec = component("CreateImageEditRequest")
    properties: dict[str, Any] = spec["properties"]
    out: list[str] = []
    instance: dict[str, Any] = {}
    for name, values in fields.items():
        base = name.removesuffix("[]")
        if base not in properties:
            out.append(f"{name}: unknown parameter")
        elif properties[base].get("format") == "binary" or base == "image":
            out.append(f"{name}: expected a file, got a text field")
        else:
            typed = [_typed(value, properties[base]) for value in values]
            instance[base] = typed if name.endswith("[]") else typed[0]
            if len(values) > 1 and not name.endswith("[]"):
                out.append(f"{name}: given {len(values)} times")
    for name, items in files.items():
        base = name.removesuffix("[]")
        if base not in ("image", "mask"):
            out.append(f"{name}: unexpected file")
        elif base == "mask" and len(items) > 1:
            out.append("mask: only one mask")
        else:
            instance[base] = ["<binary>"] * len(items) if base == "image" and name.endswith("[]") else "<binary>"
    return out + schema_violations(instance, "CreateImageEditRequest")


async def openai_edits(fake: _OpenAIFake, request: web.Request) -> web.Response:
    form = await request.post()
    fields: dict[str, list[str]] = {}
    files: dict[str, list[dict[str, Any]]] = {}
    for name, value in form.items():
        if isinstance(value, web.FileField):
            files.setdefault(name, []).append(
                {"filename": value.filename, "content_type": value.content_type, "data": value.file.read()}
            )
        else:
            fields.setdefault(name, []).append(str(value))
    fake.received.append(
        Received(request.method, request.path, dict(request.headers), {"fields": fields, "files": files})
    )
    fake.spec_violations.extend(edit_form_violations(fields, files))
    plain = {name.removesuffix("[]"): values[0] for name, values in fields.items()}
    plain["n"] = int(plain["n"]) if str(plain.get("n", "")).isdigit() else None
    return _answer(fake, plain)


# ---------------------------------------------------------------------------------------------
# Gemini

IMAGE_MODELS: tuple[str, ...] = ("gemini-*image*",)
IMAGEN_MODELS: tuple[str, ...] = ("imagen-*",)
# Gemini 2.0's image preview answers TEXT and IMAGE together, never IMAGE alone.
TEXT_AND_IMAGE_ONLY: tuple[str, ...] = ("gemini-2.0-*",)
# GEM types.ImageConfig.aspect_ratio / types.GenerateImagesConfig.aspect_ratio ("Supported values are ...").
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "9:16", "16:9", "21:9")
IMAGEN_ASPECT_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9")
IMAGE_TOKENS = 1290  # what Gemini counts for one generated 1024px image


def _matches(model: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(model, pattern) for pattern in patterns)


def _modalities(body: dict[str, Any]) -> list[str]:
    config = body.get("generationConfig") or body.get("generation_config") or {}
    return [str(item).upper() for item in config.get("responseModalities") or config.get("response_modalities") or ()]


def content_violations(body: dict[str, Any], model: str) -> list[str]:
    """What the API refuses about images in a generateContent body the shape check already passed."""
    if _matches(model, IMAGEN_MODELS):
        return [
            f"models/{model} is not found for API version v1beta, or is not supported for generateContent. "
            "Call ListModels to see the list of available models and their supported methods."
        ]
    modalities = _modalities(body)
    out: list[str] = []
    if "IMAGE" in modalities and not _matches(model, IMAGE_MODELS):
        out.append(
            f"generationConfig.responseModalities: Model models/{model} does not support the requested "
            "response modalities: image"
        )
    if modalities == ["IMAGE"] and _matches(model, TEXT_AND_IMAGE_ONLY):
        out.append(
            "generationConfig.responseModalities: The requested combination of response modalities "
            "(IMAGE) is not supported by the model"
        )
    config = body.get("generationConfig") or {}
    image_config = config.get("imageConfig") or config.get("image_config") or {}
    ratio = image_config.get("aspectRatio") or image_config.get("aspect_ratio")
    if ratio is not None and ratio not in ASPECT_RATIOS:
        out.append(f"generationConfig.imageConfig.aspectRatio: unsupported aspect ratio {ratio!r}")
    return out


def image_content_response(body: dict[str, Any], model: str) -> dict[str, Any]:
    """A GenerateContentResponse with one generated PNG (after a sentence when TEXT was asked too); the
    prompt's tokens counted by modality, as Gemini does."""
    parts: list[dict[str, Any]] = []
    if "TEXT" in _modalities(body):
        parts.append({"text": "Here is the picture you asked for."})
    parts.append({"inlineData": {"mimeType": "image/png", "data": PNG_B64}})
    inputs = [part for content in body.get("contents") or () for part in content.get("parts") or ()]
    images_in = sum(1 for part in inputs if "inlineData" in part)
    text_in = 8
    prompt = text_in + 258 * images_in
    details = [{"modality": "TEXT", "tokenCount": text_in}]
    if images_in:
        details.append({"modality": "IMAGE", "tokenCount": 258 * images_in})
    return {
        "candidates": [{"content": {"parts": parts, "role": "model"}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {
            "promptTokenCount": prompt,
            "candidatesTokenCount": IMAGE_TOKENS,
            "totalTokenCount": prompt + IMAGE_TOKENS,
            "promptTokensDetails": details,
            "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": IMAGE_TOKENS}],
        },
        "modelVersion": model,
        "responseId": "FakeImageResp123",
    }


def content_reply(body: Any, model: str, streaming: bool) -> Reply | None:
    """The default answer to a request for images; None for every other request."""
    if streaming or not isinstance(body, dict) or "IMAGE" not in _modalities(body):
        return None
    return Reply(json=image_content_response(body, model))


class _Instance(_common.BaseModel):
    prompt: str | None = None


class _OutputOptions(_common.BaseModel):
    mime_type: str | None = None
    compression_quality: int | None = None


class _Parameters(_common.BaseModel):
    """What `_GenerateImagesConfig_to_mldev` put in `parameters` (its Vertex-only fields raised there)."""

    sample_count: int | None = None
    aspect_ratio: str | None = None
    guidance_scale: float | None = None
    safety_setting: str | None = None
    person_generation: str | None = None
    include_safety_attributes: bool | None = None
    include_rai_reason: bool | None = None
    language: str | None = None
    output_options: _OutputOptions | None = None
    sample_image_size: str | None = None


class _PredictRequest(_common.BaseModel):
    instances: list[_Instance] | None = None
    parameters: _Parameters | None = None


def _enum(value: str | None, kind: type[Any], where: str, out: list[str]) -> None:
    if value is not None and value not in {member.value for member in kind}:
        out.append(f"{where}: Invalid value {value!r}; expected one of {[member.value for member in kind]}")


def predict_violations(body: Any) -> list[str]:
    """What the Gemini API would refuse in an Imagen `:predict` body (unknown keys are refused by the
    SDK's forbidding base model; enums are checked by value so the SDK never warns)."""
    try:
        request = _PredictRequest.model_validate(body)
    except ValidationError as error:
        return [f"{'.'.join(map(str, item['loc'])) or '<body>'}: {item['msg']}" for item in error.errors()][:8]
    out: list[str] = []
    instances = request.instances or []
    if len(instances) != 1 or not instances[0].prompt:
        out.append("instances: exactly one instance with a non-empty prompt is expected")
    parameters = request.parameters or _Parameters()
    if parameters.sample_count is not None and not 1 <= parameters.sample_count <= 4:
        out.append(f"parameters.sampleCount: must be between 1 and 4 (got {parameters.sample_count})")
    if parameters.aspect_ratio is not None and parameters.aspect_ratio not in IMAGEN_ASPECT_RATIOS:
        out.append(f"parameters.aspectRatio: unsupported aspect ratio {parameters.aspect_ratio!r}")
    mime_type = parameters.output_options.mime_type if parameters.output_options else None
    if mime_type is not None and mime_type not in ("image/png", "image/jpeg"):
        out.append(f"parameters.outputOptions.mimeType: unsupported {mime_type!r}")
    _enum(parameters.safety_setting, gt.SafetyFilterLevel, "parameters.safetySetting", out)
    _enum(parameters.person_generation, gt.PersonGeneration, "parameters.personGeneration", out)
    _enum(parameters.language, gt.ImagePromptLanguage, "parameters.language", out)
    return out


def predict_response(count: int, mime_type: str = "image/png") -> dict[str, Any]:
    return {"predictions": [{"bytesBase64Encoded": PNG_B64, "mimeType": mime_type} for _ in range(count)]}


class _GeminiFake(Protocol):
    replies: deque[Reply]

    def _refuse(self, problems: list[str], code: int = 400, **error: Any) -> web.Response: ...


async def gemini_predict(fake: _GeminiFake, request: web.Request, body: Any, model: str) -> web.Response:
    """`POST /v1beta/models/{imagen}:predict` (the request is already recorded and authenticated)."""
    if not _matches(model, IMAGEN_MODELS):
        return fake._refuse(
            [
                f"models/{model} is not found for API version {request.match_info['version']}, or is "
                "not supported for predict."
            ],
            404,
        )
    problems = predict_violations(body)
    if problems:
        return fake._refuse(problems)
    if fake.replies:
        reply = fake.replies.popleft()
        return web.Response(status=reply.status, body=orjson.dumps(reply.json), content_type="application/json")
    parameters = body.get("parameters") or {}
    mime_type = (parameters.get("outputOptions") or {}).get("mimeType") or "image/png"
    return web.json_response(predict_response(parameters.get("sampleCount") or 4, mime_type))
