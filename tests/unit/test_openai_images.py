"""Golden tests of the OpenAI images translators: the request relayed with every field, the answer
read with everything kept."""

from __future__ import annotations

import pytest

from babelgate.frontends.multipart import fields, parse_form
from babelgate.providers.openai.images import edit_to_form, from_wire, generation_to_wire, usage_from_wire
from babelgate.schema.chat import Usage
from babelgate.schema.images import GeneratedImage, ImageFile, ImageRequest

PNG = b"\x89PNG\r\n\x1a\nfake"


def test_generation_keeps_every_field_in_the_spec_order_with_the_model_rewritten() -> None:
    request = ImageRequest(
        model="painter",
        prompt="an otter",
        n=2,
        size="1024x1536",
        quality="high",
        response_format="b64_json",
        output_format="webp",
        background="transparent",
        user="u1",
        extra={"moderation": "low", "output_compression": 80, "style": "vivid"},
    )
    wire = generation_to_wire(request, "gpt-image-1")
    assert wire == {
        "prompt": "an otter",
        "model": "gpt-image-1",
        "n": 2,
        "quality": "high",
        "response_format": "b64_json",
        "output_format": "webp",
        "size": "1024x1536",
        "background": "transparent",
        "user": "u1",
        "moderation": "low",
        "output_compression": 80,
        "style": "vivid",
    }
    assert list(wire)[:4] == ["prompt", "model", "n", "quality"]


def test_generation_sends_only_what_the_client_set() -> None:
    assert generation_to_wire(ImageRequest(model="m", prompt="p"), "dall-e-3") == {"prompt": "p", "model": "dall-e-3"}


async def test_edit_form_carries_the_files_and_every_field() -> None:
    request = ImageRequest(
        model="painter",
        prompt="add a hat",
        n=2,
        size="1024x1024",
        user="u1",
        images=[ImageFile(PNG, "a.png"), ImageFile(PNG + b"2", "b.jpg", "image/jpeg")],
        mask=ImageFile(PNG + b"m", "mask.png"),
        extra={
            "input_fidelity": "high",
            "output_compression": 50,
            "stream": False,
            "tags[]": ["a", "b"],
            "markup": ImageFile(b"<svg/>", "m.svg", "image/svg+xml"),
        },
    )
    body, content_type = await edit_body(request, "gpt-image-1")
    assert content_type.startswith("multipart/form-data; boundary=")
    parts = parse_form(body, content_type)
    by_name = fields(parts)
    assert [(p.name, p.filename, p.content_type, p.data) for p in by_name["image"]] == [
        ("image[]", "a.png", "image/png", PNG),
        ("image[]", "b.jpg", "image/jpeg", PNG + b"2"),
    ]
    assert by_name["mask"][0].data == PNG + b"m" and by_name["mask"][0].filename == "mask.png"
    texts = {p.name: p.text() for p in parts if not p.is_file and p.name != "tags[]"}
    assert texts == {
        "prompt": "add a hat",
        "model": "gpt-image-1",
        "n": "2",
        "size": "1024x1024",
        "user": "u1",
        "input_fidelity": "high",
        "output_compression": "50",
        "stream": "false",
    }
    assert [p.text() for p in by_name["tags"]] == ["a", "b"]
    assert by_name["markup"][0].filename == "m.svg"
    assert [p.name for p in parts][:4] == ["image[]", "image[]", "prompt", "mask"]


async def test_one_image_is_sent_as_image() -> None:
    body, content_type = await edit_body(ImageRequest(model="m", prompt="p", images=[ImageFile(PNG)]), "dall-e-2")
    assert [part.name for part in parse_form(body, content_type)] == ["image", "prompt", "model"]


async def edit_body(request: ImageRequest, model: str) -> tuple[bytes, str]:
    """The form as the provider renders it before sending."""
    writer = edit_to_form(request, model)()
    return await writer.as_bytes(), writer.content_type


def test_answer_is_read_with_everything_kept() -> None:
    body = {
        "created": 1_713_833_628,
        "data": [{"b64_json": "QUJD"}, {"b64_json": "REVG"}],
        "background": "opaque",
        "output_format": "webp",
        "size": "1024x1024",
        "quality": "high",
        "usage": {
            "total_tokens": 100,
            "input_tokens": 50,
            "output_tokens": 50,
            "input_tokens_details": {"text_tokens": 10, "image_tokens": 40},
        },
    }
    answer = from_wire(body)
    assert answer.created == 1_713_833_628
    assert answer.images == [
        GeneratedImage(b64_json="QUJD", mime_type="image/webp"),
        GeneratedImage(b64_json="REVG", mime_type="image/webp"),
    ]
    assert answer.extra == {"background": "opaque", "output_format": "webp", "size": "1024x1024", "quality": "high"}
    assert answer.usage == Usage(
        prompt_tokens=50,
        completion_tokens=50,
        total_tokens=100,
        extra={"input_tokens_details": {"text_tokens": 10, "image_tokens": 40}},
    )


def test_dalle_answer_keeps_url_and_revised_prompt() -> None:
    answer = from_wire({"created": 1, "data": [{"url": "https://x/1.png", "revised_prompt": "An otter, detailed"}]})
    assert answer.images == [GeneratedImage(url="https://x/1.png", revised_prompt="An otter, detailed")]
    assert answer.usage is None and answer.extra == {}


@pytest.mark.parametrize(
    "body",
    [
        {"data": []},
        {"created": "now", "data": []},
        {"created": 1, "data": ["x"]},
        {"created": 1, "data": [{"b64_json": 5}]},
    ],
)
def test_malformed_answers_raise(body: dict[str, object]) -> None:
    with pytest.raises((KeyError, TypeError)):
        from_wire(body)


def test_usage_without_details_and_without_total() -> None:
    assert usage_from_wire({"input_tokens": 3, "output_tokens": 4}) == Usage(3, 4, 7)
    assert usage_from_wire(None) is None
