"""Property-based tests (hypothesis) of what reads untrusted bytes: the validators, the translators
from the canonical request to each provider's wire format, the frontends' decoders, and the SSE
decoder. Whatever a client or an upstream sends, each either answers or raises a GatewayError (a
4xx or a clear upstream error), never anything else: an unexpected exception is a 500."""

from __future__ import annotations

import copy
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from babelgate.errors import GatewayError
from babelgate.frontends import embeddings, images
from babelgate.frontends.anthropic_messages.translate import chat_request
from babelgate.frontends.anthropic_messages.translate import decode_request as decode_messages
from babelgate.frontends.anthropic_messages.translate_content import Shaping
from babelgate.frontends.audio.translate import decode_speech
from babelgate.frontends.ollama import validate as ollama
from babelgate.frontends.openai_completions.validate import validate_completion_body
from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.frontends.responses.validate import validate_create_body
from babelgate.governance.virtual_keys import checked_fields
from babelgate.pipeline import parse_json_object
from babelgate.providers.anthropic.profiles import ModelProfile as AnthropicProfile
from babelgate.providers.anthropic.translate import to_wire as anthropic_wire
from babelgate.providers.gemini.profiles import ModelProfile as GeminiProfile
from babelgate.providers.gemini.translate import to_wire as gemini_wire
from babelgate.providers.mistral.translate import to_wire as mistral_wire
from babelgate.providers.openai.translate import request_from_wire
from babelgate.providers.openai.translate import to_wire as chat_wire
from babelgate.streaming import SSEDecoder, SSEEvent

JSON = dict[str, Any]
SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# Names the validators read, so the generated bodies reach their checks rather than stop at the first.
FIELDS = (
    "model",
    "messages",
    "prompt",
    "input",
    "stream",
    "temperature",
    "top_p",
    "n",
    "max_tokens",
    "tools",
    "tool_choice",
    "response_format",
    "stop",
    "seed",
    "stream_options",
    "metadata",
    "options",
    "format",
    "think",
    "images",
    "system",
    "thinking",
    "encoding_format",
    "dimensions",
    "voice",
    "speed",
    "text",
    "reasoning",
    "include",
    "label",
    "models",
    "rpm",
    "budget_usd",
    "budget_period",
    "expires_at",
)
bodies = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), json_values, max_size=8)

# Chat bodies shaped like real ones (so they pass validation and reach the translators), with
# random values where clients are free to put anything.
text = st.text(max_size=30)
parts = st.lists(
    st.one_of(
        st.builds(lambda t: {"type": "text", "text": t}, text),
        st.builds(
            lambda u: {"type": "image_url", "image_url": {"url": u}},
            st.sampled_from(["https://example.com/a.png", "data:image/png;base64,iVBORw0KGgo="]),
        ),
    ),
    min_size=1,
    max_size=3,
)
tool_call = st.builds(
    lambda i, n, a: {"id": i, "type": "function", "function": {"name": n, "arguments": a}},
    st.from_regex(r"call_[a-z0-9]{1,8}", fullmatch=True),
    st.from_regex(r"[a-z_]{1,10}", fullmatch=True),
    st.sampled_from(["{}", '{"a": 1}', "not json", ""]),
)
messages = st.lists(
    st.one_of(
        st.builds(lambda c: {"role": "user", "content": c}, text | parts),
        st.builds(lambda c: {"role": "system", "content": c}, text),
        st.builds(
            lambda c, calls: {"role": "assistant", "content": c, **({"tool_calls": calls} if calls else {})},
            st.none() | text,
            st.lists(tool_call, max_size=2),
        ),
        st.builds(
            lambda i, c: {"role": "tool", "tool_call_id": i, "content": c},
            st.from_regex(r"call_[a-z0-9]{1,8}", fullmatch=True),
            text,
        ),
    ),
    min_size=1,
    max_size=6,
)
tools = st.lists(
    st.builds(
        lambda n, p: {"type": "function", "function": {"name": n, "parameters": p}},
        st.from_regex(r"[a-z_]{1,10}", fullmatch=True),
        st.just({"type": "object", "properties": {"x": {"type": "string"}}}) | st.just({}),
    ),
    max_size=2,
)
chat_bodies = st.fixed_dictionaries(
    {"model": st.just("m"), "messages": messages},
    optional={
        "temperature": st.floats(0, 2),
        "top_p": st.floats(0, 1),
        "max_tokens": st.integers(1, 10_000),
        "stream": st.booleans(),
        "tools": tools,
        "tool_choice": st.sampled_from(["auto", "none", "required"]),
        "stop": text | st.lists(text, max_size=3),
        "seed": st.integers(0, 2**31),
        "response_format": st.sampled_from([{"type": "text"}, {"type": "json_object"}]),
        "n": st.integers(1, 3),
        "reasoning_effort": st.sampled_from(["low", "medium", "high"]),
        "user": text,
        "frequency_penalty": st.floats(-2, 2),
        "logprobs": st.booleans(),
        "extra_field": json_values,
    },
)


def only_gateway_errors(check: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return check(*args, **kwargs)
    except GatewayError:
        return None


@SETTINGS
@given(bodies)
def test_validators_and_decoders_raise_only_gateway_errors(body: JSON) -> None:
    for check in (
        validate_chat_body,
        validate_completion_body,
        validate_create_body,
        ollama.validate_chat,
        ollama.validate_generate,
        ollama.validate_show,
        embeddings.decode_request,
        images.decode_request,
        decode_speech,
    ):
        only_gateway_errors(check, copy.deepcopy(body))
    only_gateway_errors(ollama.validate_embed, copy.deepcopy(body), legacy=False)
    only_gateway_errors(checked_fields, copy.deepcopy(body), creating=True)
    only_gateway_errors(chat_request, copy.deepcopy(body), Shaping([]))
    request = only_gateway_errors(decode_messages, copy.deepcopy(body), adjusted=[])
    if request is not None:
        # What the Messages frontend accepts, the chat road would have accepted too (it decodes straight to
        # the canonical request, without the chat validation behind it).
        chat = chat_wire(request, request.model)
        validate_chat_body(chat)
        assert request_from_wire(chat) == request


@SETTINGS
@given(st.binary(max_size=200))
def test_any_bytes_as_a_body_are_a_clear_400_or_an_object(raw: bytes) -> None:
    assert isinstance(only_gateway_errors(parse_json_object, raw) or {}, dict)


@SETTINGS
@given(chat_bodies)
def test_every_provider_translates_a_valid_chat_or_refuses_it_clearly(body: JSON) -> None:
    validate_chat_body(body)
    request = request_from_wire(body)
    before = copy.deepcopy(request)
    for profile in (AnthropicProfile(), AnthropicProfile(thinking="adaptive")):
        wire = only_gateway_errors(anthropic_wire, request, "claude", profile, [])
        if wire is not None:
            orjson.dumps(wire.body)
    for gemini in (GeminiProfile(thinking="level", signatures_required=True), GeminiProfile(thinking="budget")):
        wire = only_gateway_errors(gemini_wire, request, gemini, [], inline={})
        if wire is not None:
            orjson.dumps(wire)
    wire = only_gateway_errors(mistral_wire, request, "mistral-large", [])
    if wire is not None:
        orjson.dumps(wire)
    assert request == before  # translating never changes the canonical request


events = st.lists(
    st.builds(
        SSEEvent,
        data=st.text(st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]), max_size=40),
        event=st.none() | st.from_regex(r"[a-z_.]{1,12}", fullmatch=True),
    ),
    max_size=8,
)


def encoded(event: SSEEvent, newline: bytes) -> bytes:
    head = b"event: " + event.event.encode() + newline if event.event is not None else b""
    return head + b"data: " + event.data.encode() + newline + newline


@SETTINGS
@given(events, st.sampled_from([b"\n", b"\r\n", b"\r"]), st.lists(st.integers(0, 400), max_size=10))
def test_the_sse_decoder_reads_the_same_events_however_the_bytes_are_split(
    sent: list[SSEEvent], newline: bytes, cuts: list[int]
) -> None:
    stream = b"".join(encoded(event, newline) for event in sent)
    decoder = SSEDecoder()
    read: list[SSEEvent] = []
    start = 0
    for cut in sorted(min(cut, len(stream)) for cut in cuts):
        read += decoder.feed(stream[start:cut])
        start = cut
    read += decoder.feed(stream[start:])
    read += decoder.close()
    assert read == sent


@SETTINGS
@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=8))
def test_the_sse_decoder_takes_any_bytes_split_anywhere(stream: bytes, cuts: list[int]) -> None:
    whole = SSEDecoder()
    expected = whole.feed(stream) + whole.close()
    decoder = SSEDecoder()
    read: list[SSEEvent] = []
    start = 0
    for cut in sorted(min(cut, len(stream)) for cut in cuts):
        read += decoder.feed(stream[start:cut])
        start = cut
    read += decoder.feed(stream[start:]) + decoder.close()
    assert read == expected
