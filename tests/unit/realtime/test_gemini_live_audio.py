"""The realtime translators' audio: streaming resampling that matches the one-shot result, and G.711."""

from __future__ import annotations

import math
import random
import struct

import pytest

from babelgate.realtime.gemini_live.audio import (
    AudioFormat,
    AudioFormatError,
    FromPcm,
    Resampler,
    ToPcm,
    duration_ms,
    g711_decode,
    g711_encode,
    mime_format,
    openai_format,
    resample,
)


def _sine(rate: int, seconds: float, hz: float = 440.0, amplitude: int = 12000) -> bytes:
    count = int(rate * seconds)
    return struct.pack(f"<{count}h", *(round(amplitude * math.sin(2 * math.pi * hz * n / rate)) for n in range(count)))


def _samples(data: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(data) // 2}h", data))


def _chunked(data: bytes, src: int, dst: int, seed: int) -> bytes:
    rng = random.Random(seed)
    resampler, out, at = Resampler(src, dst), bytearray(), 0
    while at < len(data):
        size = rng.randint(1, 999)  # odd sizes split samples between chunks
        out += resampler.feed(data[at : at + size])
        at += size
    return bytes(out + resampler.flush())


@pytest.mark.parametrize(("src", "dst"), [(16000, 24000), (24000, 16000), (24000, 8000), (8000, 24000), (8000, 16000)])
def test_chunks_of_random_sizes_give_the_one_shot_result(src: int, dst: int) -> None:
    tone = _sine(src, 0.25)
    whole = resample(tone, src, dst)
    for seed in range(3):
        assert _chunked(tone, src, dst, seed) == whole


@pytest.mark.parametrize(("src", "dst"), [(16000, 24000), (24000, 16000), (24000, 8000), (8000, 24000)])
def test_resampled_sine_is_the_sine_at_the_new_rate(src: int, dst: int) -> None:
    out = _samples(resample(_sine(src, 0.2), src, dst))
    assert len(out) == math.ceil(int(src * 0.2) * dst / src)  # no drift: the length is exact
    expected = _samples(_sine(dst, 0.2))
    worst = max(abs(a - b) for a, b in zip(out[:-2], expected, strict=False))
    assert worst < 12000 * 0.03  # linear interpolation of a 440 Hz tone stays within 3% of full scale


def test_odd_bytes_wait_for_their_other_half() -> None:
    resampler = Resampler(16000, 16000)
    assert resampler.feed(b"\x01") == b""
    assert resampler.feed(b"\x02\x03") == b"\x01\x02"
    assert resampler.flush() == b""


def test_same_rate_passes_through() -> None:
    tone = _sine(24000, 0.01)
    assert resample(tone, 24000, 24000) == tone


def test_g711_round_trips_within_its_quantisation() -> None:
    tone = _samples(_sine(8000, 0.05, amplitude=20000))
    pcm = struct.pack(f"<{len(tone)}h", *tone)
    for encoding in ("pcmu", "pcma"):
        coded = g711_encode(pcm, encoding)
        assert len(coded) == len(tone)
        back = _samples(g711_decode(coded, encoding))
        assert all(abs(a - b) <= max(16, abs(a) // 16) for a, b in zip(tone, back, strict=True))
    assert g711_encode(b"\x00\x00", "pcmu") == b"\xff"  # the ITU silence codes
    assert g711_encode(b"\x00\x00", "pcma") == b"\xd5"


def test_converters_carry_g711_and_rate_together() -> None:
    tone = _sine(24000, 0.1)
    to_mulaw = FromPcm(24000, AudioFormat("pcmu", 8000))
    coded = to_mulaw.feed(tone[:1001]) + to_mulaw.feed(tone[1001:]) + to_mulaw.flush()
    assert len(coded) == 800
    back = ToPcm(AudioFormat("pcmu", 8000), 16000)
    assert len(back.feed(coded) + back.flush()) == 1600 * 2


def test_formats_read_both_dialects_and_mime_rates() -> None:
    assert openai_format("pcm16") == AudioFormat("pcm16", 24000)
    assert openai_format("g711_alaw") == AudioFormat("pcma", 8000)
    assert openai_format({"type": "audio/pcm", "rate": 24000}) == AudioFormat("pcm16", 24000)
    assert openai_format({"type": "audio/pcmu"}) == AudioFormat("pcmu", 8000)
    assert mime_format("audio/pcm;rate=16000", 24000) == AudioFormat("pcm16", 16000)
    assert mime_format("audio/pcm; rate=44100", 24000).rate == 44100
    assert mime_format("audio/pcm", 24000).rate == 24000
    with pytest.raises(AudioFormatError):
        openai_format("opus")
    with pytest.raises(AudioFormatError):
        mime_format("audio/ogg", 24000)
    assert duration_ms(48000, AudioFormat("pcm16", 24000)) == 1000
