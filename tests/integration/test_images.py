"""`/v1/images/generations` and `/v1/images/edits` through the gateway with the official `openai` SDK:
relayed to the OpenAI fake, translated for Gemini image models and Imagen, refused before any call where
a provider cannot make images, and a multipart body past `server.max_body_bytes` refused unread."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, GatewayFactory
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.images import PNG, png_bytes
from tests.fakes.openai_upstream import FakeOpenAI, Reply
from tests.fakes.servers import RunningApp

IMAGE_MODEL = "gemini-2.5-flash-image"
IMAGEN = "imagen-4.0-generate-001"
MASK = png_bytes(rgb=(0, 0, 0))


def _png(data: str | None) -> bytes:
    return base64.b64decode(data or "")


@pytest.fixture
def gemini(make_gateway: GatewayFactory, gemini_upstream: FakeGemini) -> Iterator[openai.OpenAI]:
    gateway = make_gateway(env={"GEMINI_API_KEY": GEMINI_KEY, "GEMINI_BASE_URL": gemini_upstream.base_url})
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        yield client


# ---------------------------------------------------------------------------------------------
# OpenAI and compatible: relayed


def test_gpt_image_generation_is_relayed_with_every_field(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    answer = client.images.generate(
        model="gpt-image-1",
        prompt="an otter",
        n=2,
        size="1536x1024",
        quality="high",
        background="opaque",
        output_format="png",
        moderation="low",
        extra_body={"future_knob": {"level": 2}},
    )
    assert answer.data is not None and [_png(item.b64_json) for item in answer.data] == [PNG, PNG]
    assert (answer.size, answer.quality, answer.output_format, answer.background) == (
        "1536x1024",
        "high",
        "png",
        "opaque",
    )
    assert answer.usage is not None and answer.usage.input_tokens_details.image_tokens == 40
    assert answer.usage.output_tokens == 544 and answer.usage.total_tokens == 594
    sent = upstream.received[-1]
    assert sent.path == "/v1/images/generations"
    assert sent.json == {
        "prompt": "an otter",
        "model": "gpt-image-1",
        "n": 2,
        "quality": "high",
        "output_format": "png",
        "size": "1536x1024",
        "background": "opaque",
        "moderation": "low",
        "future_knob": {"level": 2},
    }


def test_dalle_urls_and_revised_prompts_are_relayed(client: openai.OpenAI) -> None:
    answer = client.images.generate(model="dall-e-3", prompt="an otter", response_format="url")
    assert answer.data is not None and answer.data[0].url == "https://images.fake.example/generated/0.png"
    assert answer.data[0].revised_prompt == "A detailed picture: an otter"
    b64 = client.images.generate(model="dall-e-3", prompt="an otter", response_format="b64_json")
    assert b64.data is not None and _png(b64.data[0].b64_json) == PNG


def test_a_configured_name_is_rewritten_to_the_upstream_model(
    make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    gateway = make_gateway(
        "models:\n  painter:\n    provider: openai\n    model: gpt-image-1\n    defaults: {quality: low}\n"
    )
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60) as client:
        client.images.generate(model="painter", prompt="p")
    assert upstream.received[-1].json == {"prompt": "p", "model": "gpt-image-1", "quality": "low"}


def test_edits_are_relayed_as_multipart_with_the_files(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    second = png_bytes(2, 2)
    answer = client.images.edit(
        model="gpt-image-1",
        prompt="add a hat",
        n=2,
        size="1024x1024",
        input_fidelity="high",
        image=[("a.png", PNG, "image/png"), ("b.png", second)],
        mask=("mask.png", MASK, "image/png"),
    )
    assert answer.data is not None and len(answer.data) == 2 and answer.usage is not None
    sent = upstream.received[-1]
    assert sent.path == "/v1/images/edits"
    files = sent.json["files"]
    assert [(f["filename"], f["data"]) for f in files["image[]"]] == [("a.png", PNG), ("b.png", second)]
    assert files["mask"][0]["data"] == MASK and files["mask"][0]["content_type"] == "image/png"
    assert sent.json["fields"] == {
        "prompt": ["add a hat"],
        "model": ["gpt-image-1"],
        "n": ["2"],
        "size": ["1024x1024"],
        "input_fidelity": ["high"],
    }


def test_one_image_edit_with_a_url_answer(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    answer = client.images.edit(model="dall-e-2", prompt="p", image=("a.png", PNG, "image/png"), response_format="url")
    assert answer.data is not None and answer.data[0].url is not None
    assert list(upstream.received[-1].json["files"]) == ["image"]


def test_upstream_errors_keep_openais_format(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.script(
        Reply(
            status=400,
            json={
                "error": {
                    "message": "Your request was rejected by the safety system.",
                    "type": "image_generation_user_error",
                    "param": None,
                    "code": "moderation_blocked",
                }
            },
        )
    )
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="gpt-image-1", prompt="p")
    assert caught.value.code == "moderation_blocked" and "safety system" in caught.value.message


def test_a_malformed_upstream_answer_is_a_502(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(json={"data": [{"b64_json": "x"}]}))
    with pytest.raises(openai.InternalServerError) as caught:
        client.images.generate(model="gpt-image-1", prompt="p")
    assert caught.value.status_code == 502 and caught.value.code == "upstream_protocol_error"


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/images/generations", {"model": "gpt-image-1"}, "prompt"),
        ("/v1/images/generations", {"model": "gpt-image-1", "prompt": "p", "n": 20}, "n"),
        (
            "/v1/images/generations",
            {"model": "gpt-image-1", "prompt": "p", "response_format": "png"},
            "response_format",
        ),
        ("/v1/images/generations", {"model": "gpt-image-1", "prompt": "p", "stream": True}, "stream"),
        ("/v1/images/generations", {"prompt": "p"}, "model"),
        ("/v1/images/edits", {"model": "gpt-image-1", "prompt": "p"}, "content-type"),
    ],
)
def test_bad_requests_name_the_parameter(
    gateway: RunningApp, upstream: FakeOpenAI, path: str, body: dict[str, object], param: str
) -> None:
    response = httpx.post(gateway.url + path, json=body, timeout=10)
    assert response.status_code == 400 and response.json()["error"]["param"] == param
    assert not [r for r in upstream.received if r.method == "POST"]


def test_an_edit_without_an_image_names_it(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    response = httpx.post(
        gateway.url + "/v1/images/edits",
        data={"model": "gpt-image-1", "prompt": "p"},
        files={"other": ("x.png", PNG, "image/png")},
        timeout=10,
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "image"
    assert not [r for r in upstream.received if r.method == "POST"]


# ---------------------------------------------------------------------------------------------
# Gemini image models and Imagen


def test_gemini_image_model_generates_n_images_with_the_nearest_aspect_ratio(
    gemini: openai.OpenAI, gemini_upstream: FakeGemini
) -> None:
    raw = gemini.images.with_raw_response.generate(
        model=IMAGE_MODEL, prompt="a red fox", n=2, size="1792x1024", quality="high"
    )
    answer = raw.parse()
    assert answer.data is not None and [_png(item.b64_json) for item in answer.data] == [PNG, PNG]
    assert answer.output_format == "png" and raw.headers["x-babelgate-adjusted-params"] == "quality=dropped"
    assert answer.usage is not None and answer.usage.output_tokens == 2580
    assert answer.usage.output_tokens_details is not None and answer.usage.output_tokens_details.image_tokens == 2580
    calls = [r for r in gemini_upstream.received if r.path.endswith(f"{IMAGE_MODEL}:generateContent")]
    assert len(calls) == 2
    assert calls[0].json == {
        "contents": [{"role": "user", "parts": [{"text": "a red fox"}]}],
        "generationConfig": {"responseModalities": ["IMAGE"], "imageConfig": {"aspectRatio": "16:9"}},
    }


def test_gemini_bytes_come_as_a_data_url_when_a_url_is_asked(gemini: openai.OpenAI) -> None:
    answer = gemini.images.generate(model=IMAGE_MODEL, prompt="a red fox", response_format="url")
    assert answer.data is not None and answer.data[0].url is not None
    header, _, data = answer.data[0].url.partition(",")
    assert header == "data:image/png;base64" and base64.b64decode(data) == PNG


def test_gemini_edit_sends_the_images_inline(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    answer = gemini.images.edit(
        model=IMAGE_MODEL, prompt="add a hat", image=("cat.png", PNG), extra_headers={"Accept-Language": "en"}
    )
    assert answer.data is not None and _png(answer.data[0].b64_json) == PNG
    assert answer.usage is not None and answer.usage.input_tokens_details.image_tokens == 258
    sent = gemini_upstream.received[-1].json
    assert sent["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "add a hat"},
                {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}},
            ],
        }
    ]


def test_gemini_refuses_a_mask_before_any_call(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        gemini.images.edit(model=IMAGE_MODEL, prompt="p", image=("a.png", PNG), mask=("m.png", MASK))
    assert caught.value.code == "unsupported_capability" and caught.value.param == "mask"
    assert not [r for r in gemini_upstream.received if r.method == "POST"]


def test_a_blocked_prompt_is_a_content_policy_violation(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    gemini_upstream.script(
        Reply(
            json={
                "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5},
            }
        )
    )
    with pytest.raises(openai.BadRequestError) as caught:
        gemini.images.generate(model=IMAGE_MODEL, prompt="p")
    assert caught.value.code == "content_policy_violation" and "PROHIBITED_CONTENT" in caught.value.message


def test_imagen_generates_in_calls_of_at_most_four(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    answer = gemini.images.generate(model=IMAGEN, prompt="a lighthouse", n=6, size="1024x1792", output_format="jpeg")
    assert answer.data is not None and len(answer.data) == 6 and answer.output_format == "jpeg"
    assert all(_png(item.b64_json) == PNG for item in answer.data) and answer.usage is None
    calls = [r.json for r in gemini_upstream.received if r.path.endswith(f"{IMAGEN}:predict")]
    assert sorted(call["parameters"]["sampleCount"] for call in calls) == [2, 4]
    assert calls[0]["instances"] == [{"prompt": "a lighthouse"}]
    assert calls[0]["parameters"]["aspectRatio"] == "9:16"
    assert calls[0]["parameters"]["outputOptions"] == {"mimeType": "image/jpeg"}


def test_imagen_edits_are_refused_before_any_call(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        gemini.images.edit(model=IMAGEN, prompt="p", image=("a.png", PNG))
    assert caught.value.code == "unsupported_capability" and caught.value.param == "model"
    assert "Imagen" in caught.value.message
    assert not [r for r in gemini_upstream.received if r.method == "POST"]


# ---------------------------------------------------------------------------------------------
# Providers without images, and the body limit


def test_a_provider_without_images_is_a_400_before_any_call(
    make_gateway: GatewayFactory, anthropic_upstream: FakeAnthropic
) -> None:
    gateway = make_gateway(env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url})
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60) as client:
        with pytest.raises(openai.BadRequestError) as generation:
            client.images.generate(model="claude-sonnet-4-6", prompt="p")
        with pytest.raises(openai.BadRequestError) as edit:
            client.images.edit(model="claude-sonnet-4-6", prompt="p", image=("a.png", PNG))
    assert generation.value.code == edit.value.code == "unsupported_capability"
    assert "image generation" in generation.value.message and "image edits" in edit.value.message
    assert not [r for r in anthropic_upstream.received if r.method == "POST"]


@pytest.fixture
def small(make_gateway: GatewayFactory) -> RunningApp:
    return make_gateway("server:\n  max_body_bytes: 2048\n")


def test_an_edit_over_the_body_limit_is_a_413(small: RunningApp, upstream: FakeOpenAI) -> None:
    with (
        openai.OpenAI(base_url=small.url + "/v1", api_key="x", max_retries=0, timeout=60) as client,
        pytest.raises(openai.APIStatusError) as caught,
    ):
        client.images.edit(model="gpt-image-1", prompt="p", image=("big.png", png_bytes(64, 64) + bytes(4096)))
    assert caught.value.status_code == 413 and caught.value.code == "request_too_large"
    assert not [r for r in upstream.received if r.method == "POST"]


def _send_and_read(url: str, head: bytes, body: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head + body)
        answer = b""
        while b"request_too_large" not in answer:  # the status line and headers may come before the body
            piece = sock.recv(4096)
            if not piece:
                break
            answer += piece
        return answer


def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body(small: RunningApp) -> None:
    head = (
        b"POST /v1/images/edits HTTP/1.1\r\nHost: gateway\r\nContent-Type: multipart/form-data; boundary=x\r\n"
        b"Content-Length: 50000000\r\n\r\n"
    )
    answer = _send_and_read(small.url, head, b"--x\r\n" + bytes(1000))  # 1 kB of the 50 MB announced
    assert answer.startswith(b"HTTP/1.1 413") and b"request_too_large" in answer


def test_a_chunked_upload_is_refused_as_soon_as_it_passes_the_limit(small: RunningApp) -> None:
    head = (
        b"POST /v1/images/edits HTTP/1.1\r\nHost: gateway\r\nContent-Type: multipart/form-data; boundary=x\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n%s\r\n" % (1500, bytes(1500))
    answer = _send_and_read(small.url, head, chunk * 2)  # never the final zero-length chunk
    assert answer.startswith(b"HTTP/1.1 413") and b"request_too_large" in answer
