"""`/v1/audio/*` through the gateway with the official `openai` SDK: relayed to the OpenAI fake (multipart
re-sent, answers in every format with their content types, speech streamed as it comes), translated for the
Gemini fake (inlineData + an instruction; TTS models wrapped as WAV), and the refusals in between."""

from __future__ import annotations

import base64
import json
import struct
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, GatewayFactory
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_audio import fake_pcm, tts_response
from tests.fakes.gemini_upstream import FakeGemini, Reply, response, usage
from tests.fakes.openai_audio import TRANSCRIPT, TRANSLATION, fake_speech
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import RunningApp

PCM = bytes(32_000)  # one second of 16 kHz, 16-bit mono silence
WAV = (
    struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(PCM),
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        16_000,
        32_000,
        2,
        16,
        b"data",
        len(PCM),
    )
    + PCM
)
FILE = ("speech.wav", WAV, "audio/wav")
TTS = "gemini-2.5-flash-preview-tts"
GEMINI = "gemini-2.5-flash"


def _audio_calls(fake: FakeOpenAI) -> list[str]:
    return [r.path for r in fake.received if r.path.startswith("/v1/audio/")]


# -- OpenAI and compatible servers: relayed ---------------------------------------------------------


def test_transcription_json_resends_the_file_and_fields(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    answer = client.audio.transcriptions.create(
        model="gpt-4o-transcribe", file=FILE, language="en", prompt="Names: Ada", temperature=0.2, include=["logprobs"]
    )
    assert answer.text == TRANSCRIPT
    assert answer.usage is not None and answer.usage.type == "tokens" and answer.usage.input_tokens == 14
    sent = upstream.received[-1]
    assert sent.path == "/v1/audio/transcriptions"
    assert sent.json["file"] == {"filename": "speech.wav", "content_type": "audio/wav", "data": WAV}
    assert (sent.json["model"], sent.json["language"], sent.json["prompt"]) == ("gpt-4o-transcribe", "en", "Names: Ada")
    assert sent.json["temperature"] == 0.2 and sent.json["include"] == ["logprobs"]
    assert sent.json["response_format"] == "json"
    assert "Bearer sk-test-UPSTREAM" in sent.headers["Authorization"]


@pytest.mark.parametrize(
    ("fmt", "content_type", "expected"),
    [
        ("text", "text/plain; charset=utf-8", TRANSCRIPT + "\n"),
        ("srt", "application/x-subrip; charset=utf-8", f"1\n00:00:00,000 --> 00:00:01,500\n{TRANSCRIPT}\n\n"),
        ("vtt", "text/vtt; charset=utf-8", f"WEBVTT\n\n00:00:00.000 --> 00:00:01.500\n{TRANSCRIPT}\n\n"),
    ],
)
def test_text_formats_are_relayed_with_their_content_type(
    client: openai.OpenAI, fmt: str, content_type: str, expected: str
) -> None:
    raw = client.audio.transcriptions.with_raw_response.create(model="whisper-1", file=FILE, response_format=fmt)  # type: ignore[call-overload]
    assert raw.headers["content-type"] == content_type
    assert raw.parse() == expected


def test_verbose_json_with_word_timestamps(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    answer = client.audio.transcriptions.create(
        model="whisper-1", file=FILE, response_format="verbose_json", timestamp_granularities=["word", "segment"]
    )
    assert answer.text == TRANSCRIPT and answer.duration == 1.5 and answer.language == "english"
    assert answer.words and answer.words[0].word == "Hello" and answer.segments and answer.segments[0].end == 1.5
    assert upstream.received[-1].json["timestamp_granularities"] == ["word", "segment"]


def test_translation_goes_to_the_translations_endpoint(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    with pytest.deprecated_call():  # the SDK marks translations deprecated; the endpoint still serves
        assert client.audio.translations.create(model="whisper-1", file=FILE).text == TRANSLATION
        verbose = client.audio.translations.create(model="whisper-1", file=FILE, response_format="verbose_json")
    assert verbose.text == TRANSLATION and verbose.language == "english"
    assert _audio_calls(upstream) == ["/v1/audio/translations"] * 2


def test_upstream_refusal_keeps_openais_format(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.transcriptions.create(model="gpt-4o-transcribe", file=FILE, response_format="srt")
    assert caught.value.body["param"] == "response_format"  # type: ignore[index]
    assert "not compatible" in caught.value.message


def test_speech_is_streamed_back_in_the_asked_format(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", input="Hello there", voice="coral", response_format="wav", instructions="Cheerful"
    ) as answer:
        assert answer.headers["content-type"] == "audio/wav"
        chunks = list(answer.iter_bytes())
    assert b"".join(chunks) == fake_speech("Hello there", "wav")
    sent = upstream.received[-1].json
    assert sent == {
        "model": "gpt-4o-mini-tts",
        "input": "Hello there",
        "voice": "coral",
        "response_format": "wav",
        "instructions": "Cheerful",
    }
    with client.audio.speech.with_streaming_response.create(model="tts-1", input="Hi", voice="alloy") as answer:
        assert answer.headers["content-type"] == "audio/mpeg" and answer.read() == fake_speech("Hi", "mp3")
    assert upstream.received[-1].json["response_format"] == "mp3"  # the gateway names the type: always sent


def test_speech_bytes_reach_the_client_before_the_upstream_finishes(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=[b"first audio bytes", b"never sent"], stall_after=1))
    with httpx.stream(
        "POST",
        gateway.url + "/v1/audio/speech",
        timeout=10,
        json={"model": "tts-1", "input": "Hi", "voice": "alloy", "response_format": "pcm"},
    ) as answer:
        assert answer.headers["content-type"] == "audio/pcm"
        assert next(answer.iter_raw()) == b"first audio bytes"  # the upstream is still holding the rest
    deadline = time.monotonic() + 5
    while upstream.stream_closed_at is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert upstream.stream_closed_at is not None, "the gateway kept the upstream call open after the client left"


def test_speech_cut_upstream_is_a_cut_body_not_a_whole_file(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(stream=[b"a" * 1000, b"b" * 1000, b"c" * 1000], drop_after=2, chunk_delay=0.05))
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream(
            "POST",
            gateway.url + "/v1/audio/speech",
            timeout=10,
            json={"model": "tts-1", "input": "Hi", "voice": "alloy"},
        ) as answer,
    ):
        answer.read()


def test_speech_events_and_custom_voices_pass_through(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", input="Hi", voice={"id": "voice_1234"}, stream_format="sse"
    ) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in answer.iter_lines() if line.startswith("data: ")]
    assert events[0]["type"] == "speech.audio.delta" and events[-1]["type"] == "speech.audio.done"
    assert upstream.received[-1].json["voice"] == {"id": "voice_1234"}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "Hi"}, "voice"),
        ({"voice": "alloy"}, "input"),
        ({"input": "Hi", "voice": "alloy", "response_format": "ogg"}, "response_format"),
        ({"input": "Hi", "voice": "alloy", "speed": 9}, "speed"),
        ({"input": "Hi", "voice": 5}, "voice"),
    ],
)
def test_bad_speech_requests_name_the_parameter(
    gateway: RunningApp, upstream: FakeOpenAI, body: dict[str, object], param: str
) -> None:
    answer = httpx.post(gateway.url + "/v1/audio/speech", json={"model": "tts-1", **body}, timeout=10)
    assert answer.status_code == 400 and answer.json()["error"]["param"] == param
    assert _audio_calls(upstream) == []


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": "whisper-1", "response_format": "mp3"}, "response_format"),
        ({"model": "whisper-1", "temperature": "warm"}, "temperature"),
        ({"model": "whisper-1", "timestamp_granularities[]": "sentence"}, "timestamp_granularities"),
        ({"model": "whisper-1", "stream": "true"}, "stream"),
        ({"response_format": "json"}, "model"),
    ],
)
def test_bad_transcription_forms_name_the_field(
    gateway: RunningApp, upstream: FakeOpenAI, fields: dict[str, str], param: str
) -> None:
    answer = httpx.post(gateway.url + "/v1/audio/transcriptions", files={"file": FILE}, data=fields, timeout=10)
    assert answer.status_code == 400 and answer.json()["error"]["param"] == param
    assert _audio_calls(upstream) == []


def test_a_form_without_a_file_or_not_multipart_is_a_400(gateway: RunningApp) -> None:
    url = gateway.url + "/v1/audio/transcriptions"
    missing = httpx.post(url, data={"model": "whisper-1"}, files={"other": ("x.txt", b"x")}, timeout=10)
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "file"
    not_form = httpx.post(url, json={"model": "whisper-1"}, timeout=10)
    assert not_form.status_code == 400 and not_form.json()["error"]["param"] == "content-type"


def test_an_upload_over_the_body_limit_is_413(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway("server:\n  max_body_bytes: 4096\n")
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60) as client,
        pytest.raises(openai.APIStatusError) as caught,
    ):
        client.audio.transcriptions.create(model="whisper-1", file=("long.wav", bytes(10_000), "audio/wav"))
    assert caught.value.status_code == 413 and caught.value.body["code"] == "request_too_large"  # type: ignore[index]
    # Chunked, with no Content-Length: refused while reading, at the limit.
    chunks = iter(
        [b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n', bytes(6000), b"\r\n--b--\r\n"]
    )
    answer = httpx.post(
        gateway.url + "/v1/audio/transcriptions",
        content=chunks,
        timeout=10,
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert answer.status_code == 413
    assert _audio_calls(upstream) == []


def test_providers_without_audio_refuse_before_any_call(
    make_gateway: GatewayFactory, anthropic_upstream: FakeAnthropic
) -> None:
    gateway = make_gateway(env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url})
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            client.audio.transcriptions.create(model="claude-sonnet-4-5", file=FILE)
        assert caught.value.code == "unsupported_capability" and "transcription" in caught.value.message
        with pytest.raises(openai.BadRequestError) as caught:
            client.audio.speech.create(model="claude-sonnet-4-5", input="Hi", voice="alloy")
        assert caught.value.code == "unsupported_capability"
    assert not [r for r in anthropic_upstream.received if r.method == "POST"]


# -- Gemini: translated ------------------------------------------------------------------------------


@pytest.fixture
def gemini(make_gateway: GatewayFactory, gemini_upstream: FakeGemini) -> Iterator[openai.OpenAI]:
    gateway = make_gateway(env={"GEMINI_API_KEY": GEMINI_KEY, "GEMINI_BASE_URL": gemini_upstream.base_url})
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        yield client


def _sent(fake: FakeGemini) -> dict[str, object]:
    request = next(r for r in reversed(fake.received) if ":" in r.path)
    return request.json  # type: ignore[no-any-return]


def _audio_usage() -> dict[str, object]:
    meta = usage(40, 5)
    meta["promptTokensDetails"] = [{"modality": "AUDIO", "tokenCount": 32}, {"modality": "TEXT", "tokenCount": 8}]
    return meta


def test_gemini_transcription_sends_the_audio_inline(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    gemini_upstream.script(Reply(json=response(" Hello there. ", usage=_audio_usage())))
    answer = gemini.audio.transcriptions.create(model=GEMINI, file=FILE, language="de", prompt="Ada", temperature=0.3)
    assert answer.text == "Hello there."
    assert answer.usage is not None and answer.usage.type == "tokens"
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (40, 5)
    assert answer.usage.input_token_details is not None and answer.usage.input_token_details.audio_tokens == 32
    sent = _sent(gemini_upstream)
    parts = sent["contents"][0]["parts"]  # type: ignore[index]
    assert parts[0] == {"inlineData": {"mimeType": "audio/wav", "data": base64.b64encode(WAV).decode()}}
    assert "Transcribe" in parts[1]["text"] and "'de'" in parts[1]["text"] and "Ada" in parts[1]["text"]
    assert sent["generationConfig"] == {"temperature": 0.3}


def test_gemini_text_and_verbose_json(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    gemini_upstream.script(Reply(json=response("Hallo.")))
    assert gemini.audio.transcriptions.create(model=GEMINI, file=FILE, response_format="text") == "Hallo."
    transcript = {
        "language": "German",
        "text": "Hallo. Wie geht's?",
        "segments": [{"start": 0, "end": 0.4, "text": "Hallo."}, {"start": "00:00.5", "end": 1, "text": "Wie geht's?"}],
    }
    gemini_upstream.script(Reply(json=response(json.dumps(transcript))))
    verbose = gemini.audio.transcriptions.create(
        model=GEMINI, file=FILE, response_format="verbose_json", timestamp_granularities=["segment"]
    )
    assert (verbose.text, verbose.language, verbose.duration) == ("Hallo. Wie geht's?", "german", 1.0)
    assert verbose.segments is not None and [s.start for s in verbose.segments] == [0.0, 0.5]
    config = _sent(gemini_upstream)["generationConfig"]
    assert config["responseMimeType"] == "application/json" and "segments" in str(config["responseJsonSchema"])  # type: ignore[index]


def test_gemini_translation_asks_for_english(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    gemini_upstream.script(Reply(json=response(json.dumps({"language": "german", "text": "Hello.", "segments": []}))))
    with pytest.deprecated_call():
        verbose = gemini.audio.translations.create(model=GEMINI, file=FILE, response_format="verbose_json")
    assert verbose.text == "Hello." and verbose.language == "english"
    assert "into English" in _sent(gemini_upstream)["contents"][0]["parts"][1]["text"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"response_format": "srt"}, "response_format"),
        ({"response_format": "vtt"}, "response_format"),
        ({"response_format": "verbose_json", "timestamp_granularities": ["word"]}, "timestamp_granularities"),
        ({"file": ("blob", b"xx", "application/octet-stream")}, "file"),
        ({"model": TTS}, "model"),
    ],
)
def test_gemini_refuses_what_it_cannot_answer_before_any_call(
    gemini: openai.OpenAI, gemini_upstream: FakeGemini, kwargs: dict[str, object], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        gemini.audio.transcriptions.create(**{"model": GEMINI, "file": FILE, **kwargs})  # type: ignore[call-overload]
    assert caught.value.body["param"] == param  # type: ignore[index]
    assert not [r for r in gemini_upstream.received if ":" in r.path]


def test_gemini_cut_short_transcript_is_an_error(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    gemini_upstream.script(Reply(json=response("Hello th", finish_reason="MAX_TOKENS")))
    with pytest.raises(openai.InternalServerError) as caught:
        gemini.audio.transcriptions.create(model=GEMINI, file=FILE)
    assert caught.value.status_code == 502 and "MAX_TOKENS" in caught.value.message


def test_gemini_tts_wav_and_voice_mapping(gemini: openai.OpenAI, gemini_upstream: FakeGemini) -> None:
    with gemini.audio.speech.with_streaming_response.create(
        model=TTS, input="Hello", voice="alloy", response_format="wav"
    ) as answer:
        assert answer.headers["content-type"] == "audio/wav"
        audio = answer.read()
    pcm = fake_pcm("Hello")
    assert audio[:4] == b"RIFF" and audio[44:] == pcm
    assert struct.unpack_from("<I", audio, 24)[0] == 24_000 and struct.unpack_from("<I", audio, 40)[0] == len(pcm)
    config = _sent(gemini_upstream)["generationConfig"]
    assert config == {
        "responseModalities": ["AUDIO"],  # the fake refuses unknown voices
        "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Schedar"}}},
    }


def test_gemini_tts_pcm_with_a_gemini_voice_and_instructions(
    gemini: openai.OpenAI, gemini_upstream: FakeGemini
) -> None:
    answer = gemini.audio.speech.with_raw_response.create(
        model=TTS,
        input="Hello",
        voice="kore",
        response_format="pcm",
        instructions="Speak warmly.",
        extra_body={"language": "en"},
    )
    assert answer.headers["content-type"] == "audio/pcm"
    assert answer.headers["x-babelgate-adjusted-params"] == "language=dropped"
    assert answer.content == fake_pcm("Speak warmly:\nHello")
    sent = _sent(gemini_upstream)
    assert sent["contents"] == [{"role": "user", "parts": [{"text": "Speak warmly:\nHello"}]}]
    assert sent["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"] == "Kore"  # type: ignore[index]


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({}, "response_format"),  # mp3, OpenAI's default: the gateway has no encoder
        ({"response_format": "opus"}, "response_format"),
        ({"response_format": "wav", "speed": 1.5}, "speed"),
        ({"response_format": "wav", "voice": "nobody"}, "voice"),
        ({"response_format": "wav", "model": GEMINI}, "model"),
        ({"response_format": "pcm", "stream_format": "sse"}, "stream_format"),
    ],
)
def test_gemini_speech_refusals_name_the_parameter(
    gemini: openai.OpenAI, gemini_upstream: FakeGemini, kwargs: dict[str, object], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        gemini.audio.speech.create(**{"model": TTS, "input": "Hi", "voice": "alloy", **kwargs})  # type: ignore[arg-type]
    assert caught.value.body["param"] == param  # type: ignore[index]
    assert not [r for r in gemini_upstream.received if ":" in r.path]


def test_chat_with_audio_output_on_a_gemini_speech_model(
    make_gateway: GatewayFactory, gemini_upstream: FakeGemini
) -> None:
    gateway = make_gateway(env={"GEMINI_API_KEY": GEMINI_KEY, "GEMINI_BASE_URL": gemini_upstream.base_url})
    pcm = fake_pcm("Hello there")
    gemini_upstream.script(Reply(json=tts_response(pcm)))
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60) as client:
        answer = client.chat.completions.create(
            model="gemini-2.5-flash-preview-tts",
            modalities=["audio"],
            audio={"voice": "alloy", "format": "wav"},
            messages=[{"role": "user", "content": "Say hello"}],
        )
        audio = answer.choices[0].message.audio
        assert audio is not None and audio.id.startswith("audio_")
        data = base64.b64decode(audio.data)
        assert data[:4] == b"RIFF" and data[44:] == pcm
        sent = next(r.json for r in reversed(gemini_upstream.received) if r.path.endswith(":generateContent"))
        config = sent["generationConfig"]
        assert config["responseModalities"] == ["AUDIO"]
        assert config["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"] == "Schedar"
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(
                model="gemini-2.5-flash-preview-tts",
                modalities=["audio"],
                audio={"voice": "alloy", "format": "mp3"},
                messages=[{"role": "user", "content": "Say hello"}],
            )
    assert caught.value.body["param"] == "audio.format"  # type: ignore[index]
