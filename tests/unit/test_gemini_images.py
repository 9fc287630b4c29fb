"""Golden tests of the Gemini images translators: sizes to aspect ratios, generateContent and Imagen
bodies, answers read back (one representation with the chat road), drops listed, refusals named."""

from __future__ import annotations

import base64

import pytest

from babelgate.errors import InvalidRequest, UnsupportedCapability, UpstreamError, UpstreamRejected
from babelgate.providers.gemini.images import (
    GEMINI_ASPECT_RATIOS,
    IMAGEN_ASPECT_RATIOS,
    Generated,
    aspect_ratio,
    content_from_wire,
    content_to_wire,
    image_mime_type,
    is_imagen,
    predict_from_wire,
    predict_to_wire,
    response,
)
from babelgate.providers.gemini.profiles import DEFAULT_PROFILE
from babelgate.providers.gemini.translate import from_wire
from babelgate.schema.chat import Usage
from babelgate.schema.images import GeneratedImage, ImageFile, ImageRequest

PNG = b"\x89PNG\r\n\x1a\nfake"
PNG_B64 = base64.b64encode(PNG).decode()
MODEL = "gemini-2.5-flash-image"


@pytest.mark.parametrize(
    ("size", "gemini", "imagen"),
    [
        (None, None, None),
        ("auto", None, None),
        ("1024x1024", "1:1", "1:1"),
        ("256x256", "1:1", "1:1"),
        ("512x512", "1:1", "1:1"),
        ("1536x1024", "3:2", "4:3"),
        ("1024x1536", "2:3", "3:4"),
        ("1792x1024", "16:9", "16:9"),
        ("1024x1792", "9:16", "9:16"),
        ("1536x864", "16:9", "16:9"),
        ("2560x1080", "21:9", "16:9"),
        ("1200x900", "4:3", "4:3"),
        ("900x1200", "3:4", "3:4"),
        ("3000x1000", "21:9", "16:9"),
        ("1000x3000", "9:16", "9:16"),
        ("16:9", "16:9", "16:9"),
    ],
)
def test_size_to_the_nearest_supported_aspect_ratio(size: str | None, gemini: str | None, imagen: str | None) -> None:
    assert aspect_ratio(size, GEMINI_ASPECT_RATIOS) == gemini
    assert aspect_ratio(size, IMAGEN_ASPECT_RATIOS) == imagen


@pytest.mark.parametrize("size", ["big", "1024", "1024x", "0x1024", "-5x5", "21:9"])
def test_a_size_that_is_no_size_is_a_400_naming_size(size: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        aspect_ratio(size, IMAGEN_ASPECT_RATIOS)
    assert caught.value.param == "size"


def test_generation_body_asks_for_images_only() -> None:
    adjusted: list[str] = []
    body = content_to_wire(
        ImageRequest(model="p", prompt="a red fox", size="1792x1024"), MODEL, DEFAULT_PROFILE, adjusted
    )
    assert body == {
        "contents": [{"role": "user", "parts": [{"text": "a red fox"}]}],
        "generationConfig": {"responseModalities": ["IMAGE"], "imageConfig": {"aspectRatio": "16:9"}},
    }
    assert adjusted == []


def test_gemini_2_0_image_preview_gets_text_and_image() -> None:
    body = content_to_wire(
        ImageRequest(model="p", prompt="x"), "gemini-2.0-flash-preview-image-generation", DEFAULT_PROFILE, []
    )
    assert body["generationConfig"] == {"responseModalities": ["TEXT", "IMAGE"]}


def test_edit_body_carries_the_images_as_inline_data_after_the_prompt() -> None:
    request = ImageRequest(
        model="p",
        prompt="add a hat",
        images=[
            ImageFile(PNG, "a.png", "application/octet-stream"),
            ImageFile(b"\xff\xd8\xffjpeg", "b.jpg", "image/jpeg"),
        ],
    )
    body = content_to_wire(request, MODEL, DEFAULT_PROFILE, [])
    assert body["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "add a hat"},
                {"inlineData": {"mimeType": "image/png", "data": PNG_B64}},
                {"inlineData": {"mimeType": "image/jpeg", "data": base64.b64encode(b"\xff\xd8\xffjpeg").decode()}},
            ],
        }
    ]


def test_parameters_gemini_cannot_take_are_dropped_and_listed() -> None:
    adjusted: list[str] = []
    request = ImageRequest(
        model="p",
        prompt="x",
        quality="high",
        output_format="jpeg",
        background="opaque",
        user="u",
        extra={
            "style": "vivid",
            "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        },
    )
    body = content_to_wire(request, MODEL, DEFAULT_PROFILE, adjusted)
    assert adjusted == [
        "quality=dropped",
        "background=dropped",
        "user=dropped",
        "output_format=dropped",
        "style=dropped",
    ]
    assert body["safetySettings"] == [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]


def test_png_output_format_is_what_gemini_gives_and_not_a_drop() -> None:
    adjusted: list[str] = []
    content_to_wire(ImageRequest(model="p", prompt="x", output_format="png"), MODEL, DEFAULT_PROFILE, adjusted)
    assert adjusted == []


@pytest.mark.parametrize(
    ("request_fields", "param"),
    [
        ({"background": "transparent"}, "background"),
        ({"mask": ImageFile(PNG)}, "mask"),
    ],
)
def test_what_would_change_the_answer_is_refused(request_fields: dict[str, object], param: str) -> None:
    with pytest.raises(UnsupportedCapability) as caught:
        content_to_wire(
            ImageRequest(model="p", prompt="x", images=[ImageFile(PNG)], **request_fields),  # type: ignore[arg-type]
            MODEL,
            DEFAULT_PROFILE,
            [],
        )
    assert caught.value.param == param


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"GIF89a", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
    ],
)
def test_upload_type_is_sniffed_when_not_declared(data: bytes, mime: str) -> None:
    assert image_mime_type(ImageFile(data, "x", "application/octet-stream"), "image") == mime
    assert image_mime_type(ImageFile(b"??", "x", "image/webp; q=1"), "image") == "image/webp"


def test_an_upload_that_is_no_image_is_a_400() -> None:
    with pytest.raises(InvalidRequest) as caught:
        content_to_wire(
            ImageRequest(model="p", prompt="x", images=[ImageFile(b"hello", "a.txt", "text/plain")] * 2),
            MODEL,
            DEFAULT_PROFILE,
            [],
        )
    assert caught.value.param == "image[0]"


GENERATED = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"inlineData": {"mimeType": "image/png", "data": "VEhPVUdIVA=="}, "thought": True},
                    {"text": "Here you go."},
                    {"inlineData": {"mimeType": "image/png", "data": PNG_B64}},
                ],
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 266,
        "candidatesTokenCount": 1290,
        "totalTokenCount": 1556,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 8}, {"modality": "IMAGE", "tokenCount": 258}],
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1290}],
    },
    "modelVersion": MODEL,
    "responseId": "r1",
}


def test_answer_images_are_the_chat_roads_images_without_thought_drafts() -> None:
    generated = content_from_wire(GENERATED, MODEL)
    assert generated.images == [GeneratedImage(b64_json=PNG_B64, mime_type="image/png")]
    chat = from_wire(GENERATED, created=0, model=MODEL).choices[0].message.images
    assert chat == [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}}]
    assert generated.usage == Usage(
        prompt_tokens=266,
        completion_tokens=1290,
        total_tokens=1556,
        cached_tokens=0,
        reasoning_tokens=0,
        extra={
            "input_tokens_details": {"text_tokens": 8, "image_tokens": 258},
            "output_tokens_details": {"text_tokens": 0, "image_tokens": 1290},
        },
    )


def test_usage_without_a_breakdown_is_text_in_and_image_out() -> None:
    body = {
        **GENERATED,
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 1290, "totalTokenCount": 1295},
    }
    usage = content_from_wire(body, MODEL).usage
    assert usage is not None and usage.extra == {
        "input_tokens_details": {"text_tokens": 5, "image_tokens": 0},
        "output_tokens_details": {"text_tokens": 0, "image_tokens": 1290},
    }


@pytest.mark.parametrize(
    ("body", "reason", "refused"),
    [
        ({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}, "PROHIBITED_CONTENT", True),
        ({"candidates": [{"finishReason": "IMAGE_SAFETY", "index": 0}]}, "IMAGE_SAFETY", True),
        (
            {
                "candidates": [
                    {"content": {"role": "model", "parts": [{"text": "I'd rather not."}]}, "finishReason": "STOP"}
                ]
            },
            "STOP",
            False,
        ),
        ({"candidates": [{"finishReason": "NO_IMAGE"}]}, "NO_IMAGE", False),
    ],
)
def test_why_there_is_no_image(body: dict[str, object], reason: str, refused: bool) -> None:
    generated = content_from_wire(body, MODEL)
    assert (generated.images, generated.reason, generated.refused) == ([], reason, refused)
    with pytest.raises(UpstreamRejected if refused else UpstreamError) as caught:
        response([generated], "gemini", created=1)
    assert caught.value.status == (400 if refused else 502)
    assert caught.value.params == {"provider": "gemini", "reason": reason}
    if refused:
        assert caught.value.code == "content_policy_violation"


def test_several_calls_are_one_answer_with_usage_summed() -> None:
    usage = content_from_wire(GENERATED, MODEL).usage
    answer = response([content_from_wire(GENERATED, MODEL), content_from_wire(GENERATED, MODEL)], "gemini", created=7)
    assert answer.created == 7 and len(answer.images) == 2 and answer.extra == {"output_format": "png"}
    assert usage is not None and answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.usage.total_tokens) == (532, 2580, 3112)
    assert answer.usage.extra["output_tokens_details"] == {"text_tokens": 0, "image_tokens": 2580}


def test_imagen_body() -> None:
    adjusted: list[str] = []
    request = ImageRequest(
        model="p",
        prompt="a lighthouse",
        n=3,
        size="1536x1024",
        output_format="jpeg",
        quality="hd",
        extra={"personGeneration": "ALLOW_ADULT", "style": "natural"},
    )
    assert predict_to_wire(request, adjusted) == {
        "instances": [{"prompt": "a lighthouse"}],
        "parameters": {
            "aspectRatio": "4:3",
            "outputOptions": {"mimeType": "image/jpeg"},
            "personGeneration": "ALLOW_ADULT",
        },
    }
    assert adjusted == ["quality=dropped", "style=dropped"]


def test_imagen_webp_is_dropped_and_listed() -> None:
    adjusted: list[str] = []
    assert predict_to_wire(ImageRequest(model="p", prompt="x", output_format="webp"), adjusted)["parameters"] == {}
    assert adjusted == ["output_format=dropped"]


def test_imagen_answer_and_its_filtered_images() -> None:
    body = {
        "predictions": [
            {"bytesBase64Encoded": PNG_B64, "mimeType": "image/jpeg", "prompt": "A tall lighthouse"},
            {"raiFilteredReason": "filtered: violence"},
        ]
    }
    generated = predict_from_wire(body)
    assert generated.images == [
        GeneratedImage(b64_json=PNG_B64, mime_type="image/jpeg", revised_prompt="A tall lighthouse")
    ]
    assert response([generated], "gemini", created=1).extra == {"output_format": "jpeg"}
    with pytest.raises(UpstreamRejected) as caught:
        response(
            [predict_from_wire({"predictions": [{"raiFilteredReason": "filtered: violence"}]})], "gemini", created=1
        )
    assert caught.value.params["reason"] == "filtered: violence"
    with pytest.raises(UpstreamRejected):
        response([predict_from_wire({})], "gemini", created=1)


def test_imagen_models_by_name() -> None:
    assert is_imagen("imagen-4.0-generate-001") and not is_imagen(MODEL)
    assert response([Generated([GeneratedImage(b64_json="x", mime_type="image/heic")])], "g", created=1).extra == {}
