"""Server VAD: energy-based speech detection on PCM16 mono, as OpenAI's `server_vad` settings read: `threshold`
(0 to 1, mapped onto a loudness from -60 to -10 dBFS), `prefix_padding_ms` (audio kept before speech starts) and
`silence_duration_ms` (the silence that ends a turn). Pure: it counts samples, not clock time."""

from __future__ import annotations

import math
import sys
from array import array
from dataclasses import dataclass, field
from typing import Final

FRAME_MS: Final = 20
# Loud frames in a row before speech counts as started: a click or a pop is not a turn.
START_FRAMES: Final = 2
QUIET_DB: Final = -60.0
LOUD_DB: Final = -10.0


@dataclass(frozen=True, slots=True)
class Started:
    audio_start_ms: int  # where the turn's audio begins, its prefix padding included


@dataclass(frozen=True, slots=True)
class Stopped:
    audio_end_ms: int  # where the silence that ended it began


def level_db(samples: array[int]) -> float:
    """A frame's RMS loudness in dBFS (full scale is 0; digital silence is -inf)."""
    if not samples:
        return -math.inf
    power = sum(sample * sample for sample in samples) / len(samples)
    return -math.inf if power == 0 else 10 * math.log10(power / (32768.0 * 32768.0))


@dataclass(slots=True)
class Vad:
    """Feed PCM16 LE mono at `rate`; each `feed` answers the turns' starts and stops it found."""

    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    rate: int = 24000
    position: int = 0  # samples judged so far: where the stream stands (a new detector may start further on)
    speaking: bool = False
    _pending: bytes = b""
    _loud_run: int = 0  # loud frames in a row
    _quiet_since: int | None = None  # the sample where the current silence within speech began
    _frame: int = field(init=False)

    def __post_init__(self) -> None:
        self._frame = self.rate * FRAME_MS // 1000

    @property
    def level(self) -> float:
        """The loudness that counts as speech."""
        return QUIET_DB + (LOUD_DB - QUIET_DB) * self.threshold

    def _ms(self, samples: int) -> int:
        return samples * 1000 // self.rate

    def feed(self, pcm: bytes) -> list[Started | Stopped]:
        data = self._pending + pcm
        step = self._frame * 2
        whole = len(data) - len(data) % step
        self._pending = data[whole:]
        events: list[Started | Stopped] = []
        for start in range(0, whole, step):
            samples = array("h", data[start : start + step])
            if sys.byteorder == "big":
                samples.byteswap()
            loud = level_db(samples) >= self.level
            at = self.position
            self.position += self._frame
            if not self.speaking:
                self._loud_run = self._loud_run + 1 if loud else 0
                if self._loud_run >= START_FRAMES:
                    self.speaking, self._quiet_since = True, None
                    first_loud = at - (START_FRAMES - 1) * self._frame
                    events.append(Started(max(0, self._ms(first_loud) - self.prefix_padding_ms)))
                continue
            if loud:
                self._quiet_since = None
            elif self._quiet_since is None:
                self._quiet_since = at
            if (
                self._quiet_since is not None
                and self._ms(self.position - self._quiet_since) >= self.silence_duration_ms
            ):
                events.append(Stopped(self._ms(self._quiet_since)))
                self.speaking, self._loud_run, self._quiet_since = False, 0, None
        return events

    def reset(self) -> None:
        """A cleared buffer: what was heard of a turn is forgotten (the position goes on)."""
        self.speaking, self._loud_run, self._quiet_since, self._pending = False, 0, None, b""
