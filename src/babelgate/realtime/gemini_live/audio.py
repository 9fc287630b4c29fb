"""Audio between OpenAI Realtime and Gemini Live: PCM16 little-endian mono resampled with state carried across
chunks, and G.711 μ-law/A-law (OpenAI's `audio/pcmu`, `audio/pcma`, 8 kHz) to and from PCM16.

Resampling is linear interpolation between neighbouring samples, positions kept as exact integers (in units of
1/out_rate of an input sample) so that no drift accumulates and a stream cut into chunks of any size, odd byte
counts included, gives the very bytes the whole stream resampled at once gives. There is no anti-alias filter:
going down (24 kHz → 16 kHz) folds content above the new Nyquist back, which speech barely has.
"""

from __future__ import annotations

import re
import sys
from array import array
from dataclasses import dataclass, field
from typing import Any, Final, Literal

Encoding = Literal["pcm16", "pcmu", "pcma"]

OPENAI_RATE: Final = 24000  # OpenAI realtime `audio/pcm` (beta `pcm16`), both directions
GEMINI_INPUT_RATE: Final = 16000
GEMINI_OUTPUT_RATE: Final = 24000
G711_RATE: Final = 8000

_RATE: Final = re.compile(r";\s*rate\s*=\s*(\d+)", re.IGNORECASE)


class AudioFormatError(ValueError):
    """An audio format that cannot be read or produced."""


@dataclass(frozen=True, slots=True)
class AudioFormat:
    encoding: Encoding
    rate: int

    def openai(self) -> dict[str, Any]:
        """The GA `audio.*.format` object."""
        if self.encoding == "pcm16":
            return {"type": "audio/pcm", "rate": self.rate}
        return {"type": "audio/pcmu" if self.encoding == "pcmu" else "audio/pcma"}

    def beta(self) -> str:
        """The beta `input_audio_format` / `output_audio_format` string."""
        return {"pcm16": "pcm16", "pcmu": "g711_ulaw", "pcma": "g711_alaw"}[self.encoding]

    def mime(self) -> str:
        if self.encoding == "pcm16":
            return f"audio/pcm;rate={self.rate}"
        return "audio/pcmu" if self.encoding == "pcmu" else "audio/pcma"


PCM24K: Final = AudioFormat("pcm16", OPENAI_RATE)

_BETA_FORMATS: Final[dict[str, AudioFormat]] = {
    "pcm16": PCM24K,
    "g711_ulaw": AudioFormat("pcmu", G711_RATE),
    "g711_alaw": AudioFormat("pcma", G711_RATE),
}


def openai_format(value: Any) -> AudioFormat:
    """An OpenAI audio format: the GA object (`{"type": "audio/pcm", "rate": 24000}`) or the beta string."""
    if isinstance(value, str):
        if value in _BETA_FORMATS:
            return _BETA_FORMATS[value]
        raise AudioFormatError(f"unsupported audio format {value!r} (pcm16, g711_ulaw or g711_alaw)")
    if isinstance(value, dict):
        kind = value.get("type", "audio/pcm")
        if kind == "audio/pcm":
            rate = value.get("rate", OPENAI_RATE)
            if not isinstance(rate, int) or isinstance(rate, bool) or rate <= 0:
                raise AudioFormatError(f"unsupported audio rate {rate!r}")
            return AudioFormat("pcm16", rate)
        if kind in ("audio/pcmu", "audio/pcma"):
            return AudioFormat("pcmu" if kind == "audio/pcmu" else "pcma", G711_RATE)
        raise AudioFormatError(f"unsupported audio format type {kind!r} (audio/pcm, audio/pcmu or audio/pcma)")
    raise AudioFormatError(f"unsupported audio format {value!r}")


def mime_format(mime: str, default_rate: int) -> AudioFormat:
    """A Gemini `mimeType` (`audio/pcm;rate=16000`; `audio/pcm` alone is `default_rate`)."""
    base = mime.split(";", 1)[0].strip().lower()
    if base in ("audio/pcmu", "audio/basic"):
        return AudioFormat("pcmu", G711_RATE)
    if base == "audio/pcma":
        return AudioFormat("pcma", G711_RATE)
    if base not in ("audio/pcm", "audio/l16", "audio/raw"):
        raise AudioFormatError(f"unsupported audio mimeType {mime!r} (audio/pcm;rate=N)")
    found = _RATE.search(mime)
    rate = int(found.group(1)) if found else default_rate
    if rate <= 0:
        raise AudioFormatError(f"unsupported audio rate in {mime!r}")
    return AudioFormat("pcm16", rate)


def _samples(data: bytes) -> array[int]:
    out = array("h", data)
    if sys.byteorder == "big":
        out.byteswap()  # the wire is little-endian whatever the machine is
    return out


def _pcm_bytes(samples: array[int]) -> bytes:
    if sys.byteorder == "big":
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()


@dataclass(slots=True)
class Resampler:
    """Streaming linear-interpolation resampler of PCM16 LE mono: `feed` chunks as they come, `flush` at the end
    of the stream (it yields the samples whose position falls after the last input sample)."""

    src: int
    dst: int
    _odd: bytes = b""
    _last: int | None = None  # the previous chunk's last sample: index 0 of the next chunk's buffer
    _pos: int = 0  # the next output sample's position in 1/dst input samples, from the buffer's index 0

    def __post_init__(self) -> None:
        if self.src <= 0 or self.dst <= 0:
            raise AudioFormatError(f"rates must be positive: {self.src} → {self.dst}")

    def feed(self, data: bytes) -> bytes:
        data = self._odd + data
        whole = len(data) & ~1
        self._odd = data[whole:]  # half a sample waits for its other byte
        if self.src == self.dst:
            return data[:whole]
        samples = _samples(data[:whole])
        if not samples:
            return b""
        buf = samples if self._last is None else array("h", [self._last]) + samples
        out = array("h")
        pos, src, dst, last_index = self._pos, self.src, self.dst, len(buf) - 1
        half = dst // 2
        while True:
            i, r = divmod(pos, dst)
            if i >= last_index:
                break
            a = buf[i]
            out.append((a * dst + (buf[i + 1] - a) * r + half) // dst)
            pos += src
        self._pos = pos - last_index * dst
        self._last = buf[last_index]
        return _pcm_bytes(out)

    def flush(self) -> bytes:
        """The tail: output positions between the last input sample and the end of the stream hold that sample."""
        self._odd = b""
        if self.src == self.dst or self._last is None:
            self._last, self._pos = None, 0
            return b""
        out = array("h")
        while self._pos < self.dst:
            out.append(self._last)
            self._pos += self.src
        self._last, self._pos = None, 0
        return _pcm_bytes(out)


def resample(data: bytes, src: int, dst: int) -> bytes:
    """`data` resampled in one go (a trailing odd byte is dropped)."""
    resampler = Resampler(src, dst)
    return resampler.feed(data) + resampler.flush()


# G.711, after the ITU-T reference (Sun's g711.c): μ-law with bias 0x84 and clip 32635, A-law segment-wise.
_MU_BIAS: Final = 0x84
_MU_CLIP: Final = 32635


def _mulaw_decode_one(code: int) -> int:
    code = ~code & 0xFF
    magnitude = (((code & 0x0F) << 3) + _MU_BIAS) << ((code & 0x70) >> 4)
    return _MU_BIAS - magnitude if code & 0x80 else magnitude - _MU_BIAS


def _alaw_decode_one(code: int) -> int:
    code ^= 0x55
    exponent = (code & 0x70) >> 4
    magnitude = (code & 0x0F) << 4
    magnitude = magnitude + 8 if exponent == 0 else (magnitude + 0x108) << (exponent - 1)
    return magnitude if code & 0x80 else -magnitude


def _mulaw_encode_one(sample: int) -> int:
    sign = 0x80 if sample < 0 else 0
    magnitude = min(-sample if sample < 0 else sample, _MU_CLIP) + _MU_BIAS
    exponent = max(magnitude.bit_length() - 8, 0)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def _alaw_encode_one(sample: int) -> int:
    sign = 0x80 if sample >= 0 else 0
    magnitude = min(-sample - 1 if sample < 0 else sample, 32767) >> 3
    if magnitude < 32:
        code = magnitude >> 1
    else:
        exponent = magnitude.bit_length() - 5
        code = (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    return (code | sign) ^ 0x55


_MULAW_TABLE: Final = array("h", [_mulaw_decode_one(code) for code in range(256)])
_ALAW_TABLE: Final = array("h", [_alaw_decode_one(code) for code in range(256)])


def g711_decode(data: bytes, encoding: Literal["pcmu", "pcma"]) -> bytes:
    table = _MULAW_TABLE if encoding == "pcmu" else _ALAW_TABLE
    return _pcm_bytes(array("h", [table[code] for code in data]))


def g711_encode(pcm: bytes, encoding: Literal["pcmu", "pcma"]) -> bytes:
    """PCM16 LE (whole samples) to G.711."""
    encode = _mulaw_encode_one if encoding == "pcmu" else _alaw_encode_one
    return bytes(encode(sample) for sample in _samples(pcm[: len(pcm) & ~1]))


@dataclass(slots=True)
class ToPcm:
    """A stream in `fmt` to PCM16 at `rate`."""

    fmt: AudioFormat
    rate: int
    _resampler: Resampler = field(init=False)

    def __post_init__(self) -> None:
        self._resampler = Resampler(self.fmt.rate, self.rate)

    def feed(self, data: bytes) -> bytes:
        if self.fmt.encoding != "pcm16":
            data = g711_decode(data, self.fmt.encoding)
        return self._resampler.feed(data)

    def flush(self) -> bytes:
        return self._resampler.flush()


@dataclass(slots=True)
class FromPcm:
    """PCM16 at `rate` to a stream in `fmt`."""

    rate: int
    fmt: AudioFormat
    _resampler: Resampler = field(init=False)

    def __post_init__(self) -> None:
        self._resampler = Resampler(self.rate, self.fmt.rate)

    def feed(self, data: bytes) -> bytes:
        return self._encode(self._resampler.feed(data))

    def flush(self) -> bytes:
        return self._encode(self._resampler.flush())

    def _encode(self, pcm: bytes) -> bytes:
        return pcm if self.fmt.encoding == "pcm16" else g711_encode(pcm, self.fmt.encoding)


def duration_ms(byte_count: int, fmt: AudioFormat) -> int:
    """How long `byte_count` bytes of `fmt` play."""
    per_second = fmt.rate * (2 if fmt.encoding == "pcm16" else 1)
    return byte_count * 1000 // per_second
