"""Speech sentence by sentence: the chat model's text cut into sentences as it streams (`Sentences`), and each
sentence spoken in turn by the speech model as soon as it is whole (`Speaker`), so that the first audio leaves
while the model is still writing the rest."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Final

# A sentence ends at . ! ? … (or their CJK forms), and closing quotes or brackets after it, before a space; or at
# a line break.
_END: Final = re.compile("[.!?\u2026\u3002\uff01\uff1f]+[\"'\u201d\u2019)\\]]*(?=\\s)|[\u3002\uff01\uff1f]|\n+")
# A period this close to the sentence's start is likelier an abbreviation ("Dr.", "e.g.") than an end.
MIN_PERIOD_CUT: Final = 12
# Text without an end this long is cut at its last comma or space: a run-on answer still starts speaking.
MAX_SENTENCE: Final = 240


@dataclass(slots=True)
class Sentences:
    """Feed text as it streams; each call answers the sentences completed by it, `flush` what is left."""

    _text: str = ""

    def feed(self, text: str) -> list[str]:
        self._text += text
        out: list[str] = []
        start = 0
        for end in _END.finditer(self._text):
            piece = self._text[start : end.end()]
            if end.group().startswith(".") and len(piece.strip()) < MIN_PERIOD_CUT:
                continue
            if piece.strip():
                out.append(piece.strip())
            start = end.end()
        rest = self._text[start:]
        while len(rest) > MAX_SENTENCE:
            cut = max(rest.rfind(", ", 0, MAX_SENTENCE), rest.rfind(" ", 0, MAX_SENTENCE))
            cut = cut + 1 if cut > 0 else MAX_SENTENCE
            out.append(rest[:cut].strip())
            rest = rest[cut:]
        self._text = rest
        return [piece for piece in out if piece]

    def flush(self) -> str | None:
        rest, self._text = self._text.strip(), ""
        return rest or None


@dataclass(slots=True)
class Speaker:
    """Speaks sentences in their order, one after another, in a task of its own: `say` queues one, `finish` waits
    for the last to be spoken (and raises what speaking raised), `stop` drops what is left."""

    speak: Callable[[str], AsyncIterator[bytes]]
    on_sentence: Callable[[str], None]  # a sentence's speech begins: its transcript goes out
    on_audio: Callable[[bytes], None]
    _queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    _task: asyncio.Task[None] | None = None

    def say(self, sentence: str) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())
        self._queue.put_nowait(sentence)

    async def finish(self) -> None:
        if self._task is None:
            return
        self._queue.put_nowait(None)
        await self._task

    async def stop(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def _run(self) -> None:
        while (sentence := await self._queue.get()) is not None:
            self.on_sentence(sentence)
            audio = self.speak(sentence)
            try:
                async for pcm in audio:
                    self.on_audio(pcm)
            finally:
                aclose = getattr(audio, "aclose", None)
                if aclose is not None:
                    await aclose()
