"""Ollama ⇄ chat, golden (frontends/ollama/translate.py): the chat body an `/api/chat` or `/api/generate` body
folds onto, the embeddings body of `/api/embed`, and the Ollama JSON of canonical answers, checked against
Ollama's spec."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from babelgate.errors import InvalidRequest, UpstreamProtocolError
from babelgate.frontends.ollama.translate import (
    chat_request,
    embed_body,
    encode_chat,
    encode_embed,
    encode_embeddings,
    encode_generate,
    generate_request,
)
from babelgate.frontends.ollama.wire import Durations, created_at
from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.schema.chat import AssistantMessage, ChatResponse, Choice, FinishReason, ToolCall, Usage
from babelgate.schema.embeddings import EmbeddingResponse
from tests.chat_wire import written
from tests.ollama_spec import assert_valid

JSON = dict[str, Any]
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01").decode()
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01").decode()
GIF = base64.b64encode(b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff").decode()
WEBP = base64.b64encode(b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00").decode()
AT = "2026-01-02T03:04:05.5Z"
DURATIONS = Durations(total=5_000_000, load=1_000_000, prompt_eval=0, eval=4_000_000)
USAGE = Usage(prompt_tokens=12, completion_tokens=5, total_tokens=17)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def chat_body(body: JSON) -> tuple[JSON, list[str]]:
    """The chat request for an `/api/chat` body as a chat body (tests/chat_wire.py), and what was dropped."""
    adjusted: list[str] = []
    return written(chat_request(body, adjusted)), adjusted


def generate_body(body: JSON) -> tuple[JSON, list[str]]:
    adjusted: list[str] = []
    return written(generate_request(body, adjusted)), adjusted


def chat(messages: list[JSON], **fields: Any) -> JSON:
    body, adjusted = chat_body({"model": "llama3", "messages": messages, **fields})
    assert adjusted == []
    return body


def user(text: str, **fields: Any) -> JSON:
    return {"role": "user", "content": text, **fields}


def answer(
    message: AssistantMessage,
    finish: FinishReason | None = "stop",
    usage: Usage | None = USAGE,
    logprobs: JSON | None = None,
) -> ChatResponse:
    return ChatResponse(
        id="chatcmpl-1",
        created=1_700_000_000,
        model="gpt-test",
        choices=[Choice(0, message, finish, logprobs)],
        usage=usage,
    )


# -- /api/chat → chat body ---------------------------------------------------------------------------------


def test_plain_conversation_keeps_roles_and_order() -> None:
    assert chat(
        [{"role": "system", "content": "Be brief."}, user("Hi"), {"role": "assistant", "content": "Hello"}, user("Bye")]
    ) == {
        "model": "llama3",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Bye"},
        ],
    }


def test_missing_content_is_empty_text() -> None:
    assert chat([{"role": "user"}])["messages"] == [{"role": "user", "content": ""}]


@pytest.mark.parametrize(
    ("image", "media"), [(PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (WEBP, "image/webp")]
)
def test_images_become_data_uris_with_the_sniffed_media_type_before_the_text(image: str, media: str) -> None:
    assert chat([user("What is this?", images=[image])])["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": f"data:{media};base64,{image}"}},
                {"type": "text", "text": "What is this?"},
            ],
        }
    ]


def test_an_image_without_text_is_the_only_part() -> None:
    assert chat([user("", images=[PNG])])["messages"][0]["content"] == [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    ]


def test_wrapped_base64_and_data_uris_are_accepted() -> None:
    wrapped = PNG[:8] + "\n" + PNG[8:]
    body = chat([user("", images=[wrapped, "data:image/png;base64," + PNG])])
    [image_part, uri_part] = body["messages"][0]["content"]
    assert image_part["image_url"]["url"] == f"data:image/png;base64,{PNG}"
    assert uri_part["image_url"]["url"] == f"data:image/png;base64,{PNG}"


@pytest.mark.parametrize("image", ["not base64!", base64.b64encode(b"%PDF-1.7 not an image").decode()])
def test_an_image_that_is_not_a_known_image_is_refused_with_its_path(image: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        chat([user("Hi"), user("x", images=[PNG, image])])
    assert (caught.value.message_key, caught.value.param) == ("ollama_image_format", "messages[1].images[1]")


def test_images_on_an_assistant_message_are_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        chat([user("Hi"), {"role": "assistant", "content": "x", "images": [PNG]}])
    assert (caught.value.message_key, caught.value.param) == ("ollama_images_role", "messages[1].images")


def test_tool_definitions_pass_and_get_their_type() -> None:
    untyped = {"function": WEATHER_TOOL["function"]}
    assert chat([user("Weather?")], tools=[WEATHER_TOOL, untyped])["tools"] == [WEATHER_TOOL, WEATHER_TOOL]


def call(call_id: str, name: str, arguments: str) -> JSON:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_tool_loop_without_ids_gets_stable_ids_paired_by_name_then_order() -> None:
    """What the official Python client sends: calls without ids, results with `tool_name`."""
    messages = [
        user("Weather and time in Paris?"),
        {
            "role": "assistant",
            "content": "",
            "thinking": "Two tools.",
            "tool_calls": [
                {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                {"function": {"name": "get_time", "arguments": {"tz": "CET"}}},
            ],
        },
        {"role": "tool", "content": "12:00", "tool_name": "get_time"},
        {"role": "tool", "content": "18C"},
    ]
    assert chat(messages)["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                call("call_1_0", "get_weather", '{"city":"Paris"}'),
                call("call_1_1", "get_time", '{"tz":"CET"}'),
            ],
        },
        {"role": "tool", "tool_call_id": "call_1_1", "content": "12:00"},
        {"role": "tool", "tool_call_id": "call_1_0", "content": "18C"},
    ]


def test_tool_loop_with_ids_keeps_them() -> None:
    messages = [
        user("Weather?"),
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [
                {"id": "toolu_01", "function": {"index": 0, "name": "get_weather", "arguments": '{"city":"Rome"}'}}
            ],
        },
        {"role": "tool", "content": "20C", "tool_call_id": "toolu_01", "tool_name": "get_weather"},
    ]
    assert chat(messages)["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [call("toolu_01", "get_weather", '{"city":"Rome"}')],
        },
        {"role": "tool", "tool_call_id": "toolu_01", "content": "20C"},
    ]


def test_a_call_without_arguments_has_an_empty_object() -> None:
    messages = [
        user("Now?"),
        {"role": "assistant", "tool_calls": [{"function": {"name": "now"}}]},
        {"role": "tool", "content": "noon"},
    ]
    assert chat(messages)["messages"][1]["tool_calls"][0]["function"]["arguments"] == "{}"


def test_a_tool_message_with_no_call_to_answer_is_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        chat([user("Hi"), {"role": "tool", "content": "18C", "tool_name": "get_weather"}])
    assert (caught.value.message_key, caught.value.param) == ("ollama_unmatched_tool_message", "messages[1]")


def test_a_tool_message_with_an_unknown_id_keeps_it_for_the_upstream_to_judge() -> None:
    assert chat([user("Hi"), {"role": "tool", "content": "18C", "tool_call_id": "call_x"}])["messages"][1] == {
        "role": "tool",
        "tool_call_id": "call_x",
        "content": "18C",
    }


def test_string_arguments_that_are_not_an_object_are_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        chat([user("Hi"), {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "[1]"}}]}])
    assert caught.value.param == "messages[1].tool_calls[0].function.arguments"


def test_format_json_and_schema() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert chat([user("Count")], format="json")["response_format"] == {"type": "json_object"}
    assert chat([user("Count")], format=schema)["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema},
    }
    assert "response_format" not in chat([user("Count")], format="")


def test_options_map_onto_chat_fields() -> None:
    options = {
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "min_p": 0.05,
        "repeat_penalty": 1.1,
        "seed": 7,
        "stop": ["\n\n"],
        "num_predict": 64,
        "presence_penalty": 0.5,
        "frequency_penalty": 0.25,
    }
    body = chat([user("Hi")], options=options)
    assert {key: value for key, value in body.items() if key not in ("model", "messages")} == {
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "min_p": 0.05,
        "repetition_penalty": 1.1,
        "seed": 7,
        "stop": ["\n\n"],
        "max_tokens": 64,
        "presence_penalty": 0.5,
        "frequency_penalty": 0.25,
    }


def test_options_without_an_api_equivalent_are_dropped_and_reported() -> None:
    body, adjusted = chat_body(
        {
            "model": "m",
            "messages": [user("Hi")],
            "options": {"num_ctx": 8192, "mirostat": 0, "temperature": 0.1, "use_mmap": None},
        }
    )
    assert body["temperature"] == 0.1 and "num_ctx" not in body
    assert adjusted == ["options.num_ctx=dropped", "options.mirostat=dropped"]


@pytest.mark.parametrize("num_predict", [-1, -2])
def test_num_predict_without_limit_sends_no_max_tokens(num_predict: int) -> None:
    assert "max_tokens" not in chat([user("Hi")], options={"num_predict": num_predict})


@pytest.mark.parametrize(
    ("think", "effort"), [(True, "medium"), (False, "none"), ("low", "low"), ("high", "high"), ("max", "max")]
)
def test_think_becomes_reasoning_effort(think: Any, effort: str) -> None:
    assert chat([user("Hi")], think=think)["reasoning_effort"] == effort


def test_keep_alive_and_stream_are_not_chat_fields_logprobs_are() -> None:
    body = chat([user("Hi")], keep_alive="5m", stream=False, logprobs=True, top_logprobs=2)
    assert body == {
        "model": "llama3",
        "messages": [{"role": "user", "content": "Hi"}],
        "logprobs": True,
        "top_logprobs": 2,
    }


# -- /api/generate → chat body ------------------------------------------------------------------------------


def test_generate_is_a_single_turn_chat_with_its_system_and_images() -> None:
    body, adjusted = generate_body(
        {
            "model": "llava",
            "prompt": "Describe.",
            "system": "Be brief.",
            "images": [JPEG],
            "format": "json",
            "options": {"temperature": 0},
            "template": "{{ .Prompt }}",
        }
    )
    validate_chat_body(body)
    assert body == {
        "model": "llava",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{JPEG}"}},
                    {"type": "text", "text": "Describe."},
                ],
            },
        ],
        "response_format": {"type": "json_object"},
        "temperature": 0,
    }
    assert adjusted == ["template=dropped"]


@pytest.mark.parametrize(
    ("field", "value", "key"),
    [
        ("raw", True, "ollama_raw_unsupported"),
        ("suffix", "}", "ollama_suffix_unsupported"),
        ("context", [1, 2, 3], "ollama_context_unsupported"),
    ],
)
def test_generate_refuses_what_needs_a_completion_model(field: str, value: Any, key: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        generate_body({"model": "m", "prompt": "def f(", field: value})
    assert (caught.value.message_key, caught.value.param) == (key, field)


def test_generate_accepts_the_defaults_of_raw_suffix_and_context() -> None:
    body, _ = generate_body({"model": "m", "prompt": "Hi", "raw": False, "suffix": "", "context": []})
    assert body["messages"] == [{"role": "user", "content": "Hi"}]


# -- /api/embed → embeddings body ---------------------------------------------------------------------------


def test_embed_bodies() -> None:
    assert embed_body({"model": "e", "input": "a", "truncate": True, "keep_alive": 0}, legacy=False) == (
        {"model": "e", "input": ["a"]},
        [],
    )
    assert embed_body(
        {"model": "e", "input": ["a", "b"], "dimensions": 8, "options": {"num_ctx": 512}}, legacy=False
    ) == ({"model": "e", "input": ["a", "b"], "dimensions": 8}, ["options.num_ctx=dropped"])
    assert embed_body({"model": "e", "prompt": "a"}, legacy=True) == ({"model": "e", "input": ["a"]}, [])
    assert embed_body({"model": "e", "input": ""}, legacy=False)[0]["input"] == []
    assert embed_body({"model": "e"}, legacy=True)[0]["input"] == []


# -- answers ------------------------------------------------------------------------------------------------


def test_chat_answer() -> None:
    out = encode_chat(
        answer(AssistantMessage(content="Hello!")), model="llama3", provider="openai", at=AT, durations=DURATIONS
    )
    assert out == {
        "model": "llama3",
        "created_at": AT,
        "message": {"role": "assistant", "content": "Hello!"},
        "done": True,
        "done_reason": "stop",
        "total_duration": 5_000_000,
        "load_duration": 1_000_000,
        "prompt_eval_count": 12,
        "prompt_eval_duration": 0,
        "eval_count": 5,
        "eval_duration": 4_000_000,
    }
    assert_valid(out, "chat")


def test_chat_answer_with_thinking_tool_calls_and_images() -> None:
    message = AssistantMessage(
        content=None,
        reasoning_content="Paris first.",
        tool_calls=[ToolCall("call_a", "get_weather", '{"city":"Paris"}'), ToolCall("call_b", "now", "")],
        images=[
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG}},
            {"type": "image_url", "image_url": {"url": "https://example.com/only-a-url.png"}},
        ],
    )
    out = encode_chat(answer(message, "tool_calls"), model="m", provider="openai", at=AT, durations=DURATIONS)
    assert out["message"] == {
        "role": "assistant",
        "content": "",
        "thinking": "Paris first.",
        "tool_calls": [
            {"id": "call_a", "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Paris"}}},
            {"id": "call_b", "function": {"index": 1, "name": "now", "arguments": {}}},
        ],
        "images": [PNG],
    }
    assert out["done_reason"] == "stop"
    assert_valid(out, "chat")


def test_tool_arguments_that_are_not_an_object_are_the_upstreams_protocol_error() -> None:
    message = AssistantMessage(tool_calls=[ToolCall("call_a", "f", '{"unterminated')])
    with pytest.raises(UpstreamProtocolError):
        encode_chat(answer(message, "tool_calls"), model="m", provider="openai", at=AT, durations=DURATIONS)


@pytest.mark.parametrize(
    ("finish", "reason"),
    [
        ("stop", "stop"),
        ("tool_calls", "stop"),
        ("length", "length"),
        ("content_filter", "content_filter"),
        (None, "stop"),
    ],
)
def test_done_reasons(finish: FinishReason | None, reason: str) -> None:
    out = encode_generate(answer(AssistantMessage(content="x"), finish), model="m", at=AT, durations=DURATIONS)
    assert out["done_reason"] == reason


def test_generate_answer_and_refusal_as_text_and_no_usage_as_zeros() -> None:
    out = encode_generate(
        answer(AssistantMessage(refusal="I can't help with that."), usage=None), model="m", at=AT, durations=DURATIONS
    )
    assert out == {
        "model": "m",
        "created_at": AT,
        "response": "I can't help with that.",
        "done": True,
        "done_reason": "stop",
        "total_duration": 5_000_000,
        "load_duration": 1_000_000,
        "prompt_eval_count": 0,
        "prompt_eval_duration": 0,
        "eval_count": 0,
        "eval_duration": 4_000_000,
    }
    assert_valid(out, "generate")


def test_logprobs_are_passed_in_ollamas_shape() -> None:
    entries = [
        {
            "token": "Hi",
            "logprob": -0.1,
            "bytes": [72, 105],
            "top_logprobs": [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105]}],
        }
    ]
    out = encode_chat(
        answer(AssistantMessage(content="Hi"), logprobs={"content": entries}),
        model="m",
        provider="p",
        at=AT,
        durations=DURATIONS,
    )
    assert out["logprobs"] == entries
    assert_valid(out, "chat")


def test_embed_answers() -> None:
    vectors = EmbeddingResponse(model="e", vectors=[[0.1, 0.2], [0.3, 0.4]], usage=Usage(prompt_tokens=4))
    out = encode_embed(vectors, model="e", durations=DURATIONS)
    assert out == {
        "model": "e",
        "embeddings": [[0.1, 0.2], [0.3, 0.4]],
        "total_duration": 5_000_000,
        "load_duration": 1_000_000,
        "prompt_eval_count": 4,
    }
    assert_valid(out, "embed")
    assert encode_embed(None, model="e", durations=DURATIONS)["embeddings"] == []
    assert encode_embeddings(vectors) == {"embedding": [0.1, 0.2]}
    assert encode_embeddings(None) == {"embedding": []}


# -- timestamps and durations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("epoch_ns", "text"),
    [
        (1_700_000_000_123_456_789, "2023-11-14T22:13:20.123456789Z"),
        (1_700_000_000_500_000_000, "2023-11-14T22:13:20.5Z"),
        (1_700_000_000_000_000_000, "2023-11-14T22:13:20Z"),
    ],
)
def test_created_at_is_rfc3339_with_trimmed_nanoseconds(epoch_ns: int, text: str) -> None:
    assert created_at(epoch_ns) == text


def test_durations_measured_from_instants() -> None:
    streamed = Durations.measured(received=100, upstream=130, first_output=200, end=500)
    assert streamed == Durations(total=400, load=30, prompt_eval=70, eval=300)
    whole = Durations.measured(received=100, upstream=130, first_output=None, end=500)
    assert whole == Durations(total=400, load=30, prompt_eval=0, eval=370)
