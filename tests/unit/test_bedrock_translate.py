"""Bedrock's pure parts: the Converse translator, the ConverseStream translator, the error table, the
event-stream decoder and the credential source's refresh schedule (no network: botocore's lookups are
replaced by plain functions)."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import orjson
import pytest

from babelgate.errors import (
    InvalidRequest,
    UnsupportedCapability,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamUnavailable,
)
from babelgate.eventstream import EventStreamDecoder
from babelgate.providers.bedrock import wire
from babelgate.providers.bedrock.credentials import CredentialSource
from babelgate.providers.bedrock.errors import error_from_frame, map_error
from babelgate.providers.bedrock.stream import ConverseStreamTranslator
from babelgate.providers.bedrock.translate import from_wire, to_wire
from babelgate.providers.bedrock.translate_blocks import document_name
from babelgate.schema.chat import (
    ChatRequest,
    ImagePart,
    Message,
    NamedToolChoice,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
)
from tests.fakes.bedrock_service import corrupt, event_frame, exception_frame, shape_violations

NOVA = "us.amazon.nova-pro-v1:0"
CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
TOOL = Tool(name="get_weather", parameters={"type": "object", "properties": {"city": {"type": "string"}}})


def _request(**fields: Any) -> ChatRequest:
    return ChatRequest(model=NOVA, messages=fields.pop("messages", [Message(role="user", content="Hi")]), **fields)


def _converse(request: ChatRequest, model: str = NOVA, **options: Any) -> tuple[dict[str, Any], list[str]]:
    adjusted: list[str] = []
    body = to_wire(request, model, adjusted, **options).body
    assert shape_violations(body, "ConverseRequest") == [], "botocore's service model refuses the body"
    return body, adjusted


def test_model_ids_go_into_the_path_as_one_segment() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
    assert wire.model_path(arn, "converse") == (
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabc/converse"
    )
    assert wire.is_claude(CLAUDE) and wire.is_claude("anthropic.claude-3-haiku-20240307-v1:0")
    assert not wire.is_claude(NOVA)
    assert wire.claude_name(CLAUDE) == "claude-sonnet-4-5-20250929-v1:0"


def test_tool_history_keeps_tools_when_tool_choice_is_none() -> None:
    messages = [
        Message(role="user", content="Hi"),
        Message(role="assistant", tool_calls=[ToolCall(id="t1", name="get_weather", arguments='{"city":"Oslo"}')]),
        Message(role="tool", tool_call_id="t1", content="cold"),
    ]
    body, adjusted = _converse(_request(messages=messages, tools=[TOOL], tool_choice="none"))
    assert "toolChoice" not in body["toolConfig"] and "tool_choice=dropped" in adjusted
    body, adjusted = _converse(_request(tools=[TOOL], tool_choice="none"))
    assert "toolConfig" not in body and adjusted == []


def test_named_tool_choice_and_parallel_switch() -> None:
    body, adjusted = _converse(
        _request(tools=[TOOL], tool_choice=NamedToolChoice(name="get_weather"), parallel_tool_calls=False)
    )
    assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "get_weather"}}
    assert adjusted == ["parallel_tool_calls=dropped"]


def test_structured_output_as_a_forced_tool() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    request = _request(response_format=ResponseFormat(type="json_schema", name="x", schema=schema))
    body, adjusted = _converse(request, structured_output="tool")
    assert body["toolConfig"]["toolChoice"] == {"tool": {"name": wire.JSON_TOOL_NAME}}
    assert adjusted == ["response_format=tool-forced"]
    answer = {
        "output": {
            "message": {"content": [{"toolUse": {"toolUseId": "j", "name": wire.JSON_TOOL_NAME, "input": {"a": 1}}}]}
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
    }
    response = from_wire(answer, model=NOVA, created=0, json_tool=wire.JSON_TOOL_NAME)
    assert response.choices[0].message.content == '{"a":1}' and response.choices[0].finish_reason == "stop"


def test_reasoning_effort_on_claude_through_converse_is_thinking() -> None:
    body, adjusted = _converse(_request(reasoning_effort="low", temperature=0.5, max_tokens=4000), model=CLAUDE)
    assert body["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    assert "temperature" not in body["inferenceConfig"] and adjusted == ["temperature=dropped"]
    _, adjusted = _converse(_request(reasoning_effort="low"))
    assert adjusted == ["reasoning_effort=dropped"]


def test_signed_reasoning_round_trips_as_reasoning_content() -> None:
    answer = {
        "output": {
            "message": {
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "Think.", "signature": "c2ln"}}},
                    {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {}}},
                ]
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
    }
    message = from_wire(answer, model=CLAUDE, created=0, json_tool=None).choices[0].message
    assert message.reasoning_content == "Think."
    back = Message(role="assistant", tool_calls=message.tool_calls, extra=dict(message.extra))
    body, _ = _converse(
        _request(
            messages=[Message(role="user", content="Hi"), back, Message(role="tool", tool_call_id="t1", content="x")],
            tools=[TOOL],
        ),
        model=CLAUDE,
    )
    assert body["messages"][1]["content"][0] == {
        "reasoningContent": {"reasoningText": {"text": "Think.", "signature": "c2ln"}}
    }


def test_media_rules() -> None:
    with pytest.raises(UnsupportedCapability):
        _converse(_request(messages=[Message(role="user", content=[ImagePart(url="https://example.com/cat.png")])]))
    with pytest.raises(InvalidRequest):
        _converse(_request(messages=[Message(role="user", content=[ImagePart(url="data:image/bmp;base64,Qk0=")])]))
    cached = TextPart(text="long context", extra={"cache_control": {"type": "ephemeral"}})
    body, _ = _converse(_request(messages=[Message(role="user", content=[cached])]))
    assert body["messages"][0]["content"] == [{"text": "long context"}, {"cachePoint": {"type": "default"}}]
    assert document_name("Q3 report (final)!.pdf") == "Q3 report (final)"
    assert document_name(None) == "document"


def test_refusals_and_context_window_errors_are_what_the_fallbacks_key_on() -> None:
    answer = {"output": {"message": {"content": []}}, "stopReason": "content_filtered", "usage": {}}
    assert from_wire(answer, model=NOVA, created=0, json_tool=None).choices[0].finish_reason == "content_filter"
    headers: Any = {"x-amzn-errortype": "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    error = map_error(400, b'{"message":"Input is too long for requested model."}', headers, provider="aws", scrub=str)
    assert isinstance(error, UpstreamRejected) and error.code == "context_length_exceeded"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("throttlingException", UpstreamRateLimited),
        ("serviceUnavailableException", UpstreamUnavailable),
        ("modelStreamErrorException", UpstreamError),
        ("internalServerException", UpstreamError),
        ("validationException", UpstreamRejected),
    ],
)
def test_exception_frames_by_name(name: str, kind: type[Exception]) -> None:
    error = error_from_frame(name, b'{"message": "boom"}', provider="aws", scrub=str)
    assert type(error) is kind


def test_http_errors_by_name() -> None:
    def mapped(name: str, status: int) -> Any:
        return map_error(status, b'{"message":"m"}', {"x-amzn-errortype": name}, provider="aws", scrub=str)  # type: ignore[arg-type]

    assert isinstance(mapped("ThrottlingException", 429), UpstreamRateLimited)
    assert isinstance(mapped("ExpiredTokenException", 403), UpstreamAuthFailed)
    assert isinstance(mapped("ModelNotReadyException", 429), UpstreamUnavailable)
    assert mapped("ResourceNotFoundException", 404).status == 404


def test_stream_translator_numbers_tool_calls_and_signs_reasoning() -> None:
    translator = ConverseStreamTranslator("aws", message_id="m", model=CLAUDE, created=0, json_tool=None)
    events = [
        ("messageStart", {"role": "assistant"}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Hm."}}}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "c2ln"}}}),
        ("contentBlockStop", {"contentBlockIndex": 0}),
        ("contentBlockStart", {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t", "name": "f"}}}),
        ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{}"}}}),
        ("contentBlockStop", {"contentBlockIndex": 1}),
        ("messageStop", {"stopReason": "tool_use"}),
        ("metadata", {"usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 7, "cacheReadInputTokens": 2}}),
    ]
    chunks = [chunk for name, payload in events for chunk in translator.feed(name, payload)]
    details = [c.choices[0].delta.extra["reasoning_details"] for c in chunks if c.choices and c.choices[0].delta.extra]
    assert details == [
        [{"type": "reasoning.text", "text": "Hm.", "signature": "c2ln", "format": "anthropic-claude-v1"}]
    ]
    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or ()]
    assert [(call.index, call.id, call.arguments) for call in calls] == [(0, "t", ""), (0, None, "{}")]
    assert translator.done and translator.finish_reason == "tool_calls"
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 5
    with pytest.raises(UpstreamProtocolError):
        translator.feed("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"text": 5}})


def test_the_decoder_checks_crcs_and_knows_a_half_frame() -> None:
    decoder = EventStreamDecoder("aws")
    good = event_frame("messageStart", {"role": "assistant"})
    messages = decoder.feed(good[:10])
    assert messages == [] and decoder.pending
    (message,) = decoder.feed(good[10:])
    assert (message.kind, message.name, orjson.loads(message.payload)) == (
        "event",
        "messageStart",
        {"role": "assistant"},
    )
    assert not decoder.pending
    (thrown,) = decoder.feed(exception_frame("throttlingException", "slow"))
    assert (thrown.kind, thrown.name) == ("exception", "throttlingException")
    with pytest.raises(UpstreamProtocolError) as caught:
        decoder.feed(corrupt(good))
    assert "CRC" in caught.value.params["detail"]


@pytest.mark.parametrize("change", [+1000, +1, -1, -7])
def test_a_frame_whose_length_was_changed_is_refused_at_once(change: int) -> None:
    """A whole frame is checked by its own CRC alone (it covers the prelude); a frame still to come by its
    prelude's, before the decoder waits: a changed length fails at once, never waits for bytes that do not come."""
    good = event_frame("messageStart", {"role": "assistant"})
    changed = (len(good) + change).to_bytes(4, "big") + good[4:]
    decoder = EventStreamDecoder("aws")
    with pytest.raises(UpstreamProtocolError) as caught:
        decoder.feed(changed)
    assert "CRC" in caught.value.params["detail"]


def test_credentials_refresh_ahead_of_expiry_without_blocking() -> None:
    class Temporary:
        """What botocore's RefreshableCredentials offers the source: frozen credentials and an expiry."""

        def __init__(self) -> None:
            self.round = 0
            self._expiry_time = datetime.datetime.now(datetime.UTC)

        def get_frozen_credentials(self) -> Any:
            self.round += 1
            self._expiry_time = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=0.4)
            return type("Frozen", (), {"access_key": f"AK{self.round}", "secret_key": "s", "token": "t"})()

    found = Temporary()

    async def scenario() -> list[str | None]:
        source = CredentialSource("aws", lambda: found, wait=1.0)
        seen: list[str | None] = [(await source.get()).access_key]
        await asyncio.sleep(0.25)  # past half the lifetime, before the expiry
        due = source.current()  # the old ones still, at once; a refresh starts in the background
        seen.append(due.access_key if due is not None else None)
        assert source._refresh is not None
        await source._refresh
        fresh = source.current()
        seen.append(fresh.access_key if fresh is not None else None)
        await asyncio.sleep(0.45)  # every key has expired now: a request waits for a refresh
        seen.append((await source.get()).access_key)
        await source.close()
        return seen

    assert asyncio.run(scenario()) == ["AK1", "AK1", "AK2", "AK3"]


def test_no_credentials_is_a_clear_error() -> None:
    async def scenario() -> None:
        await CredentialSource("aws", lambda: None, wait=1.0).get()

    with pytest.raises(UpstreamError) as caught:
        asyncio.run(scenario())
    assert caught.value.code == "upstream_credentials_error"
    assert "aws_access_key_id" in caught.value.params["cause"]


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEFAKE//token+with/slashes=="])
@pytest.mark.parametrize(
    "url",
    [
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke",
        "http://127.0.0.1:8123/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fab/converse",
        "https://vpce-0abc.bedrock-runtime.eu-west-1.vpce.amazonaws.com:443/model/amazon.nova-pro-v1%3A0/converse-stream",
    ],
)
def test_the_signature_is_botocores(url: str, token: str | None) -> None:
    """The lean canonical request signs exactly as botocore's SigV4Auth does for the whole request."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import ReadOnlyCredentials

    from babelgate.providers.bedrock.credentials import Frozen
    from babelgate.providers.bedrock.signing import SigV4Authorizer

    frozen = Frozen("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token, None, None, None)
    body = orjson.dumps({"messages": [{"role": "user", "content": [{"text": "Grüße  "}]}]})
    signer = SigV4Authorizer(CredentialSource("aws", lambda: None, wait=1.0), "us-east-1")
    lines = signer.sign(frozen, "POST", url, body, now=1_700_000_000)
    assert lines.endswith("\r\n")
    ours = dict(line.split(": ", 1) for line in lines.split("\r\n") if line)
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    reference = SigV4Auth(ReadOnlyCredentials("AKIDEXAMPLE", frozen.secret_key, token), "bedrock", "us-east-1")
    import datetime
    from unittest import mock

    moment = datetime.datetime.fromtimestamp(1_700_000_000, datetime.UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=moment):
        reference.add_auth(request)
    assert ours["authorization"] == request.headers["Authorization"]
    assert ours["x-amz-date"] == request.headers["X-Amz-Date"]
    assert ours.get("x-amz-security-token") == request.headers.get("X-Amz-Security-Token")


def _botocore_lines(frozen: Any, url: str, body: bytes, now: int) -> dict[str, str]:
    """botocore's SigV4Auth's headers for a Bedrock POST at `now`."""
    import datetime
    from unittest import mock

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import ReadOnlyCredentials

    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    credentials = ReadOnlyCredentials(frozen.access_key, frozen.secret_key, frozen.token)
    reference = SigV4Auth(credentials, "bedrock", "eu-west-1")
    moment = datetime.datetime.fromtimestamp(now, datetime.UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=moment):
        reference.add_auth(request)
    found = {"authorization": request.headers["Authorization"], "x-amz-date": request.headers["X-Amz-Date"]}
    if frozen.token:
        found["x-amz-security-token"] = request.headers["X-Amz-Security-Token"]
    return found


def test_what_a_second_shares_is_signed_again_when_the_second_the_day_the_url_or_the_credentials_change() -> None:
    """The signer keeps, per URL, what a second's requests share (the canonical request's and the string to sign's
    fronts, the day's key): each request of a run that crosses seconds and midnight, alternates URLs and rotates
    its credentials signs as botocore signs it alone."""
    from babelgate.providers.bedrock.credentials import Frozen
    from babelgate.providers.bedrock.signing import SigV4Authorizer

    signer = SigV4Authorizer(CredentialSource("aws", lambda: None, wait=1.0), "eu-west-1")
    first = Frozen("AKIDFIRST", "first/secret", None, None, None, None)
    rotated = Frozen("ASIAROTATED", "rotated/secret", "session token", None, None, None)
    urls = [
        "https://bedrock-runtime.eu-west-1.amazonaws.com/model/eu.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke",
        "https://bedrock-runtime.eu-west-1.amazonaws.com/model/amazon.nova-pro-v1%3A0/converse",
    ]
    midnight = 1_700_006_400  # 2023-11-15T00:00:00Z
    moments = [midnight - 2, midnight - 2, midnight - 1, midnight, midnight, midnight + 1]
    for step, now in enumerate(moments):
        frozen = first if step < 4 else rotated
        for url in urls:
            body = orjson.dumps({"step": step, "url": url})
            lines = signer.sign(frozen, "POST", url, body, now=now)
            ours = dict(line.split(": ", 1) for line in lines.split("\r\n") if line)
            assert ours == _botocore_lines(frozen, url, body, now), (step, url)


def test_bedrock_model_ids_are_priced_by_their_own_patterns() -> None:
    """Every inference-profile prefix and an ARN's tail match the declaration's `*anthropic.…` patterns,
    which never price a direct provider's `claude-…` name."""
    from babelgate.model_facts import Price, facts_table
    from babelgate.providers import MODEL_FACTS

    table = facts_table(MODEL_FACTS)
    sonnet = Price(3.0, 15.0, 0.30, 3.75)
    for model in (
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
    ):
        assert table.price(model) == sonnet, model
    assert table.price("us.anthropic.claude-opus-4-5-20251101-v1:0") == Price(5.0, 25.0, 0.50, 6.25)
    assert table.price("us.amazon.nova-pro-v1:0") == Price(0.80, 3.20, 0.20)
    assert table.price("amazon.titan-embed-text-v2:0") == Price(0.02, 0.0)
    assert table.price("claude-sonnet-4-5") == sonnet  # the Anthropic declaration's own pattern, unchanged


def test_the_decoder_reads_what_botocore_reads() -> None:
    """The gateway's event-stream decoder and botocore's give the same messages, whatever the cuts."""
    from botocore.eventstream import EventStreamBuffer

    from tests.fakes.bedrock_service import chunk_frame, frame

    frames = [
        event_frame("messageStart", {"role": "assistant"}),
        chunk_frame({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Grüße"}}),
        exception_frame("modelStreamErrorException", "boom"),
        frame({":message-type": "error", ":error-code": "InternalFailure", ":error-message": "x"}, b""),
    ]
    body = b"".join(frames)
    reference = EventStreamBuffer()
    reference.add_data(body)
    expected = []
    for message in reference:
        headers = message.headers
        kind = headers[":message-type"]
        name = headers[{"event": ":event-type", "exception": ":exception-type", "error": ":error-code"}[kind]]
        expected.append((kind, name, message.payload))
    for cut in (1, 7, 13, 64, len(body)):
        decoder = EventStreamDecoder("aws")
        got = [
            (m.kind, m.name, m.payload)
            for start in range(0, len(body), cut)
            for m in decoder.feed(body[start : start + cut])
        ]
        assert got == expected and not decoder.pending


@pytest.mark.parametrize("size", [0, 1, 32, 63, 64, 65, 200])
def test_the_signing_hmac_is_the_standard_librarys(size: int) -> None:
    """The signature's HMAC with its pads hashed once (`_Keyed`) equals `hmac.digest`, for keys shorter than,
    as long as and longer than SHA-256's block (a day's SigV4 key is 32 bytes)."""
    import hmac
    import os

    from babelgate.providers.bedrock.signing import _Keyed

    key = os.urandom(size)
    keyed = _Keyed(key)
    for message in (b"", b"AWS4-HMAC-SHA256\n20231114T221320Z\n", os.urandom(300)):
        assert keyed.hexdigest(message) == hmac.digest(key, message, "sha256").hex()


def test_credentials_that_would_break_a_header_line_are_refused() -> None:
    """The signature's header lines are written by the signer, not checked again by the HTTP client: credentials
    holding a line break are refused when they come, as the client refuses any header value that holds one."""
    from babelgate.errors import InvalidRequest
    from babelgate.providers.bedrock.credentials import Frozen
    from babelgate.providers.bedrock.signing import SigV4Authorizer

    signer = SigV4Authorizer(CredentialSource("aws", lambda: None, wait=1.0), "us-east-1")
    url = "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse"
    for frozen in (
        Frozen("AKID\r\nx-injected: 1", "secret", None, None, None, None),
        Frozen("AKIDEXAMPLE", "secret", "token\nx-injected: 1", None, None, None),
    ):
        with pytest.raises(InvalidRequest):
            signer.sign(frozen, "POST", url, b"{}", now=1_700_000_000)
    lines = signer.sign(Frozen("AKIDEXAMPLE", "secret", "token", None, None, None), "POST", url, b"{}", now=1.7e9)
    assert [line.split(": ")[0] for line in lines.split("\r\n") if line] == [
        "x-amz-date",
        "authorization",
        "x-amz-security-token",
    ]
