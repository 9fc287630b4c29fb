"""A streamed answer through its output guardrails, event by event, in the door's own framing (SSE, NDJSON,
WebSocket messages, or one JSON array written an element at a time: `guarded_array`).

The text of a stream arrives in pieces (`TextPaths.pieces`: a delta per event). Each local guardrail reads the
pieces of one path through a window (window.py) that holds back only as much text as its longest match needs,
so a secret split across two events is still found whole, and what it releases goes on at once: the first byte
is not delayed by detectors that do not need it. A held piece goes out with the next event that carries that
path's text, or, before an event that carries none (the end of a choice, the `[DONE]`), in a copy of the last
event that did. Whole texts repeated at the end (`TextPaths.wholes`: a `done` event) are checked whole, and a
reversible mask's placeholders are put back in both.

A guardrail that blocks ends the stream with the door's error event (GuardrailBlocked, raised here); what went
out before it stays out.

External checkers read the answer whole, at its end (`finish`): while they are configured, the events that carry
no text (a choice's end, the usage, `[DONE]`, a `done` or `completed` event) are held until the next event that
does, so the stream's last events wait for their verdict; a block ends the stream with the error event instead of
them. What a checker would mask has gone out already: its mask is recorded as `log`.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final

import orjson

from babelgate.errors import GuardrailBlocked
from babelgate.guardrails.check import Decisions, check_whole
from babelgate.guardrails.guardrail import Guardrail
from babelgate.guardrails.masking import mask
from babelgate.guardrails.paths import TextPaths, Where
from babelgate.guardrails.window import StreamWindow


class _PathText:
    """One path's text as it streams: each local guardrail's window in turn, then the vault's restorer."""

    __slots__ = ("decisions", "guards", "restorer", "seen", "template", "windows")

    def __init__(self, guards: Sequence[Guardrail], decisions: Decisions, seen: list[str] | None) -> None:
        self.guards = guards
        self.seen = seen  # the text the windows let out, for the external checkers at the end (None: there are none)
        self.decisions = decisions
        self.windows = [StreamWindow(_finder(guard)) for guard in guards]
        self.restorer = decisions.vault.restorer() if decisions.vault is not None else None
        # The last event that carried this path's text (its document, and the framing around it), to copy for a
        # held piece that has no later event of its own.
        self.template: tuple[Any, bytes, bytes] | None = None

    def push(self, piece: str) -> str:
        for guard, window in zip(self.guards, self.windows, strict=True):
            released = window.push(piece)
            piece = decide(guard, released.text, released.findings, self.decisions)
        if self.seen is not None:
            self.seen.append(piece)
        return self.restorer.push(piece) if self.restorer is not None else piece

    def close(self) -> str:
        """What every window still holds, each passed through the windows after it."""
        out = ""
        for guard, window in zip(self.guards, self.windows, strict=True):
            text = ""
            if out:
                released = window.push(out)
                text = decide(guard, released.text, released.findings, self.decisions)
            rest = window.close()
            out = text + decide(guard, rest.text, rest.findings, self.decisions)
        if self.seen is not None:
            self.seen.append(out)
        if self.restorer is not None:
            out = self.restorer.push(out) + self.restorer.close()
        return out


def _finder(guard: Guardrail) -> Any:
    assert guard.finder is not None
    return guard.finder


def decide(guard: Guardrail, text: str, findings: Sequence[Any], decisions: Decisions) -> str:
    """What a local guardrail does with what it found in `text` at the output: raises GuardrailBlocked, or
    answers the text masked, or as it was (and notes the finding)."""
    if not findings:
        return text
    if guard.action == "block":
        decisions.note(guard.name, "output", "block")
        raise GuardrailBlocked(guard.name, "output")
    if guard.action == "mask":
        decisions.note(guard.name, "output", "mask")
        vault = decisions.vault_for() if guard.mask_style == "reversible" else None
        return mask(text, list(findings), guard.mask_style, vault)
    decisions.note(guard.name, "output", "log")
    return text


class StreamGuard:
    """The guardrails over one streamed answer: frames in, the guarded frames out, in the same framing (`feed`
    and `close` answer the frames to send: for SSE and NDJSON any number of whole events joined in one, for
    WebSocket messages one event each)."""

    def __init__(
        self,
        paths: TextPaths,
        guards: Sequence[Guardrail],
        decisions: Decisions,
        model: str = "",
        key_id: str | None = None,
    ) -> None:
        self.paths = paths
        self.guards = [guard for guard in guards if guard.finder is not None and "output" in guard.stages]
        self.externals = [guard for guard in guards if guard.external is not None and "output" in guard.stages]
        self.decisions = decisions
        self._model, self._key_id = model, key_id
        self._texts: dict[Where, _PathText] = {}
        self._seen: dict[Where, list[str]] = {}  # each path's text as it went out (external checkers read it)
        self._tail: list[bytes] = []  # events without text, held for the external checkers' verdict
        self._buffer = b""
        # A JSON array's elements come one a feed (`guarded_array` takes the array apart), as WebSocket messages do.
        self._separator = {"sse": b"\n\n", "ndjson": b"\n", "json-array": b"", "message": b""}[paths.framing]

    def feed(self, data: bytes | str) -> list[bytes]:
        """The guarded frames of every whole event `data` completes (a partial event waits for its end)."""
        if isinstance(data, str):
            data = data.encode()
        if not self._separator:  # a WebSocket message is one whole event
            return self._event(data)
        buffer = self._buffer + data
        end = buffer.rfind(self._separator)
        if end < 0:
            self._buffer = buffer
            return []
        end += len(self._separator)
        self._buffer = buffer[end:]
        out: list[bytes] = []
        for event in buffer[:end].split(self._separator):
            if event:
                out += self._event(event)
        return [b"".join(out)] if out else []

    def close(self) -> list[bytes]:
        """The end of the stream: every piece still held, then a partial event as it came."""
        out = self._flush()
        rest, self._buffer = self._buffer, b""
        if rest:
            (self._tail if self.externals else out).append(rest)
        return self._joined(out)

    async def finish(self) -> list[bytes]:
        """After `close`: the external checkers' verdict over the whole answer (raises GuardrailBlocked), then the
        events held for it."""
        texts = ["".join(pieces) for pieces in self._seen.values()]
        await check_whole(self.externals, [text for text in texts if text], self.decisions, self._model, self._key_id)
        tail, self._tail = self._tail, []
        return self._joined(tail)

    def _joined(self, out: list[bytes]) -> list[bytes]:
        if self._separator and out:
            return [b"".join(out)]
        return out

    def _held(self, ready: list[bytes], event: bytes) -> list[bytes]:
        """An event that carries no text: held while external checkers wait for the end (`ready` goes now)."""
        if not self.externals:
            return [*ready, event]
        self._tail.append(event)
        return ready

    def _event(self, event: bytes) -> list[bytes]:
        document, before, after = self._decode(event)
        if document is None:
            return self._held(self._flush(), event + self._separator)
        carried = False
        for path in self.paths.pieces.each:
            found = path.slots(document)
            if any(holder[key] for holder, key in found):
                text = self._text(path)
                text.template = (copy.deepcopy(document), before, after)
                for holder, key in found:
                    holder[key] = text.push(holder[key])
                carried = True
            elif found and path in self._texts:  # an empty piece (Ollama's last line): the held text goes in it
                holder, key = found[0]
                holder[key] = self._texts.pop(path).close()
        flushed = [] if carried else self._flush()
        self._wholes(document)
        frame = before + orjson.dumps(document) + after + self._separator
        if not carried:
            return self._held(flushed, frame)
        tail, self._tail = self._tail, []
        return [*tail, frame]

    def _text(self, path: Where) -> _PathText:
        text = self._texts.get(path)
        if text is None:
            seen = self._seen.setdefault(path, []) if self.externals else None
            text = self._texts[path] = _PathText(self.guards, self.decisions, seen)
        return text

    def _flush(self) -> list[bytes]:
        """Every path's held text, each in a copy of the last event that carried that path's text."""
        out = []
        for path, text in list(self._texts.items()):
            held = text.close()
            del self._texts[path]
            if not held or text.template is None:
                continue
            document, before, after = text.template
            for other in self.paths.pieces.each:
                for holder, key in other.slots(document):
                    holder[key] = ""
            first = next(iter(path.slots(document)), None)
            if first is not None:
                first[0][first[1]] = held
                out.append(before + orjson.dumps(document) + after + self._separator)
        return out

    def _wholes(self, document: Any) -> None:
        """Whole texts repeated in an event (a `done` event), checked whole, their placeholders put back."""
        if not self.paths.wholes:
            return
        vault = self.decisions.vault
        for holder, key in self.paths.wholes.slots(document):
            text = holder[key]
            for guard in self.guards:
                text = decide(guard, text, _finder(guard).find(text), self.decisions)
            holder[key] = vault.restore(text) if vault is not None else text

    def _decode(self, event: bytes) -> tuple[Any, bytes, bytes]:
        """The event's JSON document, with what precedes and follows it in the framing; None: not JSON."""
        if self.paths.framing != "sse":
            try:
                return orjson.loads(event), b"", b""
            except orjson.JSONDecodeError:
                return None, b"", b""
        start = event.find(b"data:")
        if start < 0:
            return None, b"", b""
        value = start + 5
        if event[value : value + 1] == b" ":
            value += 1
        end = event.find(b"\n", value)
        payload = event[value:] if end < 0 else event[value:end]
        if payload == b"[DONE]":
            return None, b"", b""
        try:
            document = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return None, b"", b""
        return document, event[:value], b"" if end < 0 else event[end:]


async def guarded_frames(first: bytes, rest: AsyncIterator[bytes], guard: StreamGuard) -> AsyncIterator[bytes]:
    """`first` and `rest` through `guard`, each frame it answers in turn."""
    for out in guard.feed(first):
        yield out
    try:
        async for frame in rest:
            for out in guard.feed(frame):
                yield out
    finally:
        close = getattr(rest, "aclose", None)
        if close is not None:
            await close()
    for out in guard.close():
        yield out
    for out in await guard.finish():
        yield out


# How the gateway writes a JSON array as it streams (frontends/gemini/stream.py): `[`, the elements between these,
# then `\n]`. No element holds a raw newline (JSON strings escape theirs).
_ARRAY_START: Final = b"["
_ARRAY_BETWEEN: Final = b"\n,\r\n"
_ARRAY_END: Final = b"\n]"


async def guarded_array(first: bytes, rest: AsyncIterator[bytes], guard: StreamGuard) -> AsyncIterator[bytes]:
    """A JSON array streamed an element at a time, each element through `guard` as one event, written again as
    the same array: an element a copy adds (a held piece flushed) is one more element."""
    written = 0
    buffer = b""

    def framed(outs: list[bytes]) -> bytes:
        nonlocal written
        framed = b"".join((_ARRAY_BETWEEN if written + n else _ARRAY_START) + out for n, out in enumerate(outs))
        written += len(outs)
        return framed

    async def frames() -> AsyncIterator[bytes]:
        yield first
        async for frame in rest:
            yield frame

    try:
        async for frame in frames():
            buffer += frame
            if not written and buffer.startswith(_ARRAY_START):
                buffer = buffer[len(_ARRAY_START) :]
            *elements, buffer = buffer.split(_ARRAY_BETWEEN)
            out = framed([guarded for element in elements for guarded in guard.feed(element)])
            if out:
                yield out
    finally:
        close = getattr(rest, "aclose", None)
        if close is not None:
            await close()
    last = buffer.removeprefix(_ARRAY_START).removesuffix(_ARRAY_END).strip()
    outs = guard.feed(last) if last else []
    outs += guard.close()
    outs += await guard.finish()
    yield framed(outs) + (b"" if written else _ARRAY_START) + _ARRAY_END
