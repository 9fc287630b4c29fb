"""Self-test of the fake: what it sends must parse with the official SDK's own response types."""

from __future__ import annotations

import base64

import httpx
import openai
import pytest
from openai.types import ImagesResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tests.fakes.images import PNG, edit_form_violations, images_response, png_bytes
from tests.fakes.openai_audio import TRANSCRIPT, TRANSLATION, fake_speech
from tests.fakes.openai_upstream import FakeOpenAI, completion, text_stream, tool_call, tool_call_stream


def test_fake_completions_are_valid_sdk_objects() -> None:
    plain = ChatCompletion.model_validate(completion("Hi"))
    assert plain.choices[0].message.content == "Hi"
    tools = ChatCompletion.model_validate(completion(None, tool_calls=[tool_call("c", "f", "{}")]))
    assert tools.choices[0].finish_reason == "tool_calls"


def test_fake_stream_events_are_valid_sdk_chunks() -> None:
    events = text_stream(["a", "b"], include_usage=True) + tool_call_stream([("c", "f", ["{", "}"])])
    chunks = [ChatCompletionChunk.model_validate(event) for event in events]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert any(c.usage is not None and c.choices == [] for c in chunks)


def test_fake_image_answers_are_valid_sdk_objects() -> None:
    gpt = ImagesResponse.model_validate(images_response(2, model="gpt-image-1", size="1536x1024"))
    assert gpt.data and base64.b64decode(gpt.data[0].b64_json or "") == PNG
    assert gpt.usage is not None and gpt.usage.input_tokens_details.image_tokens == 40 and gpt.size == "1536x1024"
    dalle = ImagesResponse.model_validate(images_response(1, model="dall-e-3", prompt="otter"))
    assert dalle.data and dalle.data[0].url and dalle.data[0].revised_prompt == "A detailed picture: otter"
    assert png_bytes(2, 3).startswith(b"\x89PNG\r\n\x1a\n")


def test_fake_image_edit_form_is_checked_against_the_spec() -> None:
    good = edit_form_violations({"prompt": ["p"], "model": ["gpt-image-1"], "n": ["2"]}, {"image[]": [{}, {}]})
    assert good == []
    bad = edit_form_violations({"n": ["two"], "colour": ["red"], "image": ["not a file"]}, {})
    assert any(line.startswith("colour") for line in bad) and any(line.startswith("image:") for line in bad)
    assert any("'prompt' is a required property" in line for line in bad)
    assert any(line.startswith("n:") for line in bad)


def test_fake_audio_endpoints_answer_the_sdk(upstream: FakeOpenAI) -> None:
    """Transcriptions in each format, translations and streamed speech; the fixture checks that
    everything the SDK sent passed the spec."""
    with openai.OpenAI(base_url=upstream.base_url, api_key="k", max_retries=0, timeout=10) as sdk:
        plain = sdk.audio.transcriptions.create(model="gpt-4o-transcribe", file=("a.wav", b"RIFF", "audio/wav"))
        assert plain.text == TRANSCRIPT and plain.usage is not None and plain.usage.type == "tokens"
        verbose = sdk.audio.transcriptions.create(
            model="whisper-1", file=("a.wav", b"RIFF"), response_format="verbose_json", timestamp_granularities=["word"]
        )
        assert verbose.words and verbose.words[0].word == "Hello"
        assert verbose.segments and verbose.segments[0].avg_logprob < 0
        srt = sdk.audio.transcriptions.create(model="whisper-1", file=("a.mp3", b"ID3"), response_format="srt")
        assert srt.startswith("1\n00:00:00,000 --> ")
        with pytest.deprecated_call():
            assert sdk.audio.translations.create(model="whisper-1", file=("a.wav", b"RIFF")).text == TRANSLATION
        with sdk.audio.speech.with_streaming_response.create(
            model="tts-1", input="Hi", voice="alloy", response_format="flac"
        ) as speech:
            assert speech.headers["content-type"] == "audio/flac"
            assert speech.read() == fake_speech("Hi", "flac")
    first = upstream.received[0].json
    assert first["file"] == {"filename": "a.wav", "content_type": "audio/wav", "data": b"RIFF"}


def test_fake_audio_requests_are_checked_against_the_spec(upstream: FakeOpenAI) -> None:
    httpx.post(
        upstream.base_url + "/audio/transcriptions",
        files={"file": ("noextension", b"x")},
        timeout=10,
        data={"model": "whisper-1", "colour": "red", "temperature": "warm"},
    )
    problems = list(upstream.spec_violations)
    assert any("'colour' was unexpected" in line for line in problems)
    assert any(line.startswith("temperature:") for line in problems)
    assert any("needs an extension" in line for line in problems)
    upstream.spec_violations.clear()
    httpx.post(upstream.base_url + "/audio/speech", json={"model": "tts-1", "input": "Hi"}, timeout=10)
    assert any("'voice' is a required property" in line for line in upstream.spec_violations)
    upstream.spec_violations.clear()
