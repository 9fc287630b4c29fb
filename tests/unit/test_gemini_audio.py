"""Gemini audio translators, golden: transcription requests and answers (json, text, verbose_json), the
refusals, voice mapping, and Gemini's PCM as WAV or bare pcm."""

from __future__ import annotations

import base64
import io
import struct
import wave

import orjson
import pytest

from babelgate.errors import InvalidRequest, UnsupportedCapability, UpstreamError, UpstreamProtocolError
from babelgate.providers.gemini.audio import (
    TRANSCRIPT_SCHEMA,
    audio_type,
    is_tts_model,
    speech_from_wire,
    speech_to_wire,
    transcription_from_wire,
    transcription_to_wire,
    wav_duration,
)
from babelgate.providers.gemini.voice import OPENAI_VOICES, VOICES, gemini_voice, pcm_audio, wav
from babelgate.schema.audio import SpeechRequest, TranscriptionRequest
from babelgate.schema.chat import Usage

PCM = bytes(range(256)) * 4
WAV_1S = wav(bytes(32_000), 16_000)  # one second at 16 kHz
TTS = "gemini-2.5-flash-preview-tts"


def _transcription(**fields: object) -> TranscriptionRequest:
    return TranscriptionRequest(
        **{
            "model": "m",
            "audio": WAV_1S,
            "filename": "a.wav",  # type: ignore[arg-type]
            "content_type": "audio/wav",
            **fields,
        }
    )


def _answer(text: str, *, finish: str = "STOP", audio_tokens: int | None = None) -> dict[str, object]:
    usage: dict[str, object] = {"promptTokenCount": 40, "candidatesTokenCount": 5, "totalTokenCount": 45}
    if audio_tokens is not None:
        usage["promptTokensDetails"] = [
            {"modality": "AUDIO", "tokenCount": audio_tokens},
            {"modality": "TEXT", "tokenCount": 40 - audio_tokens},
        ]
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": finish}],
        "usageMetadata": usage,
    }


# -- transcription --------------------------------------------------------------------------------------


def test_transcription_request_golden() -> None:
    adjusted: list[str] = []
    body = transcription_to_wire(
        _transcription(language="de", prompt="Ada", temperature=0.0, extra={"include": ["logprobs"]}),
        "gemini-2.5-flash",
        adjusted,
    )
    assert body == {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"inlineData": {"mimeType": "audio/wav", "data": base64.b64encode(WAV_1S).decode()}},
                    {
                        "text": "Transcribe the speech in this audio verbatim, in the language it is spoken in.\n"
                        "The speech is in the language with the ISO-639-1 code 'de'.\n"
                        "Context to follow for names, spellings and style: Ada\n"
                        "Answer with the transcript only: no introduction, labels, timestamps or comments."
                    },
                ],
            }
        ],
        "generationConfig": {"temperature": 0.0},
    }
    assert adjusted == ["include=dropped"]


def test_verbose_translation_asks_for_json_in_english() -> None:
    body = transcription_to_wire(_transcription(translate=True, response_format="verbose_json"), "gemini-3-flash", [])
    assert body["generationConfig"] == {"responseMimeType": "application/json", "responseJsonSchema": TRANSCRIPT_SCHEMA}
    instruction = body["contents"][0]["parts"][1]["text"]
    assert instruction.startswith("Translate the speech in this audio into English.")
    assert "Answer with the translation as JSON" in instruction


@pytest.mark.parametrize(
    ("fields", "model", "param"),
    [
        ({"response_format": "srt"}, "gemini-2.5-flash", "response_format"),
        ({"response_format": "vtt"}, "gemini-2.5-flash", "response_format"),
        ({"response_format": "diarized_json"}, "gemini-2.5-flash", "response_format"),
        (
            {"response_format": "verbose_json", "timestamp_granularities": ["segment", "word"]},
            "gemini-2.5-flash",
            "timestamp_granularities",
        ),
        ({}, TTS, "model"),
    ],
)
def test_transcription_refusals_name_the_parameter(fields: dict[str, object], model: str, param: str) -> None:
    with pytest.raises(UnsupportedCapability) as caught:
        transcription_to_wire(_transcription(**fields), model, [])
    assert caught.value.param == param and caught.value.status == 400


@pytest.mark.parametrize(
    ("filename", "content_type", "expected"),
    [
        ("a.wav", "audio/wav", "audio/wav"),
        ("a.mp3", "audio/mpeg", "audio/mp3"),
        ("a.MP3", "application/octet-stream", "audio/mp3"),
        ("a.m4a", "application/octet-stream", "audio/mp4"),
        ("a.flac", "audio/x-flac", "audio/flac"),
        ("a.bin", "audio/ogg; codecs=opus", "audio/ogg"),
    ],
)
def test_audio_type_from_the_upload(filename: str, content_type: str, expected: str) -> None:
    assert audio_type(filename, content_type) == expected


def test_an_upload_of_unknown_type_is_a_400_naming_file() -> None:
    with pytest.raises(InvalidRequest) as caught:
        audio_type("notes.txt", "text/plain")
    assert caught.value.param == "file"


def test_json_answer_trims_and_counts_audio_tokens() -> None:
    answer = transcription_from_wire(
        _answer(" Hallo. \n", audio_tokens=32), _transcription(language="de"), provider="gem"
    )
    assert (answer.text, answer.language, answer.raw) == ("Hallo.", "de", None)
    assert answer.usage == Usage(
        40, 5, 45, cached_tokens=0, reasoning_tokens=0, extra={"audio_tokens": 32, "text_tokens": 8}
    )


def test_verbose_answer_golden() -> None:
    transcript = {
        "language": "German",
        "text": "Hallo. Wie geht's?",
        "segments": [
            {"start": 0, "end": 0.4, "text": "Hallo."},
            {"start": "00:00.5", "end": "0:00:01.25", "text": "Wie geht's?"},
        ],
    }
    request = _transcription(response_format="verbose_json", audio=b"ID3 not a wav")
    answer = transcription_from_wire(
        _answer(orjson.dumps(transcript).decode(), audio_tokens=48), request, provider="gem"
    )
    assert (answer.text, answer.language, answer.duration) == ("Hallo. Wie geht's?", "german", 1.5)
    assert answer.segments == [
        {"id": 0, "start": 0.0, "end": 0.4, "text": "Hallo."},
        {"id": 1, "start": 0.5, "end": 1.25, "text": "Wie geht's?"},
    ]


def test_verbose_duration_comes_from_the_wav_header_first_then_tokens_then_segments() -> None:
    transcript = orjson.dumps(
        {"language": "english", "text": "Hi", "segments": [{"start": 0, "end": 3.5, "text": "Hi"}]}
    ).decode()
    wav_request = _transcription(response_format="verbose_json")
    assert transcription_from_wire(_answer(transcript, audio_tokens=64), wav_request, provider="g").duration == 1.0
    mp3 = _transcription(response_format="verbose_json", audio=b"ID3", filename="a.mp3", content_type="audio/mpeg")
    assert transcription_from_wire(_answer(transcript, audio_tokens=64), mp3, provider="g").duration == 2.0
    assert transcription_from_wire(_answer(transcript), mp3, provider="g").duration == 3.5


def test_verbose_translation_is_always_english() -> None:
    text = orjson.dumps({"language": "german", "text": "Hello.", "segments": []}).decode()
    request = _transcription(response_format="verbose_json", translate=True)
    assert transcription_from_wire(_answer(text), request, provider="g").language == "english"


@pytest.mark.parametrize("text", ["not json", '{"text": "x"}', '{"text": "x", "segments": [{"start": "soon"}]}'])
def test_a_verbose_answer_that_is_not_the_asked_json_is_a_protocol_error(text: str) -> None:
    with pytest.raises(UpstreamProtocolError):
        transcription_from_wire(_answer(text), _transcription(response_format="verbose_json"), provider="g")


@pytest.mark.parametrize(
    "body",
    [
        _answer("Hallo wie", finish="MAX_TOKENS"),
        _answer("", finish="SAFETY"),
        {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}},
    ],
)
def test_a_cut_or_blocked_answer_is_an_error_not_a_short_transcript(body: dict[str, object]) -> None:
    with pytest.raises(UpstreamError) as caught:
        transcription_from_wire(body, _transcription(), provider="gem")
    assert caught.value.message_key == "audio_incomplete" and caught.value.status == 502


def test_a_malformed_body_is_a_protocol_error() -> None:
    with pytest.raises(UpstreamProtocolError):
        transcription_from_wire({"candidates": ["x"]}, _transcription(), provider="g")


def test_wav_duration_reads_the_header() -> None:
    assert wav_duration(WAV_1S) == 1.0
    streamed = WAV_1S[:40] + struct.pack("<I", 0xFFFFFFFF) + WAV_1S[44:]  # a streamed WAV's unknown size
    assert wav_duration(streamed) == 1.0
    assert wav_duration(b"ID3\x04") is None and wav_duration(b"RIFF\x00\x00\x00\x00WAVE") is None


# -- speech --------------------------------------------------------------------------------------------


def test_speech_request_golden() -> None:
    adjusted: list[str] = []
    request = SpeechRequest(
        model="public",
        input="Have a wonderful day!",
        voice="nova",
        response_format="wav",
        speed=1.0,
        instructions="Say cheerfully.",
        extra={"stream_format": "audio", "seed": 1},
    )
    assert speech_to_wire(request, TTS, adjusted) == {
        "contents": [{"role": "user", "parts": [{"text": "Say cheerfully:\nHave a wonderful day!"}]}],
        "generationConfig": {
            "responseModalities": ["AUDIO"],
            "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Zephyr"}}},
        },
    }
    assert adjusted == ["seed=dropped"]


@pytest.mark.parametrize(
    ("fields", "model", "param"),
    [
        ({"response_format": "mp3"}, TTS, "response_format"),
        ({"response_format": "opus"}, TTS, "response_format"),
        ({"response_format": "aac"}, TTS, "response_format"),
        ({"response_format": "flac"}, TTS, "response_format"),
        ({"response_format": "wav", "speed": 0.5}, TTS, "speed"),
        ({"response_format": "pcm", "extra": {"stream_format": "sse"}}, TTS, "stream_format"),
        ({"response_format": "wav"}, "gemini-2.5-flash", "model"),
    ],
)
def test_speech_refusals_name_the_parameter(fields: dict[str, object], model: str, param: str) -> None:
    request = SpeechRequest(**{"model": "m", "input": "Hi", "voice": "alloy", **fields})  # type: ignore[arg-type]
    with pytest.raises(UnsupportedCapability) as caught:
        speech_to_wire(request, model, [])
    assert caught.value.param == param


def test_every_openai_voice_maps_to_a_gemini_voice_and_gemini_names_pass() -> None:
    assert set(OPENAI_VOICES) == {
        "alloy",
        "ash",
        "ballad",
        "coral",
        "echo",
        "fable",
        "onyx",
        "nova",
        "sage",
        "shimmer",
        "verse",
        "marin",
        "cedar",
    }
    assert all(voice in VOICES.values() for voice in OPENAI_VOICES.values())
    assert len(VOICES) == 30
    assert (gemini_voice("ALLOY"), gemini_voice("kore"), gemini_voice("Zubenelgenubi")) == (
        "Schedar",
        "Kore",
        "Zubenelgenubi",
    )
    with pytest.raises(InvalidRequest) as caught:
        gemini_voice("voice_1234")
    assert caught.value.param == "voice"


def test_tts_models_by_name() -> None:
    assert is_tts_model("gemini-2.5-flash-preview-tts") and is_tts_model("gemini-3.1-flash-tts-preview")
    assert not is_tts_model("gemini-2.5-flash") and not is_tts_model("gemini-2.5-flash-native-audio-preview")


def _blob(data: bytes = PCM, mime: str = "audio/L16;codec=pcm;rate=24000") -> dict[str, object]:
    return {"mimeType": mime, "data": base64.b64encode(data).decode()}


def test_wav_wrapping_golden() -> None:
    audio = pcm_audio(_blob(), "wav", provider="g")
    assert audio[:44] == (
        b"RIFF"
        + struct.pack("<I", 36 + len(PCM))
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, 24_000, 48_000, 2, 16)
        + b"data"
        + struct.pack("<I", len(PCM))
    )
    with wave.open(io.BytesIO(audio)) as reader:  # the standard library reads it back
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, 24_000)
        assert reader.readframes(reader.getnframes()) == PCM
    assert pcm_audio(_blob(mime="audio/pcm;rate=16000"), "wav", provider="g")[24:28] == struct.pack("<I", 16_000)


def test_pcm_is_relayed_as_is_at_24khz_only() -> None:
    assert pcm_audio(_blob(), "pcm", provider="g") == PCM
    assert pcm_audio(_blob(mime="audio/L16"), "pcm", provider="g") == PCM  # no rate: Gemini's 24 kHz
    with pytest.raises(UpstreamProtocolError):
        pcm_audio(_blob(mime="audio/L16;rate=16000"), "pcm", provider="g")


@pytest.mark.parametrize(
    "blob", [_blob(mime="audio/mpeg"), {"mimeType": "audio/L16", "data": "%%%"}, _blob(mime="audio/L16;rate=fast")]
)
def test_audio_that_is_not_pcm_is_a_protocol_error(blob: dict[str, object]) -> None:
    with pytest.raises(UpstreamProtocolError):
        pcm_audio(blob, "wav", provider="g")


def test_speech_answer_takes_the_audio_part() -> None:
    body = {"candidates": [{"content": {"parts": [{"inlineData": _blob()}]}, "finishReason": "STOP"}]}
    assert speech_from_wire(body, "pcm", provider="g") == PCM
    with pytest.raises(UpstreamProtocolError):
        speech_from_wire(_answer("no audio here"), "wav", provider="g")
    with pytest.raises(UpstreamError):
        speech_from_wire({"candidates": [{"finishReason": "OTHER"}]}, "wav", provider="g")
