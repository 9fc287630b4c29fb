"""The native road for Gemini API clients (frontends/gemini/native.py): the client's generateContent body
goes to the same method upstream, and the answer comes back as Gemini's bytes. Only what accounting needs
is read: the usage and finish reason of a whole answer, and of a stream's frame that carries a finish
reason (Gemini repeats the cumulative usage on each frame; the last one holds the totals).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

import msgspec
import orjson

from babelgate.errors import UpstreamProtocolError
from babelgate.http import UpstreamResponse, read_body
from babelgate.providers.base import CallNotes
from babelgate.providers.gemini.errors import error_from_object, stream_error_status
from babelgate.providers.gemini.translate import finish_reason, usage_from_wire
from babelgate.providers.sse import SSEBody
from babelgate.providers.transport import json_object, skim
from babelgate.streaming import frame_data

_FINISH: Final = b'"finishReason"'
_ERROR: Final = b'"error"'
_ABSENT: Final = msgspec.Raw()


# What `account` reads of a whole answer, the rest checked as JSON and skipped (transport.skim): the usage, and
# the first candidate's finish reason and whether its parts call a function. An answer of any other shape (an
# error, a candidate that is not an object, ...) is parsed whole.
class _Part(msgspec.Struct):
    functionCall: msgspec.Raw = _ABSENT


class _Content(msgspec.Struct):
    parts: list[_Part] | None = None


class _Candidate(msgspec.Struct):
    content: _Content | None = None
    finishReason: Any = None


class _Answer(msgspec.Struct):
    candidates: list[_Candidate] | None = None
    usageMetadata: Any = None
    error: msgspec.Raw = _ABSENT


_ANSWER: Final = msgspec.json.Decoder(_Answer)


def account(parsed: dict[str, Any], notes: CallNotes) -> None:
    """A GenerateContentResponse (or a stream's frame of one) into `notes`."""
    usage = usage_from_wire(parsed.get("usageMetadata"))
    if usage is not None:
        notes.usage = usage
    candidates = parsed.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
        first = candidates[0]
        calls = any(
            isinstance(part, dict) and "functionCall" in part
            for part in ((first.get("content") or {}).get("parts") or ())
        )
        reason = finish_reason(first.get("finishReason"), has_tool_calls=calls)
        if reason is not None:
            notes.finish_reason = reason


def _account(usage_metadata: Any, candidates: list[_Candidate] | None, notes: CallNotes) -> None:
    """`account` of a whole answer as `skim` read it."""
    usage = usage_from_wire(usage_metadata)
    if usage is not None:
        notes.usage = usage
    if candidates:
        first = candidates[0]
        parts = first.content.parts if first.content is not None else None
        calls = parts is not None and any(part.functionCall for part in parts)
        reason = finish_reason(first.finishReason, has_tool_calls=calls)
        if reason is not None:
            notes.finish_reason = reason


async def whole(response: UpstreamResponse, *, provider: str, notes: CallNotes, scrub: Callable[[str], str]) -> bytes:
    raw = response.read_now()
    if raw is None:
        raw = await read_body(response)
    answer = skim(raw, _ANSWER)
    if answer is not None and not answer.error:
        _account(answer.usageMetadata, answer.candidates, notes)
        notes.completed = True
        return raw
    parsed = json_object(raw, provider)
    error = parsed.get("error")
    if isinstance(error, dict):
        raise error_from_object(error, stream_error_status(error), provider=provider, scrub=scrub)
    account(parsed, notes)
    notes.completed = True
    return raw


async def frames(
    response: UpstreamResponse, *, provider: str, notes: CallNotes, scrub: Callable[[str], str]
) -> AsyncIterator[bytes]:
    """The `alt=sse` stream's frames as they come. Gemini sends no end marker: a stream is complete when
    a finish reason came before the connection closed."""
    sse = SSEBody(response, provider)
    finished = False
    async with contextlib.aclosing(sse.reads()) as reads:
        async for batch in reads:
            for frame in batch:
                if frame.find(_FINISH) >= 0 or frame.find(_ERROR) >= 0:
                    parsed = _payload(frame, provider)
                    error = parsed.get("error")
                    if isinstance(error, dict):
                        raise error_from_object(error, stream_error_status(error), provider=provider, scrub=scrub)
                    account(parsed, notes)
                    finished = finished or notes.finish_reason is not None
            yield b"".join(batch)
    answered = sse.json_instead()
    if answered is not None and isinstance(answered.get("error"), dict):
        error = answered["error"]
        raise error_from_object(error, stream_error_status(error), provider=provider, scrub=scrub)
    if not finished:
        raise UpstreamProtocolError("stream_interrupted", provider=provider)
    notes.completed = True


def _payload(frame: bytes, provider: str) -> dict[str, Any]:
    data = frame_data(frame)
    try:
        parsed = orjson.loads(data) if data is not None else None
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, list) and len(parsed) == 1:
        parsed = parsed[0]
    if not isinstance(parsed, dict):
        raise UpstreamProtocolError(provider=provider, detail="a stream event is not a JSON object")
    return parsed
