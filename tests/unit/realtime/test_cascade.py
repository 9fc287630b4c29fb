"""The voice cascade's pure parts: server VAD on PCM16 (realtime/cascade/vad.py), sentences cut from streamed text
(speech.py), and the conversation as chat messages (turn.py)."""

from __future__ import annotations

import math
import struct

import pytest

from babelgate.realtime.cascade.speech import MAX_SENTENCE, Sentences
from babelgate.realtime.cascade.turn import chat_messages
from babelgate.realtime.cascade.vad import Started, Stopped, Vad
from babelgate.schema.chat import Message, ToolCall

RATE = 24000


def tone(ms: int, amplitude: int = 8000) -> bytes:
    count = RATE * ms // 1000
    return struct.pack(f"<{count}h", *(int(amplitude * math.sin(2 * math.pi * 440 * n / RATE)) for n in range(count)))


def silence(ms: int) -> bytes:
    return bytes(RATE * ms // 1000 * 2)


def test_a_tone_between_silences_is_one_turn_with_its_prefix_padding() -> None:
    vad = Vad()
    events = vad.feed(silence(1000) + tone(500) + silence(600))
    assert events == [Started(1000 - 300), Stopped(1500)]
    assert not vad.speaking


def test_chunks_of_any_size_hear_the_same_turn() -> None:
    audio = silence(400) + tone(300) + silence(700)
    whole = Vad().feed(audio)
    vad, pieces = Vad(), []
    for start in range(0, len(audio), 777):  # odd sizes: frames and samples split across appends
        pieces += vad.feed(audio[start : start + 777])
    assert pieces == whole == [Started(100), Stopped(700)]


def test_a_short_pause_does_not_end_the_turn_and_a_click_does_not_start_one() -> None:
    vad = Vad(silence_duration_ms=500)
    assert vad.feed(tone(300) + silence(300) + tone(300)) == [Started(0)]
    assert vad.speaking
    assert Vad().feed(silence(100) + tone(20) + silence(500)) == []  # one loud frame is a click


@pytest.mark.parametrize(("threshold", "heard"), [(0.2, True), (0.9, False)])
def test_the_threshold_is_how_loud_speech_must_be(threshold: float, heard: bool) -> None:
    quiet = tone(400, amplitude=300)  # about -44 dBFS
    assert bool(Vad(threshold=threshold).feed(quiet + silence(600))) is heard


def test_silence_duration_sets_when_a_turn_ends() -> None:
    assert Vad(silence_duration_ms=200).feed(tone(200) + silence(250)) == [Started(0), Stopped(200)]
    assert Vad(silence_duration_ms=800).feed(tone(200) + silence(250)) == [Started(0)]


def test_sentences_are_cut_as_the_text_streams() -> None:
    cut = Sentences()
    assert cut.feed("Hello there, fri") == []
    assert cut.feed("end. How are") == ["Hello there, friend."]
    assert cut.feed(" you? I am fine!\nAnd") == ["How are you?", "I am fine!"]
    assert cut.flush() == "And"
    assert cut.flush() is None


def test_abbreviations_numbers_and_quotes_do_not_cut_wrongly() -> None:
    cut = Sentences()
    assert cut.feed("Dr. Smith paid 3.5 euros. ") == ["Dr. Smith paid 3.5 euros."]
    assert cut.feed('He said "stop." Then he left the room. ') == ['He said "stop."', "Then he left the room."]


def test_a_run_on_text_is_cut_at_a_space() -> None:
    words = "word " * 100
    pieces = Sentences().feed(words)
    assert pieces and all(len(piece) <= MAX_SENTENCE for piece in pieces)
    assert " ".join(pieces).split() == words.split()[: len(" ".join(pieces).split())]


def test_the_conversation_as_chat_messages() -> None:
    items = [
        {"type": "message", "role": "user", "content": [{"type": "input_audio", "transcript": "Weather?"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_audio", "transcript": None}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_audio", "transcript": "Let me look."}]},
        {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Thanks"}]},
    ]
    assert chat_messages("Be brief.", items) == [
        Message("system", "Be brief."),
        Message("user", "Weather?"),
        Message("assistant", "Let me look.", tool_calls=[ToolCall("c1", "weather", "{}")]),
        Message("tool", "sunny", tool_call_id="c1"),
        Message("user", "Thanks"),
    ]
