"""The legacy completions frontend (frontends/openai_completions/) and the OpenAI provider's native road.

Golden tests of the pure parts (validation, decode and fan-out, encode, the stream encoder), the
fan-out helpers, and the provider's relay of "completions" (`relays`, `relay`, `relay_stream`) over a stub client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import openai.types
import orjson
import pytest

from babelgate.config import ProviderConfig
from babelgate.config.presets import PRESETS
from babelgate.errors import GatewayError, InvalidRequest, UpstreamProtocolError
from babelgate.frontends.openai_completions import ROUTES
from babelgate.frontends.openai_completions.fanout import gather_bounded, merge_streams
from babelgate.frontends.openai_completions.stream import OpenAICompletionsStreamEncoder
from babelgate.frontends.openai_completions.translate import (
    CompletionRequest,
    chat_request,
    decode_request,
    encode_response,
    sum_usage,
)
from babelgate.frontends.openai_completions.validate import validate_completion_body, validate_translatable
from babelgate.frontends.openai_completions.wire import finish_reason
from babelgate.providers.base import CallNotes
from babelgate.providers.openai.profiles import PROFILES, select_profile
from babelgate.schema.chat import AssistantMessage, ChatRequest, ChatResponse, Choice, Message, Usage
from babelgate.schema.chunks import ChatChunk, ChunkChoice, Delta
from tests.chat_wire import written
from tests.fakes import openai_upstream as fake
from tests.fakes.openai_spec import schema_violations
from tests.unit.test_openai_provider import StubClient, StubResponse, collect, provider

# -- validation (both roads) -------------------------------------------------------------------

VALID_PROMPTS = ["text", "", None, ["a", "b"], [], [1, 2, 3], [[1, 2], [3]]]


@pytest.mark.parametrize("prompt", VALID_PROMPTS)
def test_every_prompt_shape_of_the_spec_is_valid(prompt: Any) -> None:
    validate_completion_body({"model": "m", "prompt": prompt})


def test_a_full_body_is_valid() -> None:
    validate_completion_body(
        {
            "model": "m",
            "prompt": "p",
            "suffix": "s",
            "max_tokens": 0,
            "temperature": 2,
            "top_p": 0,
            "n": 128,
            "stream": True,
            "stream_options": {"include_usage": True},
            "logprobs": 10,
            "echo": True,
            "stop": ["a"],
            "presence_penalty": -2,
            "frequency_penalty": 2,
            "best_of": 40,
            "logit_bias": {"50256": -100},
            "user": "u",
            "seed": -3,
            "vendor_field": {"anything": [1]},
        }
    )


@pytest.mark.parametrize(
    ("fields", "param", "key"),
    [
        ({"model": "m"}, "prompt", "missing_field"),
        ({"prompt": "p"}, "model", "missing_field"),
        ({"model": "", "prompt": "p"}, "model", "wrong_type"),
        ({"model": "m", "prompt": 3}, "prompt", "wrong_type"),
        ({"model": "m", "prompt": ["a", 1]}, "prompt", "wrong_type"),
        ({"model": "m", "prompt": [1, True]}, "prompt", "wrong_type"),
        ({"model": "m", "prompt": [[1], []]}, "prompt", "wrong_type"),
        ({"model": "m", "prompt": [[1], "a"]}, "prompt", "wrong_type"),
        ({"model": "m", "prompt": {"text": "a"}}, "prompt", "wrong_type"),
        ({"model": "m", "prompt": "p", "echo": 1}, "echo", "wrong_type"),
        ({"model": "m", "prompt": "p", "stream": "yes"}, "stream", "wrong_type"),
        ({"model": "m", "prompt": "p", "suffix": 1}, "suffix", "wrong_type"),
        ({"model": "m", "prompt": "p", "user": 1}, "user", "wrong_type"),
        ({"model": "m", "prompt": "p", "temperature": 2.5}, "temperature", "out_of_range"),
        ({"model": "m", "prompt": "p", "top_p": "1"}, "top_p", "wrong_type"),
        ({"model": "m", "prompt": "p", "n": 129}, "n", "out_of_range"),
        ({"model": "m", "prompt": "p", "n": 1.5}, "n", "wrong_type"),
        ({"model": "m", "prompt": "p", "max_tokens": -1}, "max_tokens", "out_of_range"),
        ({"model": "m", "prompt": "p", "logprobs": -1}, "logprobs", "out_of_range"),
        ({"model": "m", "prompt": "p", "logprobs": True}, "logprobs", "wrong_type"),
        ({"model": "m", "prompt": "p", "best_of": "2"}, "best_of", "wrong_type"),
        ({"model": "m", "prompt": "p", "seed": 1.0}, "seed", "wrong_type"),
        ({"model": "m", "prompt": "p", "stop": 1}, "stop", "wrong_type"),
        ({"model": "m", "prompt": "p", "stop": ["a", None]}, "stop", "wrong_type"),
        ({"model": "m", "prompt": "p", "stream_options": []}, "stream_options", "wrong_type"),
        (
            {"model": "m", "prompt": "p", "stream_options": {"include_usage": "y"}},
            "stream_options.include_usage",
            "wrong_type",
        ),
    ],
)
def test_invalid_fields_are_named(fields: dict[str, Any], param: str, key: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_completion_body(fields)
    assert (caught.value.param, caught.value.message_key) == (param, key)


# -- what the translated road refuses ----------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "param", "key"),
    [
        ({"prompt": None}, "prompt", "missing_field"),
        ({"prompt": []}, "prompt", "completions_empty_prompt"),
        ({"prompt": [1, 2]}, "prompt", "completions_token_prompt"),
        ({"prompt": [[1], [2]]}, "prompt", "completions_token_prompt"),
        ({"suffix": "}"}, "suffix", "completions_suffix"),
        ({"logprobs": 0}, "logprobs", "completions_logprobs"),
        ({"best_of": 2}, "best_of", "completions_best_of"),
        ({"best_of": 1, "n": 2}, "best_of", "completions_best_of"),
        ({"max_tokens": 0}, "max_tokens", "completions_max_tokens_zero"),
    ],
)
def test_translated_road_refusals(fields: dict[str, Any], param: str, key: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_translatable({"model": "m", "prompt": "p", **fields}, "public-name")
    assert (caught.value.param, caught.value.message_key) == (param, key)
    if key.startswith("completions_") and key != "completions_empty_prompt":
        assert caught.value.code == "unsupported_parameter" and caught.value.params["model"] == "public-name"


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"suffix": ""},
        {"suffix": None},
        {"logprobs": None},
        {"best_of": 1},
        {"best_of": 3, "n": 3},
        {"best_of": None, "n": 4},
        {"max_tokens": 1},
        {"max_tokens": None},
        {"prompt": ["a", "b"]},
        {"echo": True},
    ],
)
def test_translated_road_accepts(fields: dict[str, Any]) -> None:
    validate_translatable({"model": "m", "prompt": "p", **fields}, "m")


# -- decode and fan-out -----------------------------------------------------------------------


def test_decode_request_keeps_chat_fields_and_defaults_max_tokens_to_16() -> None:
    request = decode_request(
        {
            "model": "m",
            "prompt": "p",
            "echo": True,
            "suffix": "",
            "best_of": 2,
            "n": 2,
            "temperature": 0.3,
            "stop": "\n",
            "user": "u",
            "logit_bias": {"1": 5},
            "stream": True,
            "stream_options": {"include_usage": True},
            "logprobs": None,
        }
    )
    assert request == CompletionRequest(
        model="m",
        prompts=["p"],
        n=2,
        echo=True,
        stream=True,
        include_usage=True,
        chat=ChatRequest(
            "m",
            [],
            n=2,
            temperature=0.3,
            stop=["\n"],
            user="u",
            max_tokens=16,
            stream=True,
            include_usage=True,
            extra={"logit_bias": {"1": 5}},
        ),
        adjusted=["best_of=dropped", "suffix=dropped"],
    )


def test_a_chat_field_the_chat_road_refuses_is_refused_by_name() -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_request({"model": "m", "prompt": "p", "tools": [{"type": "function", "function": {"name": "bad name"}}]})
    assert (caught.value.message_key, caught.value.param) == ("invalid_tool_name", "tools[0].function.name")


def test_messages_in_a_completions_body_are_dropped_not_the_conversation() -> None:
    request = decode_request({"model": "m", "prompt": "p", "messages": [{"role": "user", "content": "other"}]})
    assert request.adjusted == ["messages=dropped"]
    assert chat_request(request, "p").messages == [Message("user", "p")]


@pytest.mark.parametrize(("max_tokens", "sent"), [(None, 16), (5, 5)])
def test_max_tokens_default(max_tokens: int | None, sent: int) -> None:
    request = decode_request({"model": "m", "prompt": "p", "max_tokens": max_tokens})
    assert request.chat == ChatRequest("m", [], max_tokens=sent)
    assert (request.n, request.echo, request.stream, request.include_usage, request.adjusted) == (
        1,
        False,
        False,
        False,
        [],
    )


def test_each_prompt_is_a_single_turn_chat() -> None:
    request = decode_request({"model": "public", "prompt": ["first", "second"], "seed": 3})
    assert request.prompts == ["first", "second"]
    chats = [chat_request(request, prompt) for prompt in request.prompts]
    assert [written(chat) for chat in chats] == [
        {"model": "public", "messages": [{"role": "user", "content": "first"}], "seed": 3, "max_tokens": 16},
        {"model": "public", "messages": [{"role": "user", "content": "second"}], "seed": 3, "max_tokens": 16},
    ]
    chats[0].extra["x"] = 1
    assert chats[1].extra == {}, "each prompt's request is its own"


# -- encode -----------------------------------------------------------------------------------


def answer(
    texts: list[str | None], *, finish: list[Any] | None = None, usage: Usage | None = None, model: str = "up-model"
) -> ChatResponse:
    reasons = finish or ["stop"] * len(texts)
    return ChatResponse(
        id="chatcmpl-1",
        created=1,
        model=model,
        usage=usage,
        choices=[Choice(index, AssistantMessage(content=text), reasons[index]) for index, text in enumerate(texts)],
    )


def test_encode_response_numbers_choices_prompt_major_and_sums_usage() -> None:
    request = CompletionRequest(model="public", prompts=["A:", "B:"], n=2, echo=True)
    answers = [
        answer(["a0", "a1"], finish=["stop", "length"], usage=Usage(3, 4, 7, cached_tokens=1)),
        # Choices may come in any order; tool calls or function calls cannot be asked for, but end the text.
        ChatResponse(
            id="chatcmpl-2",
            created=1,
            model="up-model",
            usage=Usage(5, 6, 11, reasoning_tokens=2),
            choices=[
                Choice(1, AssistantMessage(content=None), "tool_calls"),
                Choice(0, AssistantMessage(content="b0"), "content_filter"),
            ],
        ),
    ]
    body = encode_response(request, answers, completion_id="cmpl-x", created=42)
    assert body == {
        "id": "cmpl-x",
        "object": "text_completion",
        "created": 42,
        "model": "up-model",
        "choices": [
            {"text": "A:a0", "index": 0, "logprobs": None, "finish_reason": "stop"},
            {"text": "A:a1", "index": 1, "logprobs": None, "finish_reason": "length"},
            {"text": "B:b0", "index": 2, "logprobs": None, "finish_reason": "content_filter"},
            {"text": "B:", "index": 3, "logprobs": None, "finish_reason": "stop"},
        ],
        "usage": {
            "prompt_tokens": 8,
            "completion_tokens": 10,
            "total_tokens": 18,
            "prompt_tokens_details": {"cached_tokens": 1},
            "completion_tokens_details": {"reasoning_tokens": 2},
        },
    }
    assert schema_violations(body, "CreateCompletionResponse") == []
    assert openai.types.Completion.model_validate(body).choices[3].text == "B:"


def test_usage_is_left_out_unless_every_call_reported_it() -> None:
    request = CompletionRequest(model="public", prompts=["a", "b"])
    body = encode_response(request, [answer(["x"], usage=Usage(1, 1, 2)), answer(["y"])], completion_id="c", created=1)
    assert "usage" not in body
    assert schema_violations(body, "CreateCompletionResponse") == []


def test_single_call_usage_is_kept_whole() -> None:
    usage = Usage(1, 2, 3, extra={"prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": 0}})
    assert sum_usage([usage]) is usage
    assert sum_usage([]) is None
    assert sum_usage([Usage(1, 2, 3), Usage(4, 5, 9, cached_tokens=2)]) == Usage(5, 7, 12, cached_tokens=2)


@pytest.mark.parametrize(
    ("chat", "legacy"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("content_filter", "content_filter"),
        ("tool_calls", "stop"),
        ("function_call", "stop"),
        (None, None),
    ],
)
def test_finish_reasons(chat: str | None, legacy: str | None) -> None:
    assert finish_reason(chat) == legacy


# -- the stream encoder -------------------------------------------------------------------------


def chunk(*choices: tuple[int, Delta, Any], usage: Usage | None = None, model: str = "up-model") -> ChatChunk:
    return ChatChunk(
        id="chatcmpl-1",
        created=1,
        model=model,
        usage=usage,
        choices=[ChunkChoice(index, delta, finish) for index, delta, finish in choices],
    )


def frames(data: bytes) -> list[Any]:
    out = []
    for frame in data.split(b"\n\n"):
        if frame:
            assert frame.startswith(b"data: ")
            out.append("[DONE]" if frame == b"data: [DONE]" else orjson.loads(frame[6:]))
    return out


def assert_valid_chunk(event: dict[str, Any]) -> None:
    """A streamed chunk is an answer in the spec's shape but for two nulls it does not list: a
    choice's `finish_reason` until the choice ends, and `usage` before the usage chunk (OpenAI
    streams both; the SDK reads chunks without validating them)."""
    ended = {key: value for key, value in event.items() if not (key == "usage" and value is None)}
    ended["choices"] = [{**choice, "finish_reason": choice["finish_reason"] or "stop"} for choice in event["choices"]]
    assert schema_violations(ended, "CreateCompletionResponse") == []
    assert openai.types.Completion.model_validate(ended).object == "text_completion"


def encoder(**overrides: Any) -> OpenAICompletionsStreamEncoder:
    settings: dict[str, Any] = {
        "completion_id": "cmpl-s",
        "created": 7,
        "model": "public",
        "prompts": ["P"],
        "n": 1,
        "echo": False,
        "include_usage": False,
        **overrides,
    }
    return OpenAICompletionsStreamEncoder(**settings)


def test_stream_text_deltas_and_finish() -> None:
    enc = encoder()
    out = b"".join(
        [
            enc.feed((0, chunk((0, Delta(role="assistant", content=""), None)))),
            enc.feed((0, chunk((0, Delta(content="Hel"), None)))),
            enc.feed((0, chunk((0, Delta(reasoning_content="thinking"), None)))),
            enc.feed((0, chunk((0, Delta(content="lo"), None)))),
            enc.feed((0, chunk((0, Delta(), "stop")))),
            enc.finish(),
        ]
    )
    events = frames(out)
    assert events == [
        {
            "id": "cmpl-s",
            "object": "text_completion",
            "created": 7,
            "model": "up-model",
            "choices": [{"text": "Hel", "index": 0, "logprobs": None, "finish_reason": None}],
        },
        {
            "id": "cmpl-s",
            "object": "text_completion",
            "created": 7,
            "model": "up-model",
            "choices": [{"text": "lo", "index": 0, "logprobs": None, "finish_reason": None}],
        },
        {
            "id": "cmpl-s",
            "object": "text_completion",
            "created": 7,
            "model": "up-model",
            "choices": [{"text": "", "index": 0, "logprobs": None, "finish_reason": "stop"}],
        },
        "[DONE]",
    ]
    for event in events[:-1]:
        assert_valid_chunk(event)


def test_stream_interleaved_prompts_echo_first_and_usage_last() -> None:
    enc = encoder(prompts=["A", "B"], n=2, echo=True, include_usage=True)
    out = b"".join(
        [
            enc.feed((1, chunk((1, Delta(content="b1"), None)))),
            enc.feed((0, chunk((0, Delta(content="a0"), "stop"), (1, Delta(content="a1"), "length")))),
            enc.feed((1, chunk((0, Delta(content="b0"), "stop")))),
            enc.feed((1, chunk((1, Delta(), "stop")))),
            enc.feed((0, chunk(usage=Usage(2, 3, 5)))),
            enc.feed((1, chunk(usage=Usage(4, 5, 9)))),
            enc.finish(),
        ]
    )
    events = frames(out)
    assert events[-1] == "[DONE]"
    usage_chunk = events[-2]
    assert usage_chunk == {
        "id": "cmpl-s",
        "object": "text_completion",
        "created": 7,
        "model": "up-model",
        "choices": [],
        "usage": {"prompt_tokens": 6, "completion_tokens": 8, "total_tokens": 14},
    }
    body = events[:-2]
    for event in [*body, usage_chunk]:
        assert_valid_chunk(event)
    assert all(event["usage"] is None for event in body)
    assert [[(c["index"], c["text"], c["finish_reason"]) for c in event["choices"]] for event in body] == [
        [(0, "A", None)],
        [(1, "A", None)],
        [(2, "B", None)],
        [(3, "B", None)],  # the echo, one choice each
        [(3, "b1", None)],
        [(0, "a0", "stop"), (1, "a1", "length")],
        [(2, "b0", "stop")],
        [(3, "", "stop")],
    ]


def test_stream_usage_chunk_needs_every_calls_usage() -> None:
    enc = encoder(prompts=["A", "B"], include_usage=True)
    enc.feed((0, chunk((0, Delta(content="x"), "stop"), usage=Usage(1, 1, 2))))
    assert frames(enc.finish()) == ["[DONE]"]


def test_stream_without_include_usage_has_no_usage_key() -> None:
    enc = encoder()
    events = frames(enc.feed((0, chunk((0, Delta(content="x"), None), usage=Usage(1, 1, 2)))) + enc.finish())
    assert "usage" not in events[0] and events[-1] == "[DONE]"


def test_stream_that_brought_no_chunk_still_echoes() -> None:
    events = frames(encoder(echo=True).finish())
    assert [(e["model"], e["choices"][0]["text"]) for e in events[:-1]] == [("public", "P")]
    assert events[-1] == "[DONE]"


# -- fan-out ------------------------------------------------------------------------------------


async def test_gather_bounded_keeps_order_and_bound() -> None:
    running = peak = 0

    async def call(value: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001 * (5 - value % 5))
        running -= 1
        return value

    results = await gather_bounded([lambda v=value: call(v) for value in range(12)], limit=3)  # type: ignore[misc]
    assert results == list(range(12)) and peak == 3


async def test_gather_bounded_cancels_the_others_on_failure() -> None:
    cancelled = asyncio.Event()

    async def slow() -> int:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 0

    async def failing() -> int:
        await asyncio.sleep(0)
        raise InvalidRequest("invalid_request")

    with pytest.raises(InvalidRequest):
        await gather_bounded([slow, failing])
    assert cancelled.is_set()


class Source:
    """An async generator that notes whether it was closed before its end."""

    def __init__(self, items: list[Any], *, delay: float = 0.0, error: GatewayError | None = None) -> None:
        self.items, self.delay, self.error = items, delay, error
        self.closed = False

    async def run(self) -> AsyncIterator[Any]:
        try:
            for item in self.items:
                await asyncio.sleep(self.delay)
                yield item
            if self.error is not None:
                raise self.error
        finally:
            self.closed = True


async def test_merge_streams_interleaves_and_keeps_each_order() -> None:
    sources = [Source(["a1", "a2", "a3"], delay=0.003), Source(["b1", "b2"], delay=0.001)]
    merged = [item async for item in merge_streams([source.run() for source in sources])]
    assert sorted(merged) == [(0, "a1"), (0, "a2"), (0, "a3"), (1, "b1"), (1, "b2")]
    assert [item for index, item in merged if index == 0] == ["a1", "a2", "a3"]
    assert merged[0] == (1, "b1"), "the faster stream is not held back"
    assert all(source.closed for source in sources)


async def test_merge_streams_raises_the_first_failure_and_closes_the_rest() -> None:
    slow = Source(["a"] * 100, delay=0.01)
    failing = Source(["b"], error=UpstreamProtocolError("stream_interrupted", provider="p"))
    seen = []
    with pytest.raises(UpstreamProtocolError):
        async for item in merge_streams([slow.run(), failing.run()]):
            seen.append(item)
    assert (1, "b") in seen
    assert slow.closed


async def test_closing_the_merged_stream_closes_every_source() -> None:
    sources = [Source(["a"] * 100, delay=0.01), Source(["b"] * 100, delay=0.01)]
    merged = merge_streams([source.run() for source in sources])
    await anext(merged)
    await merged.aclose()  # type: ignore[attr-defined]
    assert all(source.closed for source in sources)


async def test_merge_of_one_stream_needs_no_task() -> None:
    source = Source(["x", "y"])
    assert [item async for item in merge_streams([source.run()])] == [(0, "x"), (0, "y")]


# -- which models the native road serves ------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "model", "native"),
    [
        ("openai", "gpt-3.5-turbo-instruct", True),
        ("openai", "gpt-3.5-turbo-instruct-0914", True),
        ("openai", "davinci-002", True),
        ("openai", "ft:babbage-002:acme::abc123", True),
        ("openai", "gpt-4o-mini", False),
        ("openai", "gpt-5", False),
        ("ollama", "llama3.2", True),
        ("vllm", "Qwen/Qwen2.5-7B", True),
        ("llamacpp", "any", True),
        ("together", "meta-llama/Llama-3-8b", True),
        ("openrouter", "openai/gpt-3.5-turbo-instruct", True),
        ("siliconflow", "deepseek-ai/DeepSeek-V3", True),
        ("deepseek", "deepseek-chat", True),
        ("deepseek", "deepseek-reasoner", False),
        ("qwen", "qwen2.5-coder-32b-instruct", True),
        ("qwen", "qwen-max", False),
        ("groq", "llama-3.1-8b-instant", False),
        ("xai", "grok-3", True),
        ("xai", "grok-4-fast-non-reasoning", True),
        ("xai", "grok-4", False),
    ],
)
def test_presets_decide_the_road(preset: str, model: str, native: bool) -> None:
    chosen = PRESETS[preset]
    built = provider(StubClient(), base_url=chosen.base_url, profile=chosen.profile)
    assert built.relays("completions", model) is native


@pytest.mark.parametrize(
    ("option", "model", "native"),
    [
        (True, "gpt-4o", True),
        (False, "gpt-3.5-turbo-instruct", False),
        (["my-*"], "my-model", True),
        (["my-*"], "gpt-3.5-turbo-instruct", False),
        ("base-*", "base-7b", True),
    ],
)
def test_the_completions_option_wins_over_the_profile(option: Any, model: str, native: bool) -> None:
    built = provider(StubClient(), options={"completions": option, "drop_params": ["x"]})
    assert built.relays("completions", model) is native


@pytest.mark.parametrize("option", [3, {"a": 1}, [1]])
def test_a_bad_completions_option_is_refused(option: Any) -> None:
    with pytest.raises(ValueError, match=r"options\.completions"):
        select_profile(None, "http://x/v1", {"completions": option})


def test_every_profile_says_where_its_completions_are() -> None:
    assert PROFILES["groq"].completions == ()
    assert PROFILES["generic"].completions == ("*",)
    assert PROFILES["deepseek"].completions_root == "/beta"


# -- the native road on the OpenAI provider -----------------------------------------------------

LEGACY = fake.text_completion("done", model="gpt-3.5-turbo-instruct-0914")


async def test_relay_completions_rewrites_model_only_and_returns_exact_bytes() -> None:
    raw = orjson.dumps(LEGACY) + b"\n"
    client = StubClient(StubResponse(200, raw))
    notes = CallNotes()
    body = {"model": "public", "prompt": ["a", [1, 2]], "suffix": "s", "echo": True, "logprobs": 3, "vendor": 1}
    assert await provider(client).relay("completions", dict(body), "gpt-3.5-turbo-instruct", notes) == raw
    sent = client.sent[0]
    assert sent["url"] == "https://api.openai.com/v1/completions"
    assert sent["json"] == {**body, "model": "gpt-3.5-turbo-instruct"}
    assert (notes.usage, notes.finish_reason, notes.adjusted) == (Usage(5, 2, 7), "stop", [])


async def test_relay_completions_applies_the_profile_edits() -> None:
    client = StubClient(StubResponse(200, orjson.dumps(LEGACY)))
    notes = CallNotes()
    await provider(client, profile="no-stream-options").relay(
        "completions", {"model": "m", "prompt": "p", "stream_options": {"include_usage": True}}, "m", notes
    )
    assert client.sent[0]["json"] == {"model": "m", "prompt": "p"}
    assert notes.adjusted == ["stream_options=dropped"]


@pytest.mark.parametrize(
    ("base_url", "url"),
    [
        ("https://api.deepseek.com/v1", "https://api.deepseek.com/beta/completions"),
        ("https://api.deepseek.com", "https://api.deepseek.com/beta/completions"),
    ],
)
async def test_deepseek_completions_live_under_beta(base_url: str, url: str) -> None:
    client = StubClient(StubResponse(200, orjson.dumps(LEGACY)))
    await provider(client, base_url=base_url, profile="deepseek").relay(
        "completions", {"model": "m", "prompt": "p"}, "deepseek-chat", CallNotes()
    )
    assert client.sent[0]["url"] == url


@pytest.mark.parametrize("raw", [b"[]", b'{"object": "text_completion"}', b"not json"])
async def test_relay_completions_of_a_malformed_body(raw: bytes) -> None:
    with pytest.raises(UpstreamProtocolError):
        await provider(StubClient(StubResponse(200, raw))).relay(
            "completions", {"model": "m", "prompt": "p"}, "gpt-3.5-turbo-instruct", CallNotes()
        )


async def test_relay_completions_stream_relays_frames_and_notes_usage() -> None:
    events = fake.completion_stream(["Hel", "lo"], include_usage=True)
    data = b"".join(b"data: " + orjson.dumps(event) + b"\n\n" for event in events) + b"data: [DONE]\n\n"
    response = StubResponse(200, pieces=[data[i : i + 7] for i in range(0, len(data), 7)])
    notes = CallNotes()
    relayed = await collect(
        provider(StubClient(response)).relay_stream(
            "completions",
            {"model": "m", "prompt": "p", "stream": True, "stream_options": {"include_usage": True}},
            "gpt-3.5-turbo-instruct",
            notes,
        )
    )
    assert b"".join(relayed) == data
    assert (notes.completed, notes.finish_reason, notes.usage) == (True, "stop", Usage(5, 3, 8))


async def test_relay_completions_stream_cut_short_raises() -> None:
    events = fake.completion_stream(["Hel", "lo"])[:1]
    data = b"".join(b"data: " + orjson.dumps(event) + b"\n\n" for event in events)
    with pytest.raises(UpstreamProtocolError):
        await collect(
            provider(StubClient(StubResponse(200, pieces=[data]))).relay_stream(
                "completions", {"model": "m", "prompt": "p", "stream": True}, "gpt-3.5-turbo-instruct", CallNotes()
            )
        )


def test_route_is_declared() -> None:
    route = ROUTES["/completions"]
    assert (route.method, route.name, route.public) == ("POST", "completions", False)


def test_provider_config_accepts_the_option() -> None:
    assert ProviderConfig.model_validate({"options": {"completions": False}}).options == {"completions": False}


# -- the fake upstream answers in the real format --------------------------------------------------


def test_fake_completions_are_valid_sdk_objects_and_match_the_spec() -> None:
    events = [fake.text_completion(["a", "b"]), *fake.completion_stream(["x"], choices=2, include_usage=True)[-1:]]
    for event in events:
        assert schema_violations(event, "CreateCompletionResponse") == []
        openai.types.Completion.model_validate(event)
    for event in fake.completion_stream(["x", "y"], choices=2, include_usage=True):
        assert_valid_chunk(event)
