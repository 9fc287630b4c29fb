"""OpenAI's audio relays, pure parts: the re-sent form (fields, arrays, objects, the file), the answers kept
as bytes and read for usage, and the speech body."""

from __future__ import annotations

import pytest

from babelgate.errors import UpstreamProtocolError
from babelgate.frontends.multipart import fields, parse_form
from babelgate.providers.openai.audio import (
    form_values,
    speech_to_wire,
    transcription_fields,
    transcription_form,
    transcription_from_wire,
    usage_from_wire,
)
from babelgate.schema.audio import SpeechRequest, TranscriptionRequest
from babelgate.schema.chat import Usage

REQUEST = TranscriptionRequest(
    model="public-name",
    audio=b"RIFF\x00\xff",
    filename="spé ech.wav",
    content_type="audio/wav",
    language="de",
    prompt="Ada",
    response_format="verbose_json",
    temperature=0.2,
    timestamp_granularities=["word", "segment"],
    extra={"include": ["logprobs"], "chunking_strategy": {"type": "server_vad", "threshold": 0.5}, "flag": True},
)


def test_fields_follow_the_spec_then_the_clients_extras() -> None:
    assert transcription_fields(REQUEST, "whisper-1") == [
        ("model", "whisper-1"),
        ("language", "de"),
        ("prompt", "Ada"),
        ("response_format", "verbose_json"),
        ("temperature", "0.2"),
        ("timestamp_granularities[]", "word"),
        ("timestamp_granularities[]", "segment"),
        ("include[]", "logprobs"),
        ("chunking_strategy[type]", "server_vad"),
        ("chunking_strategy[threshold]", "0.5"),
        ("flag", "true"),
    ]


def test_form_values_flatten_like_the_sdk() -> None:
    assert form_values("a", None) == []
    assert form_values("a", [{"b": 1}, False]) == [("a[][b]", "1"), ("a[]", "false")]
    assert form_values("a", "text") == [("a", "text")]


async def test_the_rendered_form_carries_the_clients_file_untouched() -> None:
    writer = transcription_form(REQUEST, "whisper-1")()
    parts = fields(parse_form(await writer.as_bytes(), writer.content_type))
    file = parts["file"][0]
    assert (file.data, file.filename, file.content_type) == (b"RIFF\x00\xff", "spé ech.wav", "audio/wav")
    assert [part.text() for part in parts["timestamp_granularities"]] == ["word", "segment"]
    assert parts["model"][0].text() == "whisper-1"


def test_json_answers_are_kept_as_bytes_and_read_for_usage() -> None:
    raw = (
        b'{"text": "Hallo", "usage": {"type": "tokens", "input_tokens": 14, "output_tokens": 6, "total_tokens": 20,'
        b' "input_token_details": {"text_tokens": 10, "audio_tokens": 4}}}'
    )
    answer = transcription_from_wire(raw, "application/json", "json", provider="openai")
    assert (answer.raw, answer.raw_content_type, answer.text) == (raw, "application/json", "Hallo")
    assert answer.usage == Usage(14, 6, 20, extra={"text_tokens": 10, "audio_tokens": 4})
    verbose = transcription_from_wire(
        b'{"text": "x", "language": "german", "duration": 2, "usage": {"type": "duration", "seconds": 2}}',
        None,
        "verbose_json",
        provider="openai",
    )
    assert (verbose.language, verbose.duration, verbose.usage) == ("german", 2.0, None)


def test_text_answers_are_kept_as_they_came() -> None:
    text = transcription_from_wire(b"Hallo\n", "text/plain", "text", provider="openai")
    assert (text.raw, text.text) == (b"Hallo\n", "Hallo\n")
    srt = transcription_from_wire(b"1\n00:00:00,000 --> ", "text/plain", "srt", provider="openai")
    assert (srt.raw, srt.text) == (b"1\n00:00:00,000 --> ", "")


@pytest.mark.parametrize("raw", [b"not json", b"[1]", b'{"usage": {}}'])
def test_a_broken_json_answer_is_a_protocol_error(raw: bytes) -> None:
    with pytest.raises(UpstreamProtocolError):
        transcription_from_wire(raw, "application/json", "json", provider="openai")


def test_usage_without_tokens_counts_none() -> None:
    assert usage_from_wire({"type": "duration", "seconds": 3}) is None
    assert usage_from_wire(None) is None
    assert usage_from_wire({"type": "tokens", "input_tokens": 2, "output_tokens": 1}) == Usage(2, 1, 3)


def test_speech_body_always_names_the_format_and_keeps_custom_voices() -> None:
    request = SpeechRequest(
        model="public",
        input="Hi",
        voice="voice_1",
        speed=1.5,
        instructions="Calm",
        extra={"voice": {"id": "voice_1"}, "stream_format": "sse"},
    )
    assert speech_to_wire(request, "gpt-4o-mini-tts") == {
        "model": "gpt-4o-mini-tts",
        "input": "Hi",
        "voice": {"id": "voice_1"},
        "response_format": "mp3",
        "instructions": "Calm",
        "speed": 1.5,
        "stream_format": "sse",
    }
