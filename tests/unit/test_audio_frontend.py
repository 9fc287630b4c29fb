"""The audio frontend: multipart forms and speech bodies → canonical requests, canonical transcripts → OpenAI's
answer formats, and an oversized upload refused while it is read."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from babelgate.errors import GatewayError, InvalidRequest, RequestTooLarge
from babelgate.exchange import Exchange
from babelgate.frontends.audio.door import create_transcription
from babelgate.frontends.audio.translate import (
    decode_speech,
    decode_transcription,
    encode_transcription,
    read_form,
    speech_content_type,
)
from babelgate.frontends.multipart import Part
from babelgate.frontends.openai_errors import encode_error
from babelgate.observability.request_id import RequestIds
from babelgate.schema.audio import TranscriptionRequest, TranscriptionResponse
from babelgate.schema.chat import Usage

FILE = Part("file", b"RIFF....WAVE", filename="a.wav", content_type="audio/wav")


def _form(*fields: tuple[str, str]) -> tuple[Part, dict[str, Any]]:
    return read_form([FILE, *(Part(name, value.encode()) for name, value in fields)])


def _param(error: pytest.ExceptionInfo[GatewayError]) -> str | None:
    return error.value.param


# -- forms ---------------------------------------------------------------------------------------------


def test_array_fields_become_lists_and_other_fields_stay_text() -> None:
    file, form = _form(
        ("model", "whisper-1"),
        ("timestamp_granularities[]", "word"),
        ("timestamp_granularities[]", "segment"),
        ("chunking_strategy[type]", "server_vad"),
    )
    assert file is FILE
    assert form == {
        "model": "whisper-1",
        "timestamp_granularities": ["word", "segment"],
        "chunking_strategy[type]": "server_vad",
    }


@pytest.mark.parametrize(
    ("parts", "param"),
    [
        ([Part("model", b"whisper-1")], "file"),
        ([FILE, FILE], "file"),
        ([Part("file", b"not a file")], "file"),
        ([FILE, Part("model", b"a"), Part("model", b"b")], "model"),
        ([FILE, Part("include", b"a"), Part("include[]", b"b")], "include"),
        ([FILE, Part("prompt", b"x", filename="p.txt")], "prompt"),
    ],
)
def test_malformed_forms_name_the_field(parts: list[Part], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        read_form(parts)
    assert _param(caught) == param


def test_decode_transcription_reads_what_the_gateway_uses_and_keeps_the_rest() -> None:
    file, form = _form(
        ("model", "whisper-1"),
        ("language", "de"),
        ("prompt", "Ada"),
        ("temperature", "0.25"),
        ("response_format", "verbose_json"),
        ("timestamp_granularities[]", "segment"),
        ("include[]", "logprobs"),
        ("stream", "false"),
    )
    request = decode_transcription(file, form, translate=False)
    assert request == TranscriptionRequest(
        model="whisper-1",
        audio=FILE.data,
        filename="a.wav",
        content_type="audio/wav",
        language="de",
        prompt="Ada",
        response_format="verbose_json",
        temperature=0.25,
        timestamp_granularities=["segment"],
        extra={"include": ["logprobs"]},
    )  # `stream: false` changes nothing: not passed on


def test_defaults_from_the_model_config_may_be_numbers() -> None:
    file, form = _form(("model", "whisper-1"))
    form["temperature"] = 0  # a model's configured default, not form text
    assert decode_transcription(file, form, translate=True).temperature == 0.0


@pytest.mark.parametrize(
    ("fields", "translate", "param", "key"),
    [
        ((("response_format", "mp3"),), False, "response_format", "invalid_value"),
        ((("response_format", "diarized_json"),), True, "response_format", "invalid_value"),
        ((("temperature", "warm"),), False, "temperature", "wrong_type"),
        ((("timestamp_granularities[]", "sentence"),), False, "timestamp_granularities", "invalid_value"),
        ((("stream", "true"),), False, "stream", "audio_stream_unsupported"),
        ((("stream", "yes"),), False, "stream", "wrong_type"),
    ],
)
def test_bad_transcription_values_name_the_field(
    fields: tuple[tuple[str, str], ...], translate: bool, param: str, key: str
) -> None:
    file, form = _form(("model", "whisper-1"), *fields)
    with pytest.raises(InvalidRequest) as caught:
        decode_transcription(file, form, translate=translate)
    assert (_param(caught), caught.value.message_key) == (param, key)


def test_decode_speech_keeps_custom_voices_and_unknown_fields() -> None:
    request = decode_speech(
        {"model": "tts-1", "input": "Hi", "voice": {"id": "voice_1"}, "speed": 1.25, "stream_format": "sse", "seed": 3}
    )
    assert (request.voice, request.response_format, request.speed) == ("voice_1", "mp3", 1.25)
    assert request.extra == {"stream_format": "sse", "seed": 3, "voice": {"id": "voice_1"}}
    assert speech_content_type(request) == b"text/event-stream; charset=utf-8"
    assert (
        speech_content_type(decode_speech({"model": "m", "input": "", "voice": "v", "response_format": "opus"}))
        == b"audio/opus"
    )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"voice": "alloy"}, "input"),
        ({"input": 3, "voice": "alloy"}, "input"),
        ({"input": "Hi"}, "voice"),
        ({"input": "Hi", "voice": {"name": "x"}}, "voice"),
        ({"input": "Hi", "voice": "alloy", "response_format": "ogg"}, "response_format"),
        ({"input": "Hi", "voice": "alloy", "speed": 0.1}, "speed"),
        ({"input": "Hi", "voice": "alloy", "speed": "fast"}, "speed"),
        ({"input": "Hi", "voice": "alloy", "instructions": ["loud"]}, "instructions"),
        ({"input": "Hi", "voice": "alloy", "stream_format": "chunks"}, "stream_format"),
    ],
)
def test_bad_speech_bodies_name_the_parameter(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_speech({"model": "tts-1", **body})
    assert _param(caught) == param


# -- answers --------------------------------------------------------------------------------------------


def _request(response_format: str, *, translate: bool = False) -> TranscriptionRequest:
    return TranscriptionRequest(model="m", audio=b"", response_format=response_format, translate=translate)


def test_upstream_bytes_are_relayed_with_their_content_type() -> None:
    answer = TranscriptionResponse(raw=b"WEBVTT\n", raw_content_type="text/vtt; charset=utf-8")
    assert encode_transcription(answer, _request("vtt")) == (b"WEBVTT\n", b"text/vtt; charset=utf-8")
    assert encode_transcription(TranscriptionResponse(raw=b"1\n"), _request("srt")) == (
        b"1\n",
        b"text/plain; charset=utf-8",
    )


def test_json_carries_token_usage_with_audio_details() -> None:
    usage = Usage(40, 5, 45, extra={"audio_tokens": 32, "text_tokens": 8})
    body, kind = encode_transcription(TranscriptionResponse(text="Hallo", usage=usage), _request("json"))
    assert kind == b"application/json"
    assert orjson.loads(body) == {
        "text": "Hallo",
        "usage": {
            "type": "tokens",
            "input_tokens": 40,
            "input_token_details": {"text_tokens": 8, "audio_tokens": 32},
            "output_tokens": 5,
            "total_tokens": 45,
        },
    }
    assert encode_transcription(TranscriptionResponse(text="Hallo"), _request("text")) == (
        b"Hallo",
        b"text/plain; charset=utf-8",
    )


def test_verbose_json_golden() -> None:
    segments = [{"id": 0, "start": 0.0, "end": 1.0, "text": "Hello."}]
    answer = TranscriptionResponse(text="Hello.", language="german", duration=1.0, segments=segments)
    body, _ = encode_transcription(answer, _request("verbose_json", translate=True))
    assert orjson.loads(body) == {
        "task": "translate",
        "language": "german",
        "duration": 1.0,
        "text": "Hello.",
        "segments": segments,
    }


def test_a_format_no_provider_produced_is_our_bug_not_a_silent_answer() -> None:
    with pytest.raises(GatewayError) as caught:
        encode_transcription(TranscriptionResponse(text="x"), _request("srt"))
    assert caught.value.status == 500


# -- the body limit ---------------------------------------------------------------------------------------


async def test_an_oversized_chunked_upload_is_refused_without_reading_it_whole() -> None:
    """No Content-Length: the body is read chunk by chunk, and refused the moment it passes the limit."""
    taken = 0

    async def receive() -> dict[str, Any]:
        nonlocal taken
        taken += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}  # endless

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("nothing is sent before the refusal is rendered")

    scope = {"type": "http", "headers": [(b"content-type", b"multipart/form-data; boundary=b")]}
    exchange = Exchange(scope, receive, send, RequestIds(), errors=encode_error)
    runtime = SimpleNamespace(max_body_bytes=4096)
    with pytest.raises(RequestTooLarge):
        await create_transcription(runtime, exchange)  # type: ignore[arg-type]
    assert taken == 5  # 5 KiB read of an endless body, then refused
