"""Gemini through the gateway, driven by the official `openai` SDK, against a fake Gemini upstream
that refuses whatever the real API would refuse."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import openai
import pydantic
import pytest
from aiohttp import web

from babelgate import tool_ids
from tests.conftest import GEMINI_KEY, UPSTREAM_KEY, GatewayFactory
from tests.fakes.gemini_upstream import (
    FakeGemini,
    Reply,
    blocked_prompt,
    error_body,
    function_call_chunks,
    function_call_part,
    inline_image_part,
    response,
    text_chunks,
    text_part,
    usage,
)
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import LoopThread, RunningApp

USER = [{"role": "user", "content": "Hi"}]
MODEL = "gemini-2.5-flash"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake image").decode()


@pytest.fixture
def gemini_gateway(make_gateway: GatewayFactory, gemini_upstream: FakeGemini) -> RunningApp:
    return make_gateway(env={"GEMINI_API_KEY": GEMINI_KEY, "GEMINI_BASE_URL": gemini_upstream.base_url})


@pytest.fixture
def gemini(gemini_gateway: RunningApp) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gemini_gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        yield client


def _last(fake: FakeGemini) -> tuple[str, dict[str, object]]:
    request = next(r for r in reversed(fake.received) if ":" in r.path)
    return request.path, request.json  # type: ignore[return-value]


def test_text_chat(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    gemini_upstream.script(Reply(json=response("Hallo!", usage=usage(12, 3, thoughts=4, cached=2))))
    answer = gemini.chat.completions.create(
        model=MODEL,
        messages=[  # type: ignore[arg-type]
            {"role": "system", "content": "Answer in German."},
            *USER,
        ],
        temperature=0.4,
        max_tokens=100,
    )
    assert answer.choices[0].message.content == "Hallo!"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (12, 7)
    assert answer.usage.completion_tokens_details is not None
    assert answer.usage.completion_tokens_details.reasoning_tokens == 4
    request = next(r for r in gemini_upstream.received if ":" in r.path)
    assert request.path == f"/v1beta/models/{MODEL}:generateContent"
    assert request.headers["x-goog-api-key"] == GEMINI_KEY
    assert request.json == {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "systemInstruction": {"parts": [{"text": "Answer in German."}]},
        "generationConfig": {"temperature": 0.4, "maxOutputTokens": 100},
    }


def test_streamed_text_with_usage(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    gemini_upstream.script(Reply(stream=text_chunks(["Hel", "lo", "!"])))  # type: ignore[arg-type]
    chunks = list(
        gemini.chat.completions.create(
            model="gemini/gemini-2.5-pro",
            messages=USER,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello!"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    path, _ = _last(gemini_upstream)
    assert path == "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"


def test_parallel_tool_calls_streamed_with_signed_ids(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    gemini_upstream.script(
        Reply(
            stream=function_call_chunks(
                [  # type: ignore[arg-type]
                    ("get_weather", {"city": "Paris"}, "fc_1", "c2lnMQ=="),
                    ("get_time", {"tz": "CET"}, "fc_2", None),
                ]
            )
        )
    )
    calls: dict[int, list[str]] = {}
    finish = None
    for chunk in gemini.chat.completions.create(
        model="gemini-3-pro-preview",
        messages=USER,
        stream=True,  # type: ignore[arg-type]
        tools=[_tool("get_weather"), _tool("get_time")],
    ):
        for delta in chunk.choices[0].delta.tool_calls or ():
            assert delta.id and delta.function and delta.function.name, "a Gemini call arrives whole"
            calls[delta.index] = [delta.id, delta.function.name, delta.function.arguments or ""]
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert calls == {
        0: [tool_ids.join("fc_1", "c2lnMQ=="), "get_weather", '{"city":"Paris"}'],
        1: ["fc_2", "get_time", '{"tz":"CET"}'],
    }


def test_full_tool_round_trip_gives_the_signature_back(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    model = "gemini-3-pro-preview"
    gemini_upstream.script(
        Reply(
            json=response(
                [function_call_part("get_weather", {"city": "Paris"}, id="fc_9", thought_signature="U0lH")],
                model_version=model,
            )
        )
    )
    first = gemini.chat.completions.create(model=model, messages=USER, tools=[_tool("get_weather")])  # type: ignore[arg-type]
    calls = first.choices[0].message.tool_calls
    assert first.choices[0].finish_reason == "tool_calls" and calls is not None
    # The client keeps only id, name and arguments, as every OpenAI client does.
    history = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": calls[0].id,
                    "type": "function",
                    "function": {"name": calls[0].function.name, "arguments": calls[0].function.arguments},
                }
            ],
        },  # type: ignore[union-attr]
        {"role": "tool", "tool_call_id": calls[0].id, "content": "21C"},
    ]
    answer = gemini.chat.completions.create(model=model, messages=history, tools=[_tool("get_weather")])  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "Hello!"
    _, sent = _last(gemini_upstream)
    assert sent["contents"] == [
        {"role": "user", "parts": [{"text": "Hi"}]},
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"id": "fc_9", "name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "U0lH",
                }
            ],
        },
        {
            "role": "user",
            "parts": [{"functionResponse": {"id": "fc_9", "name": "get_weather", "response": {"result": "21C"}}}],
        },
    ]


def test_signed_ids_are_made_plain_for_another_provider(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, gemini_upstream: FakeGemini
) -> None:
    gateway = make_gateway(env={"GEMINI_API_KEY": GEMINI_KEY, "GEMINI_BASE_URL": gemini_upstream.base_url})
    signed = tool_ids.join("fc_9", "U0lH")
    history = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": signed, "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": signed, "content": "ok"},
    ]
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60) as client:
        client.chat.completions.create(model="gpt-4o", messages=history)  # type: ignore[arg-type]
    sent = upstream.received[-1].json["messages"]
    assert sent[1]["tool_calls"][0]["id"] == "fc_9" and sent[2]["tool_call_id"] == "fc_9"
    assert UPSTREAM_KEY  # the OpenAI fake also checked this body against the official spec


class City(pydantic.BaseModel):
    name: str
    population: int


def test_structured_output_via_parse(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    gemini_upstream.script(Reply(json=response('{"name": "Paris", "population": 2100000}')))
    parsed = gemini.chat.completions.parse(model=MODEL, messages=USER, response_format=City)  # type: ignore[arg-type]
    assert parsed.choices[0].message.parsed == City(name="Paris", population=2100000)
    _, sent = _last(gemini_upstream)
    config = sent["generationConfig"]
    assert config["responseMimeType"] == "application/json"  # type: ignore[index]
    assert config["responseJsonSchema"]["properties"]["population"]["type"] == "integer"  # type: ignore[index]


def test_images_by_data_uri_and_by_url(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    content = [
        {"type": "text", "text": "Compare."},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.webp"}},
    ]
    gemini.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}])  # type: ignore[misc,list-item]
    _, sent = _last(gemini_upstream)
    assert sent["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "Compare."},
                {"inlineData": {"mimeType": "image/png", "data": PNG}},
                {"fileData": {"fileUri": "https://example.com/cat.webp", "mimeType": "image/webp"}},
            ],
        }
    ]


@pytest.fixture
def media_server(loop_thread: LoopThread) -> Iterator[str]:
    """A loopback host with an image, and redirects into addresses the fetcher must refuse."""

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=base64.b64decode(PNG), content_type="image/png")

    async def to_metadata(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data")

    app = web.Application()
    app.router.add_get("/cat.png", image)
    app.router.add_get("/sneaky.png", to_metadata)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)

    async def start() -> str:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    yield loop_thread.run(start())
    loop_thread.run(runner.cleanup())


INLINE_CONFIG = """
providers:
  gemini:
    type: gemini
    base_url: {base_url}
    api_key: env:GEMINI_API_KEY
    options:
      inline_remote_media: true
      media: {media}
"""


def _inline_gateway(make_gateway: GatewayFactory, gemini_upstream: FakeGemini, media: str) -> RunningApp:
    return make_gateway(
        INLINE_CONFIG.format(base_url=gemini_upstream.base_url, media=media), env={"GEMINI_API_KEY": GEMINI_KEY}
    )


def test_remote_image_inlined_by_the_safe_fetcher(
    make_gateway: GatewayFactory, gemini_upstream: FakeGemini, media_server: str
) -> None:
    gateway = _inline_gateway(make_gateway, gemini_upstream, '{allow_http: true, allow_private_hosts: ["127.0.0.1"]}')
    content = [{"type": "image_url", "image_url": {"url": media_server + "/cat.png"}}]
    response_ = httpx.post(
        gateway.url + "/v1/chat/completions",
        timeout=10,
        json={"model": MODEL, "messages": [{"role": "user", "content": content}]},
    )
    assert response_.status_code == 200
    _, sent = _last(gemini_upstream)
    assert sent["contents"] == [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": PNG}}]}]


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x.png",
        "https://10.0.0.1/x.png",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x.png",
        "https://[::ffff:127.0.0.1]/x.png",
        "http://127.0.0.1/x.png",
    ],
)
def test_safe_fetcher_refuses_private_targets(
    make_gateway: GatewayFactory, gemini_upstream: FakeGemini, url: str
) -> None:
    gateway = _inline_gateway(make_gateway, gemini_upstream, "{}")
    content = [{"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": url}}]
    answer = httpx.post(
        gateway.url + "/v1/chat/completions",
        timeout=10,
        json={"model": MODEL, "messages": [{"role": "user", "content": content}]},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "messages[0].content[1].image_url"
    assert not [r for r in gemini_upstream.received if ":" in r.path]


def test_safe_fetcher_refuses_a_redirect_into_the_metadata_address(
    make_gateway: GatewayFactory, gemini_upstream: FakeGemini, media_server: str
) -> None:
    gateway = _inline_gateway(make_gateway, gemini_upstream, '{allow_http: true, allow_private_hosts: ["127.0.0.1"]}')
    content = [{"type": "image_url", "image_url": {"url": media_server + "/sneaky.png"}}]
    answer = httpx.post(
        gateway.url + "/v1/chat/completions",
        timeout=10,
        json={"model": MODEL, "messages": [{"role": "user", "content": content}]},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "messages[0].content[0].image_url"


def test_blocked_prompt_is_a_content_filter_answer(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    gemini_upstream.script(Reply(json=blocked_prompt("SAFETY")))
    answer = gemini.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
    assert answer.choices[0].finish_reason == "content_filter"
    assert answer.choices[0].message.content is None


def test_safety_finish_reason_is_content_filter(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    gemini_upstream.script(Reply(json=response([text_part("I can")], finish_reason="SAFETY")))
    answer = gemini.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
    assert answer.choices[0].finish_reason == "content_filter"


def test_generated_images_come_back_as_data_urls(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    gemini_upstream.script(Reply(json=response([text_part("Here."), inline_image_part("image/png", PNG)])))
    answer = gemini.chat.completions.create(model="gemini-2.5-flash-image", messages=USER)  # type: ignore[arg-type]
    extra = answer.choices[0].message.model_extra or {}
    assert extra["images"] == [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]


@pytest.mark.parametrize(
    ("status", "google_status", "reason", "expected", "code"),
    [
        (400, "INVALID_ARGUMENT", None, 400, None),
        (400, "INVALID_ARGUMENT", "API_KEY_INVALID", 401, "upstream_authentication_error"),
        (400, "FAILED_PRECONDITION", None, 400, None),
        (403, "PERMISSION_DENIED", None, 403, "upstream_authentication_error"),
        (404, "NOT_FOUND", None, 404, None),
        (429, "RESOURCE_EXHAUSTED", None, 429, "rate_limit_exceeded"),
        (500, "INTERNAL", None, 502, "upstream_error"),
        (503, "UNAVAILABLE", None, 503, "upstream_unavailable"),
        (504, "DEADLINE_EXCEEDED", None, 504, "upstream_timeout"),
    ],
)
def test_error_mapping(
    gemini_gateway: RunningApp,
    gemini_upstream: FakeGemini,
    status: int,
    google_status: str,
    reason: str | None,
    expected: int,
    code: str | None,
) -> None:
    gemini_upstream.script(
        Reply(status=status, json=error_body(status, google_status, f"google says {google_status}", reason=reason))
    )
    answer = httpx.post(
        gemini_gateway.url + "/v1/chat/completions", json={"model": MODEL, "messages": USER}, timeout=10
    )
    assert answer.status_code == expected
    error = answer.json()["error"]
    assert error["code"] == code
    if expected in (400, 404):
        assert error["message"] == f"google says {google_status}"
    assert GEMINI_KEY not in answer.text


def test_mid_stream_drop_raises_in_the_sdk(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    gemini_upstream.script(Reply(stream=text_chunks(["a", "b", "c"]), drop_after=2))  # type: ignore[arg-type]
    with pytest.raises(openai.APIError):
        for _ in gemini.chat.completions.create(model=MODEL, messages=USER, stream=True):  # type: ignore[arg-type]
            pass


def test_reasoning_effort_becomes_a_thinking_level(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    gemini_upstream.script(Reply(json=response([text_part("Thinking...", thought=True), text_part("42")])))
    answer = gemini.chat.completions.create(
        model="gemini-3-pro-preview",
        messages=USER,  # type: ignore[arg-type]
        reasoning_effort="low",
    )
    assert answer.choices[0].message.content == "42"
    assert (answer.choices[0].message.model_extra or {})["reasoning_content"] == "Thinking..."
    _, sent = _last(gemini_upstream)
    assert sent["generationConfig"] == {"thinkingConfig": {"thinkingLevel": "LOW", "includeThoughts": True}}


def _tool(name: str) -> dict[str, object]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} tool",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }


def test_models_are_listed_with_the_provider_prefix(gemini_gateway: RunningApp) -> None:
    ids = [m["id"] for m in httpx.get(gemini_gateway.url + "/v1/models", timeout=10).json()["data"]]
    assert any(i.startswith("gemini/gemini-") for i in ids)
    assert not any(i.startswith("gemini/models/") for i in ids)
