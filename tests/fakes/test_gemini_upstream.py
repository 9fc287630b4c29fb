"""Self-test of the Gemini fake: the official `google-genai` SDK must parse everything it answers
(responses, SSE streams, errors inside and outside streams, model pages), and its request validator
must accept what the SDK itself sends while refusing what the real API refuses."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors
from google.genai import types as gt
from google.genai.models import _GenerateImagesResponse_from_vertex

from tests.fakes.gemini_audio import PCM_MIME, fake_pcm
from tests.fakes.gemini_upstream import (
    MAX_EMBED_BATCH,
    FakeGemini,
    Reply,
    blocked_prompt,
    candidate,
    embed_violations,
    embeddings_response,
    error_body,
    error_chunk,
    fake_vector,
    function_call_chunks,
    function_call_part,
    inline_image_part,
    raw_error,
    request_violations,
    response,
    text_chunks,
    text_part,
    usage,
)
from tests.fakes.images import PNG
from tests.fakes.servers import LoopThread

FLASH = "gemini-2.5-flash"
GEMINI_3 = "gemini-3-pro-preview"
PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
SIGNATURE = base64.b64encode(b"opaque-signature-1").decode()
RAW_HEADERS = {"x-goog-api-key": "k", "content-type": "application/json"}


@pytest.fixture(scope="module")
def _fake(loop_thread: LoopThread) -> Iterator[FakeGemini]:
    fake = FakeGemini()
    loop_thread.run(fake.start())
    yield fake
    loop_thread.run(fake.stop())


@pytest.fixture
def fake(_fake: FakeGemini) -> FakeGemini:
    _fake.reset()
    return _fake


@pytest.fixture
def sdk(fake: FakeGemini) -> Iterator[genai.Client]:
    # The gateway talks v1beta; the SDK would default to v1 (served as well, see the last test).
    options = gt.HttpOptions(base_url=fake.base_url, api_version="v1beta", timeout=10_000)
    with genai.Client(api_key="k", http_options=options) as client:
        yield client
    # Everything the official SDK sends must pass the fake's validator.
    assert fake.violations == []


def post(
    fake: FakeGemini,
    body: Any,
    *,
    model: str = FLASH,
    method: str = "generateContent",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return httpx.post(
        f"{fake.base_url}/v1beta/models/{model}:{method}",
        json=body,
        headers=RAW_HEADERS if headers is None else headers,
        timeout=10,
    )


def user(text: str = "Hi") -> dict[str, Any]:
    return {"role": "user", "parts": [{"text": text}]}


# --- the SDK parses what the fake answers ---------------------------------------------------------


def test_default_response_parses(sdk: genai.Client, fake: FakeGemini) -> None:
    reply = sdk.models.generate_content(model=FLASH, contents="Hi")
    assert reply.text == "Hello!"
    assert reply.candidates and reply.candidates[0].finish_reason == gt.FinishReason.STOP
    assert reply.candidates[0].content and reply.candidates[0].content.role == "model"
    assert reply.usage_metadata is not None
    assert (
        reply.usage_metadata.prompt_token_count,
        reply.usage_metadata.candidates_token_count,
        reply.usage_metadata.total_token_count,
    ) == (9, 3, 12)
    assert (reply.model_version, reply.response_id) == (FLASH, "FakeRespIdAbC123xyz")
    sent = fake.received[0]
    assert (sent.method, sent.path) == ("POST", f"/v1beta/models/{FLASH}:generateContent")
    assert {key.lower(): value for key, value in sent.headers.items()}["x-goog-api-key"] == "k"
    assert sent.json == {"contents": [user()]}


def test_function_calls_thoughts_and_usage_parse(sdk: genai.Client, fake: FakeGemini) -> None:
    parts = [
        text_part("Weighing the tools.", True),
        text_part("Checking."),
        function_call_part("get_weather", {"city": "Oslo"}, id="call_1", thought_signature=SIGNATURE),
        function_call_part("get_time", {}, id="call_2"),
    ]
    fake.script(Reply(json=response(parts, usage=usage(20, 7, thoughts=30, cached=10), model_version=GEMINI_3)))
    reply = sdk.models.generate_content(model=GEMINI_3, contents="Weather and time in Oslo?")
    assert reply.candidates and reply.candidates[0].content and reply.candidates[0].content.parts
    thought, text, first, second = reply.candidates[0].content.parts
    assert (thought.thought, thought.text) == (True, "Weighing the tools.")
    assert (text.thought, text.text) == (None, "Checking.")
    assert first.function_call and (first.function_call.id, first.function_call.name, first.function_call.args) == (
        "call_1",
        "get_weather",
        {"city": "Oslo"},
    )
    assert first.thought_signature == b"opaque-signature-1"  # bytes: the wire carries base64
    assert second.function_call and second.function_call.id == "call_2" and second.thought_signature is None
    assert [call.name for call in reply.function_calls or []] == ["get_weather", "get_time"]
    assert reply.candidates[0].finish_reason == gt.FinishReason.STOP  # Gemini says STOP for tool turns
    meta = reply.usage_metadata
    assert meta is not None
    assert (
        meta.prompt_token_count,
        meta.candidates_token_count,
        meta.thoughts_token_count,
        meta.cached_content_token_count,
        meta.total_token_count,
    ) == (20, 7, 30, 10, 57)


def test_blocked_prompt_and_empty_candidates_parse(sdk: genai.Client, fake: FakeGemini) -> None:
    fake.script(
        Reply(json=blocked_prompt("PROHIBITED_CONTENT")),
        Reply(json=response([], finish_reason="MAX_TOKENS", usage=usage(9, 0, thoughts=64))),
        Reply(json=response(None, finish_reason="SAFETY")),
    )
    blocked = sdk.models.generate_content(model=FLASH, contents="x")
    assert blocked.candidates is None and blocked.prompt_feedback is not None
    assert blocked.prompt_feedback.block_reason == gt.BlockedReason.PROHIBITED_CONTENT
    assert blocked.usage_metadata and blocked.usage_metadata.candidates_token_count is None
    truncated = sdk.models.generate_content(model=FLASH, contents="x")
    assert truncated.candidates and truncated.candidates[0].content is not None
    assert truncated.candidates[0].content.parts is None  # role only: thinking used up the budget
    assert truncated.candidates[0].finish_reason == gt.FinishReason.MAX_TOKENS
    unsafe = sdk.models.generate_content(model=FLASH, contents="x")
    assert unsafe.candidates and unsafe.candidates[0].content is None
    assert unsafe.candidates[0].finish_reason == gt.FinishReason.SAFETY
    assert candidate(None, finish_reason="SAFETY") == {"finishReason": "SAFETY", "index": 0}


def test_default_stream_parses_and_is_framed_like_google(sdk: genai.Client, fake: FakeGemini) -> None:
    chunks = list(sdk.models.generate_content_stream(model=FLASH, contents="Hi"))
    assert "".join(item.text or "" for item in chunks) == "Hello!"
    assert [item.candidates[0].finish_reason if item.candidates else None for item in chunks] == [
        None,
        None,
        gt.FinishReason.STOP,
    ]
    last = chunks[-1].usage_metadata
    assert last is not None and (last.prompt_token_count, last.candidates_token_count) == (9, 3)
    early = chunks[0].usage_metadata
    assert early is not None and early.candidates_token_count is None  # mid-stream: prompt count only
    assert fake.received[0].path == f"/v1beta/models/{FLASH}:streamGenerateContent?alt=sse"
    raw = httpx.post(
        f"{fake.base_url}/v1beta/models/{FLASH}:streamGenerateContent?alt=sse",
        json={"contents": [user()]},
        headers=RAW_HEADERS,
        timeout=10,
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    frames = raw.content.split(b"\r\n\r\n")
    assert frames[-1] == b"" and len(frames) == 4 and all(frame.startswith(b"data: {") for frame in frames[:-1])
    assert b"[DONE]" not in raw.content


def test_streamed_function_calls_with_signatures_assemble(sdk: genai.Client, fake: FakeGemini) -> None:
    fake.script(
        Reply(
            stream=function_call_chunks(  # type: ignore[arg-type]
                [("get_weather", {"city": "Paris"}, "call_a", SIGNATURE), ("get_time", {"tz": "UTC"}, "call_b", None)],
                leading_text="Let me check.",
                thought="Two tools.",
                model_version=GEMINI_3,
            )
        )
    )
    chunks = list(sdk.models.generate_content_stream(model=GEMINI_3, contents="x"))
    parts = [
        part
        for item in chunks
        if item.candidates and item.candidates[0].content
        for part in item.candidates[0].content.parts or []
    ]
    assert [(part.thought, part.text) for part in parts[:2]] == [(True, "Two tools."), (None, "Let me check.")]
    calls = [
        (part.function_call.id, part.function_call.name, part.function_call.args, part.thought_signature)
        for part in parts
        if part.function_call
    ]
    assert calls == [
        ("call_a", "get_weather", {"city": "Paris"}, b"opaque-signature-1"),
        ("call_b", "get_time", {"tz": "UTC"}, None),
    ]
    assert len(chunks) == 4  # each call in a chunk of its own
    assert chunks[-1].candidates and chunks[-1].candidates[0].finish_reason == gt.FinishReason.STOP
    one = function_call_chunks([("f", {}, None, None), ("g", {}, None, None)], same_chunk=True)
    assert len(one) == 1 and len(one[0]["candidates"][0]["content"]["parts"]) == 2


def test_text_stream_with_thought_and_signature(sdk: genai.Client, fake: FakeGemini) -> None:
    fake.script(
        Reply(
            stream=text_chunks(
                ["A", "B"],
                thought="hmm",
                thought_signature=SIGNATURE,  # type: ignore[arg-type]
                usage=usage(5, 2, thoughts=8),
            )
        )
    )
    chunks = list(sdk.models.generate_content_stream(model=GEMINI_3, contents="x"))
    assert len(chunks) == 3
    first = chunks[0].candidates[0].content.parts[0]  # type: ignore[index,union-attr]
    assert (first.thought, first.text) == (True, "hmm")
    last = chunks[-1].candidates[0].content.parts[0]  # type: ignore[index,union-attr]
    assert (last.text, last.thought_signature) == ("B", b"opaque-signature-1")
    assert chunks[-1].usage_metadata and chunks[-1].usage_metadata.thoughts_token_count == 8


@pytest.mark.parametrize(
    "error_event",
    [
        error_chunk(503, "UNAVAILABLE", "The model is overloaded."),
        raw_error(503, "UNAVAILABLE", "The model is overloaded."),
    ],
    ids=["data-event", "raw-json-lines"],
)
def test_error_inside_a_stream_raises(sdk: genai.Client, fake: FakeGemini, error_event: Any) -> None:
    fake.script(Reply(stream=[*text_chunks(["Hel", "lo"])[:1], error_event]))
    seen: list[str] = []
    with pytest.raises(errors.ServerError) as caught:
        for item in sdk.models.generate_content_stream(model=FLASH, contents="x"):
            seen.append(item.text or "")
    assert seen == ["Hel"]
    assert (caught.value.code, caught.value.status, caught.value.message) == (
        503,
        "UNAVAILABLE",
        "The model is overloaded.",
    )


@pytest.mark.parametrize(
    ("code", "status", "exception"),
    [
        (400, "INVALID_ARGUMENT", errors.ClientError),
        (403, "PERMISSION_DENIED", errors.ClientError),
        (404, "NOT_FOUND", errors.ClientError),
        (429, "RESOURCE_EXHAUSTED", errors.ClientError),
        (500, "INTERNAL", errors.ServerError),
        (503, "UNAVAILABLE", errors.ServerError),
        (504, "DEADLINE_EXCEEDED", errors.ServerError),
    ],
)
def test_error_status_maps_to_sdk_exception(
    sdk: genai.Client, fake: FakeGemini, code: int, status: str, exception: type[errors.APIError]
) -> None:
    fake.script(Reply(status=code, json=error_body(code, status, "nope", retry_delay="7s" if code == 429 else None)))
    with pytest.raises(exception) as caught:
        sdk.models.generate_content(model=FLASH, contents="x")
    assert (caught.value.code, caught.value.status, caught.value.message) == (code, status, "nope")


def test_wrong_api_key_is_400_api_key_invalid(fake: FakeGemini) -> None:
    fake.api_keys = frozenset({"the-right-key"})
    options = gt.HttpOptions(base_url=fake.base_url, api_version="v1beta", timeout=60_000)
    with genai.Client(api_key="k", http_options=options) as client, pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model=FLASH, contents="x")
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    details = caught.value.details["error"]["details"]
    assert details[0]["reason"] == "API_KEY_INVALID"
    assert fake.violations == ["API key not valid. Please pass a valid API key."]


def test_models_list_pages_and_get(sdk: genai.Client, fake: FakeGemini) -> None:
    names = [model.name for model in sdk.models.list(config={"page_size": 3})]
    assert names == [
        "models/gemini-2.5-flash",
        "models/gemini-2.5-pro",
        "models/gemini-3-pro-preview",
        "models/gemini-embedding-001",
    ]
    assert [item.path.split("?")[0] for item in fake.received] == ["/v1beta/models", "/v1beta/models"]
    assert "pageToken=fake-page-3" in fake.received[1].path
    first = sdk.models.get(model="gemini-2.5-flash")
    assert (first.display_name, first.input_token_limit, first.output_token_limit, first.thinking) == (
        "Gemini 2.5 Flash",
        1_048_576,
        65_536,
        True,
    )
    assert first.supported_actions and "generateContent" in first.supported_actions
    with pytest.raises(errors.ClientError) as caught:
        sdk.models.get(model="gemini-nope")
    assert caught.value.code == 404
    fake.models_status = 500
    with pytest.raises(errors.ServerError):
        list(sdk.models.list())


def test_client_hanging_up_on_a_stalled_stream_is_recorded(fake: FakeGemini) -> None:
    fake.script(Reply(stream=text_chunks(["a", "b", "c"]), stall_after=1))  # type: ignore[arg-type]
    url = f"{fake.base_url}/v1beta/models/{FLASH}:streamGenerateContent?alt=sse"
    with httpx.stream("POST", url, json={"contents": [user()]}, headers=RAW_HEADERS, timeout=10) as reply:
        next(reply.iter_bytes())
    deadline = time.monotonic() + 5
    while fake.stream_closed_at is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake.stream_closed_at is not None


def test_sdk_default_api_version_v1_is_served(fake: FakeGemini) -> None:
    with genai.Client(api_key="k", http_options=gt.HttpOptions(base_url=fake.base_url, timeout=60_000)) as client:
        assert client.models.generate_content(model=FLASH, contents="x").text == "Hello!"
    assert fake.received[0].path == f"/v1/models/{FLASH}:generateContent"


# --- the validator accepts what the SDK sends ---------------------------------------------------


WEATHER = gt.FunctionDeclaration(
    name="get_weather",
    description="Weather for a city",
    parameters_json_schema={
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
        "required": ["city"],
        "additionalProperties": False,
    },
)


def test_sdk_tool_round_trip_with_signatures_passes(sdk: genai.Client, fake: FakeGemini) -> None:
    """Everything the gateway emits for Gemini 3 at once, as the SDK serialises it (snake_case inside
    inlineData, functionDeclarations and thinkingConfig)."""
    contents = [
        gt.Content(
            role="user",
            parts=[
                gt.Part(text="What is in this picture, and the weather in Oslo?"),
                gt.Part.from_bytes(data=base64.b64decode(PNG_1PX), mime_type="image/png"),
            ],
        ),
        gt.Content(
            role="model",
            parts=[
                gt.Part(
                    function_call=gt.FunctionCall(id="call_1", name="get_weather", args={"city": "Oslo"}),
                    thought_signature=b"opaque-signature-1",
                ),
                gt.Part(function_call=gt.FunctionCall(id="call_2", name="get_weather", args={"city": "Bergen"})),
            ],
        ),
        gt.Content(
            role="user",
            parts=[
                gt.Part(
                    function_response=gt.FunctionResponse(id="call_1", name="get_weather", response={"result": "4C"})
                ),
                gt.Part(
                    function_response=gt.FunctionResponse(id="call_2", name="get_weather", response={"result": "6C"})
                ),
            ],
        ),
    ]
    config = gt.GenerateContentConfig(
        system_instruction="Be brief.",
        temperature=0.4,
        max_output_tokens=512,
        stop_sequences=["END"],
        tools=[gt.Tool(function_declarations=[WEATHER])],
        tool_config=gt.ToolConfig(
            function_calling_config=gt.FunctionCallingConfig(
                mode=gt.FunctionCallingConfigMode.ANY, allowed_function_names=["get_weather"]
            )
        ),
        safety_settings=[
            gt.SafetySetting(
                category=gt.HarmCategory.HARM_CATEGORY_HARASSMENT, threshold=gt.HarmBlockThreshold.BLOCK_ONLY_HIGH
            )
        ],
        thinking_config=gt.ThinkingConfig(include_thoughts=True, thinking_level=gt.ThinkingLevel.LOW),
        response_mime_type="application/json",
        response_json_schema={
            "type": "object",
            "properties": {"summary": {"type": "string"}},
            "additionalProperties": False,
        },
    )
    reply = sdk.models.generate_content(model=GEMINI_3, contents=contents, config=config)
    assert reply.text == "Hello!"
    sent = fake.received[0].json
    assert (
        sent["contents"][1]["parts"][0]["thoughtSignature"] == base64.urlsafe_b64encode(b"opaque-signature-1").decode()
    )
    assert sent["generationConfig"]["thinkingConfig"] == {"include_thoughts": True, "thinking_level": "LOW"}
    assert "parameters_json_schema" in sent["tools"][0]["functionDeclarations"][0]


def test_sdk_proto_schemas_and_streaming_pass(sdk: genai.Client) -> None:
    config = gt.GenerateContentConfig(
        response_mime_type="application/json",
        response_schema={"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
        tools=[
            gt.Tool(
                function_declarations=[
                    gt.FunctionDeclaration(
                        name="lookup",
                        parameters=gt.Schema(type=gt.Type.OBJECT, properties={"q": gt.Schema(type=gt.Type.STRING)}),
                    )
                ]
            )
        ],
        thinking_config=gt.ThinkingConfig(thinking_budget=0),
        presence_penalty=0.0,
        candidate_count=1,
    )
    assert sdk.models.generate_content(model=FLASH, contents="x", config=config).text == "Hello!"
    assert (
        "".join(
            item.text or ""
            for item in sdk.models.generate_content_stream(
                model=GEMINI_3,
                contents="x",
                config=gt.GenerateContentConfig(
                    thinking_config=gt.ThinkingConfig(thinking_level=gt.ThinkingLevel.HIGH)
                ),
            )
        )
        == "Hello!"
    )


# --- the validator refuses what the API refuses ---------------------------------------------------


def call_turn(*calls: tuple[str, str | None, str | None]) -> dict[str, Any]:
    return {
        "role": "model",
        "parts": [
            function_call_part(name, {"x": 1}, id=call_id, thought_signature=signature)
            for name, call_id, signature in calls
        ],
    }


def answer_turn(*answers: tuple[str, str | None]) -> dict[str, Any]:
    parts = []
    for name, call_id in answers:
        result: dict[str, Any] = {"name": name, "response": {"result": "ok"}}
        if call_id is not None:
            result["id"] = call_id
        parts.append({"functionResponse": result})
    return {"role": "user", "parts": parts}


def tool_body(*contents: dict[str, Any], **extra: Any) -> dict[str, Any]:
    declarations = [
        {"name": "f", "parametersJsonSchema": {"type": "object"}},
        {"name": "g", "parametersJsonSchema": {"type": "object"}},
    ]
    return {"contents": [user(), *contents], "tools": [{"functionDeclarations": declarations}], **extra}


REFUSED_OVER_HTTP = [
    pytest.param({"contents": [user()], "temperature": 0.2}, FLASH, 'Unknown name "temperature"', id="unknown-key"),
    pytest.param(
        tool_body(call_turn(("f", "c1", None)), answer_turn(("f", "c1"))),
        GEMINI_3,
        "is missing a `thought_signature`",
        id="missing-thought-signature",
    ),
    pytest.param(
        {
            "contents": [
                user(),
                call_turn(("f", None, None)),
                {"role": "user", "parts": [{"functionResponse": {"response": {"r": 1}}}]},
            ]
        },
        FLASH,
        "functionResponse.name: Name cannot be empty",
        id="function-response-without-name",
    ),
    pytest.param(
        {"contents": [user()], "generationConfig": {"presencePenalty": 0.5}},
        FLASH,
        "Penalty is not enabled for models/gemini-2.5-flash",
        id="penalty-on-2.5",
    ),
    pytest.param(
        {
            "contents": [user()],
            "generationConfig": {
                "responseMimeType": "application/json",
                "responseSchema": {
                    "type": "OBJECT",
                    "properties": {"a": {"type": "STRING"}},
                    "additionalProperties": False,
                },
            },
        },
        FLASH,
        "additionalProperties is not supported",
        id="response-schema-additional-properties",
    ),
]


@pytest.mark.parametrize(("body", "model", "expected"), REFUSED_OVER_HTTP)
def test_bad_request_is_refused_with_google_error(
    fake: FakeGemini, body: dict[str, Any], model: str, expected: str
) -> None:
    reply = post(fake, body, model=model)
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert expected in error["message"]
    assert any(expected in violation for violation in fake.violations), fake.violations
    assert len(fake.received) == 1  # recorded even though refused


@pytest.mark.parametrize(
    ("headers", "code", "status"),
    [
        ({"content-type": "application/json"}, 403, "PERMISSION_DENIED"),
        ({"authorization": "Bearer k", "content-type": "application/json"}, 401, "UNAUTHENTICATED"),
        ({"x-goog-api-key": "", "content-type": "application/json"}, 403, "PERMISSION_DENIED"),
    ],
)
def test_missing_api_key_is_refused(fake: FakeGemini, headers: dict[str, str], code: int, status: str) -> None:
    reply = post(fake, {"contents": [user()]}, headers=headers)
    assert (reply.status_code, reply.json()["error"]["status"]) == (code, status)
    assert len(fake.violations) == 1


def test_key_in_query_is_accepted(fake: FakeGemini) -> None:
    reply = httpx.post(
        f"{fake.base_url}/v1beta/models/{FLASH}:generateContent?key=k", json={"contents": [user()]}, timeout=10
    )
    assert reply.status_code == 200 and fake.violations == []


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (f"/v1beta/models/{FLASH}:streamGenerateContent", "alt=sse"),
        (f"/v1beta/models/{FLASH}:generateContent?stream=true", 'Unknown name "stream"'),
    ],
)
def test_bad_query_is_refused(fake: FakeGemini, path: str, expected: str) -> None:
    reply = httpx.post(f"{fake.base_url}{path}", json={"contents": [user()]}, headers=RAW_HEADERS, timeout=10)
    assert reply.status_code == 400 and expected in reply.json()["error"]["message"]
    assert any(expected in violation for violation in fake.violations)


def test_invalid_json_and_unknown_method_are_refused(fake: FakeGemini) -> None:
    reply = httpx.post(
        f"{fake.base_url}/v1beta/models/{FLASH}:generateContent", content=b"{nope", headers=RAW_HEADERS, timeout=10
    )
    assert reply.status_code == 400 and "Invalid JSON payload" in reply.json()["error"]["message"]
    assert post(fake, {"contents": [user()]}, method="generateText").status_code == 404
    assert len(fake.violations) == 2


def test_scripted_reply_is_kept_for_the_next_good_request(fake: FakeGemini) -> None:
    fake.script(Reply(json=response("scripted")))
    assert post(fake, {"contents": []}).status_code == 400
    assert post(fake, {"contents": [user()]}).json()["candidates"][0]["content"]["parts"][0]["text"] == "scripted"


def test_pattern_sets_are_configurable_per_instance(fake: FakeGemini) -> None:
    fake.rejects_penalties = ()
    assert post(fake, {"contents": [user()], "generationConfig": {"frequencyPenalty": 0.3}}).status_code == 200
    fake.reset()
    assert post(fake, {"contents": [user()], "generationConfig": {"frequencyPenalty": 0.3}}).status_code == 400


def _gen(**config: Any) -> dict[str, Any]:
    return {"contents": [user()], "generationConfig": config}


PROTO_OBJECT = {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}}

REFUSED = [
    pytest.param({"contents": []}, FLASH, "contents is not specified", id="no-contents"),
    pytest.param(
        {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]},
        FLASH,
        "valid role: user, model",
        id="assistant-role",
    ),
    pytest.param(
        {"contents": [{"role": "system", "parts": [{"text": "x"}]}, user()]}, FLASH, "valid role", id="system-role"
    ),
    pytest.param({"contents": [{"role": "user", "parts": []}]}, FLASH, "parts must not be empty", id="empty-parts"),
    pytest.param(
        {"contents": [{"role": "user", "parts": [{}]}]}, FLASH, "required oneof field 'data'", id="part-without-data"
    ),
    pytest.param(
        {
            "contents": [
                {"role": "user", "parts": [{"text": "x", "inlineData": {"mimeType": "image/png", "data": PNG_1PX}}]}
            ]
        },
        FLASH,
        "Oneof field 'data' is already set",
        id="two-data",
    ),
    pytest.param(
        {"contents": [{"role": "user", "parts": [inline_image_part("image/png", f"data:image/png;base64,{PNG_1PX}")]}]},
        FLASH,
        "base64",
        id="data-uri-in-inline-data",
    ),
    pytest.param(
        {"contents": [{"role": "user", "parts": [{"inlineData": {"data": PNG_1PX}}]}]},
        FLASH,
        "inlineData.mimeType: required",
        id="inline-data-without-mime",
    ),
    pytest.param(
        {
            "contents": [
                {
                    "role": "user",
                    "parts": [{"inlineData": {"mimeType": "image/png", "data": PNG_1PX, "mime_type": "image/png"}}],
                }
            ]
        },
        FLASH,
        "field set twice",
        id="camel-and-snake",
    ),
    pytest.param(
        {"contents": [user()], "generation_config": {"top_k": 3, "candidateCount": 1, "cache": True}},
        FLASH,
        "Unknown name \"cache\" at 'generation_config'",
        id="unknown-nested-key",
    ),
    pytest.param(
        {"contents": [user()], "generationConfig": {"routingConfig": {}}},
        FLASH,
        'Unknown name "routingConfig"',
        id="vertex-generation-field",
    ),
    pytest.param(
        {"contents": [user()], "tools": [{"retrieval": {}}]}, FLASH, "only supported on Vertex AI", id="vertex-tool"
    ),
    pytest.param(
        {
            "contents": [user()],
            "safetySettings": [
                {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE", "method": "SEVERITY"}
            ],
        },
        FLASH,
        "safetySettings[0].method: only supported on Vertex AI",
        id="vertex-safety-method",
    ),
    pytest.param(
        {"contents": [user()], "safetySettings": [{"category": "HARASSMENT", "threshold": "BLOCK_NONE"}]},
        FLASH,
        "Invalid value 'HARASSMENT'",
        id="bad-enum",
    ),
    pytest.param(
        {"contents": [user()], "generationConfig": {"temperature": "hot"}},
        FLASH,
        "generationConfig.temperature",
        id="temperature-not-a-number",
    ),
    pytest.param(
        tool_body(call_turn(("f", None, None))),
        FLASH,
        "function response turn comes immediately after",
        id="call-unanswered",
    ),
    pytest.param(
        tool_body(call_turn(("f", None, None)), user("no answer")),
        FLASH,
        "function response turn comes immediately after",
        id="call-answered-by-text",
    ),
    pytest.param(
        tool_body(call_turn(("f", None, None), ("g", None, None)), answer_turn(("f", None))),
        FLASH,
        "number of function response parts is equal",
        id="one-of-two-answered",
    ),
    pytest.param(
        tool_body(call_turn(("f", None, None)), answer_turn(("g", None))),
        FLASH,
        "do not match",
        id="answer-names-differ",
    ),
    pytest.param(
        tool_body(call_turn(("f", "c1", None)), answer_turn(("f", "other"))),
        FLASH,
        "match no functionCall id",
        id="answer-ids-differ",
    ),
    pytest.param(
        tool_body(answer_turn(("f", None))), FLASH, "no function calls in the previous content", id="orphan-response"
    ),
    pytest.param(
        tool_body({"role": "user", "parts": [function_call_part("f", {})]}),
        FLASH,
        "only appear in `model` turns",
        id="call-in-user-turn",
    ),
    pytest.param(
        {
            "contents": [
                user(),
                call_turn(("f", None, None)),
                {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": "plain text"}}]},
            ]
        },
        FLASH,
        "functionResponse.response",
        id="response-not-object",
    ),
    pytest.param(
        tool_body(
            call_turn(("f", "c1", SIGNATURE)),
            answer_turn(("f", "c1")),
            {"role": "model", "parts": [text_part("more"), *call_turn(("g", "c2", None))["parts"]]},
            answer_turn(("g", "c2")),
        ),
        GEMINI_3,
        "Function call `g` in the 4. content block",
        id="second-step-unsigned",
    ),
    pytest.param(
        {"contents": [user()], "generationConfig": {"candidateCount": 2}},
        GEMINI_3,
        "Multiple candidates is not enabled",
        id="candidates-on-gemini-3",
    ),
    pytest.param(
        {"contents": [user()], "generationConfig": {"frequencyPenalty": -0.5}},
        GEMINI_3,
        "Penalty",
        id="frequency-penalty-on-gemini-3",
    ),
    pytest.param(
        _gen(thinkingConfig={"thinkingBudget": 1024, "thinkingLevel": "HIGH"}),
        GEMINI_3,
        "only one of thinking budget and thinking level",
        id="budget-and-level",
    ),
    pytest.param(
        _gen(thinkingConfig={"thinkingLevel": "LOW"}), FLASH, "Thinking level is not supported", id="level-on-2.5"
    ),
    pytest.param(
        _gen(thinkingConfig={"thinkingBudget": 0}),
        "gemini-2.5-pro",
        "Budget 0 is invalid",
        id="thinking-off-on-2.5-pro",
    ),
    pytest.param(
        _gen(responseMimeType="application/json", responseSchema=PROTO_OBJECT, responseJsonSchema={"type": "object"}),
        FLASH,
        "mutually exclusive",
        id="both-response-schemas",
    ),
    pytest.param(
        _gen(responseJsonSchema={"type": "object"}),
        FLASH,
        "must be application/json",
        id="json-schema-without-mime-type",
    ),
    pytest.param(
        _gen(
            responseMimeType="application/json",
            responseSchema={"$schema": "https://json-schema.org/draft/2020-12/schema", **PROTO_OBJECT},
        ),
        FLASH,
        'Unknown name "$schema"',
        id="response-schema-dollar-schema",
    ),
    pytest.param(
        _gen(
            responseMimeType="application/json", responseSchema={"type": "OBJECT", "properties": {"a": {"const": "x"}}}
        ),
        FLASH,
        'Unknown name "const"',
        id="response-schema-const",
    ),
    pytest.param(
        _gen(
            responseMimeType="application/json",
            responseSchema={"type": "OBJECT", "properties": {"a": {"oneOf": [{"type": "STRING"}]}}},
        ),
        FLASH,
        'Unknown name "oneOf"',
        id="response-schema-one-of",
    ),
    pytest.param(
        _gen(responseMimeType="application/json", responseSchema={"type": ["string", "null"]}),
        FLASH,
        "Proto field is not repeating",
        id="response-schema-type-array",
    ),
    pytest.param(
        _gen(responseMimeType="application/json", responseSchema={"type": "OBJECT", "properties": {}}),
        FLASH,
        "should be non-empty for OBJECT type",
        id="response-schema-empty-object",
    ),
    pytest.param(
        _gen(responseMimeType="application/json", responseSchema={**PROTO_OBJECT, "required": ["b"]}),
        FLASH,
        "property 'b' is not defined",
        id="response-schema-required-undefined",
    ),
    pytest.param(
        {
            "contents": [user()],
            "tools": [
                {
                    "functionDeclarations": [
                        {"name": "f", "parameters": PROTO_OBJECT, "parametersJsonSchema": {"type": "object"}}
                    ]
                }
            ],
        },
        FLASH,
        "parameters and parametersJsonSchema are mutually exclusive",
        id="both-parameter-schemas",
    ),
    pytest.param(
        {
            "contents": [user()],
            "tools": [
                {
                    "functionDeclarations": [
                        {
                            "name": "f",
                            "parameters": {
                                "type": "object",
                                "properties": {"a": {"type": "string"}},
                                "additionalProperties": False,
                            },
                        }
                    ]
                }
            ],
        },
        FLASH,
        "additionalProperties is not supported",
        id="parameters-additional-properties",
    ),
    pytest.param(
        {"contents": [user()], "tools": [{"functionDeclarations": [{"name": "get weather"}]}]},
        FLASH,
        "Invalid function name",
        id="function-name-pattern",
    ),
    pytest.param(
        {
            "contents": [user()],
            "tools": [{"functionDeclarations": [{"name": "f"}]}, {"functionDeclarations": [{"name": "f"}]}],
        },
        FLASH,
        "Duplicate function declaration",
        id="duplicate-function",
    ),
    pytest.param(
        tool_body(toolConfig={"functionCallingConfig": {"mode": "AUTO", "allowedFunctionNames": ["f"]}}),
        FLASH,
        "only be set when the mode is ANY",
        id="allowed-names-without-any",
    ),
    pytest.param(
        tool_body(toolConfig={"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["h"]}}),
        FLASH,
        "match no function declaration",
        id="allowed-name-undeclared",
    ),
    pytest.param(
        tool_body(cachedContent="cachedContents/abc"),
        FLASH,
        "CachedContent can not be used",
        id="cached-content-with-tools",
    ),
    pytest.param(_gen(temperature=2.5), FLASH, "temperature: must be in the range", id="temperature-range"),
    pytest.param(_gen(stopSequences=list("abcdef")), FLASH, "at most 5", id="too-many-stop-sequences"),
    pytest.param(_gen(logprobs=3), FLASH, "responseLogprobs", id="logprobs-without-response-logprobs"),
    pytest.param([user()], FLASH, "Expected an object", id="body-not-object"),
]


@pytest.mark.parametrize(("body", "model", "expected"), REFUSED)
def test_validator_refuses(body: Any, model: str, expected: str) -> None:
    violations = request_violations(body, model)
    assert any(expected in violation for violation in violations), violations


ACCEPTED = [
    pytest.param({"contents": [{"parts": [{"text": "no role: the API assumes user"}]}]}, FLASH, id="no-role"),
    pytest.param(
        {"contents": [user(), {"role": "model", "parts": [{"text": "a"}]}, user("b")]}, FLASH, id="multi-turn"
    ),
    pytest.param({"contents": [user(), user("consecutive user turns")]}, FLASH, id="consecutive-user-turns"),
    pytest.param(
        {
            "contents": [user()],
            "system_instruction": {"parts": [{"text": "snake case"}]},
            "generation_config": {"max_output_tokens": 5, "thinking_config": {"thinking_budget": -1}},
        },
        FLASH,
        id="snake-case",
    ),
    pytest.param(
        tool_body(call_turn(("f", None, None), ("g", None, None)), answer_turn(("g", None), ("f", None))),
        FLASH,
        id="parallel-calls-answered-in-any-order",
    ),
    pytest.param(
        tool_body(call_turn(("f", "c1", None)), answer_turn(("f", None))), FLASH, id="response-without-id-on-2.5"
    ),
    pytest.param(
        tool_body(call_turn(("f", "c1", SIGNATURE), ("g", "c2", None)), answer_turn(("f", "c1"), ("g", "c2"))),
        GEMINI_3,
        id="parallel-calls-signed-on-the-first",
    ),
    pytest.param(
        tool_body(
            call_turn(("f", "c1", None)),
            answer_turn(("f", "c1")),
            {"role": "model", "parts": [text_part("done")]},
            user("next question"),
        ),
        GEMINI_3,
        id="unsigned-call-in-an-earlier-turn",
    ),
    pytest.param(
        tool_body(call_turn(("f", "c1", "skip_thought_signature_validator")), answer_turn(("f", "c1"))),
        GEMINI_3,
        id="documented-skip-sentinel",
    ),
    pytest.param(
        tool_body(
            {"role": "model", "parts": [text_part("thinking", True), text_part("", thought_signature=SIGNATURE)]},
            user("x"),
        ),
        GEMINI_3,
        id="model-turn-with-thought-and-signature-only-text",
    ),
    pytest.param(_gen(presencePenalty=0.5, candidateCount=2), "gemini-2.0-flash", id="penalties-on-2.0"),
    pytest.param(_gen(presencePenalty=0.0), FLASH, id="zero-penalty-on-2.5"),
    pytest.param(
        _gen(responseMimeType="text/x.enum", responseSchema={"type": "STRING", "enum": ["a", "b"]}),
        FLASH,
        id="enum-response",
    ),
    pytest.param(
        _gen(
            responseMimeType="application/json",
            responseSchema={
                "type": "object",
                "properties": {"a": {"type": "string", "nullable": True}},
                "propertyOrdering": ["a"],
            },
        ),
        FLASH,
        id="lowercase-proto-types",
    ),
    pytest.param(
        _gen(
            responseMimeType="application/json",
            responseJsonSchema={
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "oneOf": [{"const": 1}],
                "additionalProperties": False,
            },
        ),
        FLASH,
        id="full-json-schema",
    ),
    pytest.param(_gen(thinkingConfig={"thinkingBudget": 0}), FLASH, id="thinking-off-on-flash"),
    pytest.param(
        {
            "contents": [
                {"role": "user", "parts": [{"fileData": {"fileUri": "gs://b/cat.png", "mimeType": "image/png"}}]}
            ]
        },
        FLASH,
        id="file-data",
    ),
    pytest.param(
        {"contents": [user()], "tools": [{"googleSearch": {}}, {"codeExecution": {}}, {"urlContext": {}}]},
        FLASH,
        id="built-in-tools",
    ),
    pytest.param({"contents": [user()], "cachedContent": "cachedContents/abc"}, FLASH, id="cached-content"),
]


@pytest.mark.parametrize(("body", "model"), ACCEPTED)
def test_validator_accepts(body: dict[str, Any], model: str) -> None:
    assert request_violations(body, model) == []


def test_all_signatures_mode_is_stricter() -> None:
    body = tool_body(call_turn(("f", "c1", SIGNATURE), ("g", "c2", None)), answer_turn(("f", "c1"), ("g", "c2")))
    assert request_violations(body, GEMINI_3) == []
    assert "Function call `g`" in request_violations(body, GEMINI_3, all_signatures=True)[0]


# --- embeddings: batchEmbedContents ---------------------------------------------------------------

EMBED = "gemini-embedding-001"


def embed_request(text: str = "x", model: str = EMBED, **fields: Any) -> dict[str, Any]:
    return {"model": f"models/{model}", "content": {"parts": [{"text": text}]}, **fields}


def test_sdk_embed_content_gets_deterministic_vectors_of_the_asked_size(sdk: genai.Client, fake: FakeGemini) -> None:
    answer = sdk.models.embed_content(
        model=EMBED,
        contents=["first", "second"],
        config={"output_dimensionality": 8, "task_type": "RETRIEVAL_DOCUMENT", "title": "A document"},
    )
    assert answer.embeddings is not None
    assert [item.values for item in answer.embeddings] == [
        fake_vector(EMBED, "first", 8),
        fake_vector(EMBED, "second", 8),
    ]
    assert answer.usage_metadata is None  # the batch answer counts no tokens
    sent = fake.received[0]
    assert sent.path == f"/v1beta/models/{EMBED}:batchEmbedContents"
    assert [item["taskType"] for item in sent.json["requests"]] == ["RETRIEVAL_DOCUMENT"] * 2
    # The full size without outputDimensionality; a shorter vector is its prefix (truncated from the end).
    full = sdk.models.embed_content(model=EMBED, contents="first").embeddings
    assert full is not None and full[0].values is not None and len(full[0].values) == 3072
    assert full[0].values[:8] == fake_vector(EMBED, "first", 8)


def test_sdk_parses_usage_metadata_when_scripted(sdk: genai.Client, fake: FakeGemini) -> None:
    fake.script(Reply(json=embeddings_response([[0.5, -0.25]], usage={"promptTokenCount": 3, "totalTokenCount": 3})))
    answer = sdk.models.embed_content(model=EMBED, contents="x")
    assert answer.embeddings is not None and answer.embeddings[0].values == [0.5, -0.25]
    assert answer.usage_metadata is not None and answer.usage_metadata.prompt_token_count == 3


def test_sdk_raises_on_a_scripted_embedding_error(sdk: genai.Client, fake: FakeGemini) -> None:
    fake.script(Reply(status=429, json=error_body(429, "RESOURCE_EXHAUSTED", "Quota exceeded", retry_delay="3s")))
    with pytest.raises(errors.ClientError) as caught:
        sdk.models.embed_content(model=EMBED, contents="x")
    assert (caught.value.code, caught.value.status) == (429, "RESOURCE_EXHAUSTED")


def test_sdk_multimodal_embedding_model_merges_strings_into_one_content(sdk: genai.Client, fake: FakeGemini) -> None:
    # Why the gateway sends one request per input: several parts in one content are one embedding.
    answer = sdk.models.embed_content(model="gemini-embedding-2", contents=["a", "b"])
    assert answer.embeddings is not None and len(answer.embeddings) == 1
    assert len(fake.received[0].json["requests"][0]["content"]["parts"]) == 2


@pytest.mark.parametrize(
    ("body", "model", "expected"),
    [
        (
            {"requests": [embed_request(str(i)) for i in range(MAX_EMBED_BATCH + 1)]},
            EMBED,
            "at most 100 requests can be in one batch",
        ),
        ({"requests": [embed_request(model="gemini-embedding-exp")]}, EMBED, "must match the batch's"),
        ({"requests": [{"content": {"parts": [{"text": "x"}]}}]}, EMBED, "requests[0].model"),
        ({"requests": []}, EMBED, "at least one request"),
        ({"requests": [embed_request(taskType="SEARCH")]}, EMBED, "requests[0].taskType: Invalid value 'SEARCH'"),
        ({"requests": [embed_request(outputDimensionality=4096)]}, EMBED, "between 1 and 3072"),
        ({"requests": [embed_request(outputDimensionality=0)]}, EMBED, "between 1 and 3072"),
        ({"requests": [embed_request(autoTruncate=True)]}, EMBED, 'Unknown name "autoTruncate"'),
        ({"requests": [embed_request()], "model": f"models/{EMBED}"}, EMBED, 'Unknown name "model"'),
        (
            {
                "requests": [
                    {
                        "model": f"models/{EMBED}",
                        "content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": PNG_1PX}}]},
                    }
                ]
            },
            EMBED,
            "only text parts",
        ),
        ({"requests": [{"model": f"models/{EMBED}", "content": {"parts": []}}]}, EMBED, "content is not specified"),
        ({"requests": [{"model": f"models/{EMBED}", "content": {"parts": [{}]}}]}, EMBED, "required oneof field"),
    ],
)
def test_embedding_requests_the_api_refuses(fake: FakeGemini, body: dict[str, Any], model: str, expected: str) -> None:
    assert any(expected in problem for problem in embed_violations(body, model))
    reply = post(fake, body, model=model, method="batchEmbedContents")
    assert reply.status_code == 400 and reply.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert any(expected in violation for violation in fake.violations)


def test_embedding_on_a_chat_model_is_not_found(fake: FakeGemini) -> None:
    reply = post(fake, {"requests": [embed_request(model=FLASH)]}, model=FLASH, method="batchEmbedContents")
    assert reply.status_code == 404 and "not supported for batchEmbedContents" in reply.json()["error"]["message"]
    assert fake.violations == [f"/v1beta/models/{FLASH}:batchEmbedContents: models/{FLASH} is not an embedding model"]


def test_embedding_requests_the_api_accepts(fake: FakeGemini) -> None:
    body = {
        "requests": [
            embed_request("a", taskType="CODE_RETRIEVAL_QUERY", outputDimensionality=3),
            embed_request("b c", title="T", task_type="RETRIEVAL_DOCUMENT"),
        ]
    }
    assert embed_violations(body, EMBED) == []
    reply = post(fake, body, model=EMBED, method="batchEmbedContents")
    assert reply.status_code == 200 and fake.violations == []
    assert reply.json() == {
        "embeddings": [{"values": fake_vector(EMBED, "a", 3)}, {"values": fake_vector(EMBED, "b c", 3072)}]
    }
    fake.max_embed_batch = 1
    assert post(fake, body, model=EMBED, method="batchEmbedContents").status_code == 400
    fake.violations.clear()


IMAGE_MODEL = "gemini-2.5-flash-image"
IMAGEN = "imagen-4.0-generate-001"


def test_sdk_image_generation_gets_an_inline_png(sdk: genai.Client) -> None:
    config = gt.GenerateContentConfig(response_modalities=["IMAGE"], image_config=gt.ImageConfig(aspect_ratio="16:9"))
    answer = sdk.models.generate_content(model=IMAGE_MODEL, contents="a red square", config=config)
    part = answer.candidates[0].content.parts[0]  # type: ignore[index, union-attr]
    assert part.inline_data is not None and part.inline_data.mime_type == "image/png"
    assert part.inline_data.data == PNG
    usage = answer.usage_metadata
    assert usage is not None and usage.candidates_tokens_details is not None
    assert usage.candidates_tokens_details[0].modality == gt.MediaModality.IMAGE


@pytest.mark.parametrize(
    ("model", "config", "expected"),
    [
        (FLASH, {"responseModalities": ["IMAGE"]}, "does not support the requested response modalities"),
        ("gemini-2.0-flash-preview-image-generation", {"responseModalities": ["IMAGE"]}, "combination"),
        (IMAGE_MODEL, {"responseModalities": ["IMAGE"], "imageConfig": {"aspectRatio": "5:1"}}, "aspect ratio"),
        (IMAGEN, {"responseModalities": ["IMAGE"]}, "not supported for generateContent"),
    ],
)
def test_image_requests_the_api_refuses(fake: FakeGemini, model: str, config: dict[str, Any], expected: str) -> None:
    reply = post(fake, {"contents": [user("a cat")], "generationConfig": config}, model=model)
    assert reply.status_code == 400 and any(expected in violation for violation in fake.violations)
    fake.violations.clear()


def test_imagen_predict_answers_what_the_sdk_reads(fake: FakeGemini) -> None:
    body = {
        "instances": [{"prompt": "a cat"}],
        "parameters": {
            "sampleCount": 2,
            "aspectRatio": "4:3",
            "outputOptions": {"mimeType": "image/jpeg"},
            "personGeneration": "ALLOW_ADULT",
        },
    }
    reply = post(fake, body, model=IMAGEN, method="predict")
    assert reply.status_code == 200 and fake.violations == []
    # google-genai 3.4 no longer calls :predict on the Gemini API; its reader of the same shape still parses it.
    parsed = gt.GenerateImagesResponse._from_response(
        response=_GenerateImagesResponse_from_vertex(reply.json()), kwargs={}
    )
    images = parsed.generated_images or []
    assert len(images) == 2 and images[0].image is not None and images[0].image.image_bytes == PNG
    assert images[0].image.mime_type == "image/jpeg"


@pytest.mark.parametrize(
    ("model", "body", "code", "expected"),
    [
        (IMAGEN, {"instances": [{"prompt": "x"}], "parameters": {"sampleCount": 5}}, 400, "between 1 and 4"),
        (IMAGEN, {"instances": [{"prompt": "x"}], "parameters": {"aspectRatio": "21:9"}}, 400, "aspect ratio"),
        (IMAGEN, {"instances": [{"prompt": "x"}], "parameters": {"seed": 3}}, 400, "parameters.seed"),
        (IMAGEN, {"instances": [{"prompt": "x"}], "parameters": {"personGeneration": "ANYONE"}}, 400, "Invalid value"),
        (IMAGEN, {"instances": [], "parameters": {}}, 400, "exactly one instance"),
        (FLASH, {"instances": [{"prompt": "x"}]}, 404, "not supported for predict"),
    ],
)
def test_predict_requests_the_api_refuses(
    fake: FakeGemini, model: str, body: dict[str, Any], code: int, expected: str
) -> None:
    reply = post(fake, body, model=model, method="predict")
    assert reply.status_code == code and any(expected in violation for violation in fake.violations)
    fake.violations.clear()


# --- audio: TTS models answer PCM; the modality rules (tests/fakes/gemini_audio.py) ----------------

TTS = "gemini-2.5-flash-preview-tts"


def test_sdk_tts_request_gets_pcm(sdk: genai.Client, fake: FakeGemini) -> None:
    voice = gt.VoiceConfig(prebuilt_voice_config=gt.PrebuiltVoiceConfig(voice_name="Kore"))
    config = gt.GenerateContentConfig(response_modalities=["AUDIO"], speech_config=gt.SpeechConfig(voice_config=voice))
    reply = sdk.models.generate_content(model=TTS, contents="Say hi", config=config)
    assert reply.candidates and reply.candidates[0].content and reply.candidates[0].content.parts
    blob = reply.candidates[0].content.parts[0].inline_data
    assert blob is not None and blob.mime_type == PCM_MIME and blob.data == fake_pcm("Say hi")
    assert reply.usage_metadata and reply.usage_metadata.candidates_tokens_details
    assert reply.usage_metadata.candidates_tokens_details[0].modality == gt.MediaModality.AUDIO


def test_sdk_audio_input_is_accepted(sdk: genai.Client) -> None:
    audio = gt.Part.from_bytes(data=b"RIFF\x00\x00\x00\x00WAVE", mime_type="audio/wav")
    assert sdk.models.generate_content(model=FLASH, contents=[audio, "Transcribe this."]).text == "Hello!"


SPEECH = {
    "responseModalities": ["AUDIO"],
    "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}},
}


@pytest.mark.parametrize(
    ("body", "model", "expected"),
    [
        ({"contents": [user()]}, TTS, "response modalities (TEXT) is not supported"),
        (
            {
                "contents": [user()],
                "generationConfig": {
                    **SPEECH,
                    "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "alloy"}}},
                },
            },
            TTS,
            "Voice name 'alloy' is not supported",
        ),
        (
            {
                "contents": [
                    {"role": "user", "parts": [{"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}}]}
                ],
                "generationConfig": SPEECH,
            },
            TTS,
            "takes text input only",
        ),
        (
            {"contents": [user()], "generationConfig": {"responseModalities": ["AUDIO"]}},
            FLASH,
            "response modalities (AUDIO) is not supported",
        ),
    ],
)
def test_audio_requests_the_api_refuses(body: dict[str, Any], model: str, expected: str) -> None:
    assert any(expected in line for line in request_violations(body, model))


def test_audio_requests_the_api_accepts() -> None:
    assert request_violations({"contents": [user("Say hi")], "generationConfig": SPEECH}, TTS) == []
