"""What the fast path's stream relay (relay.py `relay_frames`) does to each read of an OpenAI stream's frames:
searches of bytes, no frame decoded but the one that carries usage.

A plain function apart from the relay's async generator so that it is compiled (buildtools/babelgate_build.py's
HOT; mypyc compiles no generator of that kind): it runs for every frame of every relayed stream, where the
generator only waits for the next read and hands the result on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from babelgate.errors import GatewayError
from babelgate.providers.base import CallNotes
from babelgate.providers.openai.stream import stream_error
from babelgate.providers.openai.translate import usage_from_wire
from babelgate.providers.transport import checked_data, event_object
from babelgate.streaming import frame_data

_FINISH: Final = b'"finish_reason"'
_USAGE: Final = b'"usage"'
_FINISH_LENGTH: Final = len(_FINISH)
_USAGE_LENGTH: Final = len(_USAGE)
_NO_CHOICES: Final = (b'"choices":[]', b'"choices": []')
_NULL_USAGE: Final = (b',"usage":null', b', "usage": null')
_NULL: Final = b"null"
# The tail of every chunk of an OpenAI stream but its finish and usage chunks, when usage was asked for (the gateway
# asks): no finish reason yet, and a null usage, cut to `}\n\n` when the client had not asked (`_PLAIN_CUT`).
_PLAIN_TAIL: Final = b'"finish_reason":null}],"usage":null}\n\n'
_PLAIN_CUT: Final = -len(b',"usage":null}\n\n')
# How OpenAI's chunk events begin: with `_PLAIN_TAIL` after it, a chunk object that is neither an error nor anything
# to note, relayed as it is.
_CHUNK_HEAD: Final = b'data: {"id":'


def relay_read(
    frames: list[bytes], notes: CallNotes, provider: str, scrub: Callable[[str], str], hide_usage: bool
) -> tuple[bytes, bool, GatewayError | None]:
    """One read's frames as the client gets them, whether the stream ended with them (`[DONE]`: nothing after it
    is relayed), and the upstream's error event, if one came, to raise once the frames before it are sent.
    `hide_usage`: the gateway asked for usage the client did not (relay.ask_for_usage): the usage chunk is read,
    not relayed, and the `"usage":null` every other chunk then carries is cut. An event that is not a JSON
    object is raised at once as a protocol error (the client's SDK could not read it)."""
    out: list[bytes] = []
    for frame in frames:
        if frame.endswith(_PLAIN_TAIL) and frame.startswith(_CHUNK_HEAD):
            # OpenAI's usual chunk (a choice without a finish reason, the usage that is asked for every chunk but
            # the last null), told by its head and its tail: an object, no error, nothing to note.
            out.append(frame[:_PLAIN_CUT] + b"}\n\n" if hide_usage else frame)
            continue
        data = frame_data(frame)
        if data is None:  # comment or keep-alive: relay, it keeps proxies' idle timers happy
            out.append(frame)
            continue
        if data == b"[DONE]":
            notes.completed = True
            out.append(frame)
            return b"".join(out), True, None
        # `find`, not `in`: a bytes operand of `in` is first tried as a byte value, a TypeError formatted and
        # dropped, on every event.
        if data.find(b'"error"', 0, 16) >= 0:
            return b"".join(out), False, stream_error(event_object(data, provider), provider, scrub)
        if data[:1] != b"{" or data[-1:] != b"}":  # checked_data's usual case, without its call
            checked_data(data, provider)
        if _inspect(data, notes, provider):
            if hide_usage and (data.find(_NO_CHOICES[0]) >= 0 or data.find(_NO_CHOICES[1]) >= 0):
                continue  # the usage chunk the client did not ask for
        elif hide_usage:
            frame = _without_null_usage(frame)
        out.append(frame)
    return b"".join(out), False, None


def _without_null_usage(frame: bytes) -> bytes:
    """A frame without the `"usage":null` its event carries (any other than `_PLAIN_TAIL`'s: the finish chunk,
    another server's layout) when the gateway asked for usage the client did not."""
    if frame.find(_NULL) >= 0:  # a cheap first test before the replacements
        for marker in _NULL_USAGE:
            frame = frame.replace(marker, b"")
    return frame


def _inspect(data: bytes, notes: CallNotes, provider: str) -> bool:
    """Notes the finish reason and the usage an event carries; answers whether it carried usage. Most events
    carry both as a compact `null` (the gateway asks for usage, so every chunk says `"usage":null`): one
    comparison each in C rather than a slice and a strip."""
    position = data.find(_FINISH)
    if position >= 0 and not data.startswith(b":null", position + _FINISH_LENGTH):
        rest = data[position + _FINISH_LENGTH : position + _FINISH_LENGTH + 40].lstrip(b": ")
        if rest.startswith(b'"'):
            notes.finish_reason = rest[1 : rest.find(b'"', 1)].decode()
    position = data.find(_USAGE)
    if (
        position >= 0
        and not data.startswith(b":null", position + _USAGE_LENGTH)
        and not data[position + _USAGE_LENGTH : position + _USAGE_LENGTH + 8].lstrip(b": ").startswith(b"null")
    ):
        usage = usage_from_wire(event_object(data, provider).get("usage"))
        if usage is not None:
            notes.usage = usage
            return True
    return False
