"""The images frontend without a server: decoding JSON and multipart, validation naming parameters,
and OpenAI's `ImagesResponse` encoded from canonical answers."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types import ImagesResponse

from babelgate.errors import InvalidRequest
from babelgate.frontends.images import decode_form, decode_request, encode_response, encode_usage
from babelgate.frontends.multipart import Part
from babelgate.schema.chat import Usage
from babelgate.schema.images import GeneratedImage, ImageRequest, ImageResponse

PNG = b"\x89PNG\r\n\x1a\nfake"


def test_json_request_is_decoded_with_unknown_fields_kept() -> None:
    request = decode_request(
        {
            "model": "gpt-image-1",
            "prompt": "an otter",
            "n": 3,
            "size": "1024x1536",
            "quality": "high",
            "response_format": "b64_json",
            "output_format": "webp",
            "background": "opaque",
            "user": "u1",
            "stream": False,
            "moderation": "low",
            "output_compression": 80,
        }
    )
    assert request == ImageRequest(
        model="gpt-image-1",
        prompt="an otter",
        n=3,
        size="1024x1536",
        quality="high",
        response_format="b64_json",
        output_format="webp",
        background="opaque",
        user="u1",
        extra={"moderation": "low", "output_compression": 80},
    )


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({}, "prompt", "missing_field"),
        ({"prompt": ""}, "prompt", "wrong_type"),
        ({"prompt": ["a"]}, "prompt", "wrong_type"),
        ({"prompt": "p", "n": 0}, "n", "out_of_range"),
        ({"prompt": "p", "n": 11}, "n", "out_of_range"),
        ({"prompt": "p", "n": 1.5}, "n", "wrong_type"),
        ({"prompt": "p", "n": True}, "n", "wrong_type"),
        ({"prompt": "p", "response_format": "png"}, "response_format", "invalid_value"),
        ({"prompt": "p", "size": 1024}, "size", "wrong_type"),
        ({"prompt": "p", "quality": None, "background": 1}, "background", "wrong_type"),
        ({"prompt": "p", "user": {"id": 1}}, "user", "wrong_type"),
        ({"prompt": "p", "stream": True}, "stream", "invalid_value"),
        ({"prompt": "p", "stream": "yes"}, "stream", "invalid_value"),
    ],
)
def test_what_the_gateway_reads_is_checked(body: dict[str, Any], param: str, code: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_request({"model": "m", **body})
    assert (caught.value.param, caught.value.message_key) == (param, code)


def _text(name: str, value: str) -> Part:
    return Part(name=name, data=value.encode(), content_type="text/plain")


def _file(name: str, data: bytes = PNG, filename: str = "a.png") -> Part:
    return Part(name=name, data=data, filename=filename, content_type="image/png")


def test_form_fields_and_files_are_split_with_names_kept() -> None:
    values, files = decode_form(
        [
            _file("image[]"),
            _file("image[]", PNG + b"2", "b.png"),
            _text("prompt", "add a hat"),
            _file("mask"),
            _text("model", "gpt-image-1"),
            _text("n", "2"),
            _text("input_fidelity", "high"),
            _text("tags[]", "a"),
            _text("tags[]", "b"),
            _file("markup", b"<svg/>", "m.svg"),
        ]
    )
    assert values == {
        "prompt": "add a hat",
        "model": "gpt-image-1",
        "n": "2",
        "input_fidelity": "high",
        "tags[]": ["a", "b"],
    }
    assert [(f.data, f.filename) for f in files["image"]] == [(PNG, "a.png"), (PNG + b"2", "b.png")]
    assert set(files) == {"image", "mask", "markup"}
    request = decode_request(values, form=True)
    assert request.n == 2 and request.extra == {"input_fidelity": "high", "tags[]": ["a", "b"]}


@pytest.mark.parametrize(
    ("parts", "param"),
    [
        ([_text("image", "https://example.com/a.png")], "image"),
        ([_text("mask", "x")], "mask"),
        ([_file("prompt")], "prompt"),
        ([_text("prompt", "a"), _text("prompt", "b")], "prompt"),
    ],
)
def test_bad_forms_name_the_field(parts: list[Part], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_form(parts)
    assert caught.value.param == param


@pytest.mark.parametrize(("n", "code"), [("two", "wrong_type"), ("0", "out_of_range"), ("12", "out_of_range")])
def test_form_numbers_are_read_from_their_text(n: str, code: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_request({"model": "m", "prompt": "p", "n": n}, form=True)
    assert (caught.value.param, caught.value.message_key) == ("n", code)


def test_form_stream_false_is_accepted_and_true_refused() -> None:
    assert decode_request({"model": "m", "prompt": "p", "stream": "false"}, form=True).extra == {}
    with pytest.raises(InvalidRequest):
        decode_request({"model": "m", "prompt": "p", "stream": "true"}, form=True)


def test_bytes_become_a_data_url_when_the_client_asked_for_a_url() -> None:
    answer = ImageResponse(created=5, images=[GeneratedImage(b64_json="QUJD", mime_type="image/jpeg")])
    assert encode_response(answer, "url") == {"created": 5, "data": [{"url": "data:image/jpeg;base64,QUJD"}]}
    assert encode_response(answer, "b64_json") == {"created": 5, "data": [{"b64_json": "QUJD"}]}
    assert encode_response(answer, None) == {"created": 5, "data": [{"b64_json": "QUJD"}]}


def test_upstream_urls_and_revised_prompts_are_relayed() -> None:
    answer = ImageResponse(created=5, images=[GeneratedImage(url="https://x/1.png", revised_prompt="An otter")])
    assert encode_response(answer, "b64_json") == {
        "created": 5,
        "data": [{"url": "https://x/1.png", "revised_prompt": "An otter"}],
    }


def test_full_answer_is_a_valid_sdk_object_in_the_spec_order() -> None:
    usage = Usage(
        prompt_tokens=50,
        completion_tokens=272,
        total_tokens=322,
        extra={
            "input_tokens_details": {"text_tokens": 10, "image_tokens": 40},
            "output_tokens_details": {"image_tokens": 272, "text_tokens": 0},
        },
    )
    answer = ImageResponse(
        created=5,
        images=[GeneratedImage(b64_json="QUJD")],
        usage=usage,
        extra={"background": "opaque", "output_format": "png", "size": "1024x1024", "quality": "high"},
    )
    encoded = encode_response(answer, None)
    assert list(encoded) == ["created", "data", "background", "output_format", "size", "quality", "usage"]
    parsed = ImagesResponse.model_validate(encoded)
    assert parsed.usage is not None and parsed.usage.output_tokens_details is not None
    assert parsed.usage.input_tokens_details.image_tokens == 40 and parsed.usage.total_tokens == 322


def test_usage_without_a_breakdown_counts_the_prompt_as_text() -> None:
    assert encode_usage(Usage(prompt_tokens=7, completion_tokens=3)) == {
        "input_tokens": 7,
        "input_tokens_details": {"text_tokens": 7, "image_tokens": 0},
        "output_tokens": 3,
        "total_tokens": 10,
    }
