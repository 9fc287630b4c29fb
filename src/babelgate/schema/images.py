"""Canonical image generation and editing: what `/v1/images/*` decodes into and every provider
that makes images answers. Images travel as base64 (`b64_json`); a frontend that must give a URL
makes a data URL of it."""

from __future__ import annotations

from dataclasses import dataclass, field

from babelgate.schema.chat import JSON, Usage


@dataclass(slots=True)
class ImageFile:
    """An uploaded image (edits: the images and the mask), as the client sent it."""

    data: bytes
    filename: str = "image.png"
    content_type: str = "image/png"


@dataclass(slots=True)
class ImageRequest:
    model: str
    prompt: str
    n: int = 1
    size: str | None = None  # "1024x1024", "auto", …
    quality: str | None = None
    response_format: str | None = None  # "b64_json" or "url", as the client asked
    output_format: str | None = None  # "png", "jpeg", "webp"
    background: str | None = None
    user: str | None = None
    images: list[ImageFile] = field(default_factory=list)  # edits only
    mask: ImageFile | None = None  # edits only
    extra: JSON = field(default_factory=dict)  # every other field, for upstreams that know it


@dataclass(slots=True)
class GeneratedImage:
    b64_json: str | None = None
    url: str | None = None  # only when the upstream itself answered with a URL
    mime_type: str = "image/png"
    revised_prompt: str | None = None


@dataclass(slots=True)
class ImageResponse:
    created: int
    images: list[GeneratedImage]
    usage: Usage | None = None
    extra: JSON = field(default_factory=dict)  # upstream fields worth relaying (size, quality, output_format)
