"""The AWS event stream (`application/vnd.amazon.eventstream`), both ways and I/O-free: bytes -> messages
(the Bedrock provider reads InvokeModelWithResponseStream and ConverseStream answers with it) and
messages -> bytes (the Bedrock InvokeModel frontend answers Claude Code and the `AnthropicBedrock` client with it).

Each message is a prelude (total length, headers length, the prelude's CRC32), headers, a payload and a
CRC32 of everything before it. Both CRCs are checked; a frame whose CRC does not match, a malformed
frame, or a body that ends inside a frame is the upstream's protocol error, and the frontend ends the
client's stream with its error event.

The format is botocore's `EventStreamBuffer`'s (botocore/eventstream.py: the same limits, the same header
value types); parsing it here in a few slices and `struct` calls instead costs a fraction of botocore's
generic parser, which walks each header through a dozen Python calls, on every frame of a stream
(figures: docs/performance.md). tests/unit/test_bedrock_translate.py
holds the two to the same messages, tests/unit/test_eventstream.py has botocore read what `encode` writes,
and the test suite's fake Bedrock is read by botocore's own client.
"""

from __future__ import annotations

import base64
import struct
from binascii import crc32
from typing import Final, NamedTuple

import orjson

from babelgate.errors import UpstreamProtocolError

_PRELUDE: Final = struct.Struct("!III")  # total length, headers length, prelude CRC
_CRC: Final = struct.Struct("!I")
_SHORT: Final = struct.Struct("!H")
_MAX_HEADERS: Final = 128 * 1024  # botocore's _MAX_HEADERS_LENGTH
_MAX_PAYLOAD: Final = 24 * 1024 * 1024  # botocore's _MAX_PAYLOAD_LENGTH
# Fixed sizes of the header value types (botocore's EventStreamHeaderParser): 0 true, 1 false, 2 byte,
# 3 short, 4 integer, 5 long, 8 timestamp, 9 uuid; 6 (bytes) and 7 (string) carry a 2-byte length.
_FIXED: Final = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}
_KIND: Final = ":message-type"
_NAMES: Final = {"event": ":event-type", "exception": ":exception-type", "error": ":error-code"}
_CORRUPT: Final = "an event-stream frame failed its CRC check"
_MALFORMED: Final = "an event-stream frame is malformed"


class StreamMessage(NamedTuple):
    """One event-stream message: `kind` is its `:message-type` (event, exception or error), `name`
    its `:event-type`, `:exception-type` or `:error-code`, `payload` its bytes (JSON for Bedrock). A
    tuple: one is made per frame."""

    kind: str
    name: str
    payload: bytes


_new_tuple: Final = tuple.__new__


class EventStreamDecoder:
    """feed(bytes) -> the messages those bytes completed; `pending` says a message is half received."""

    __slots__ = ("_buffer", "_seen", "provider")

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self._buffer = b""
        # A stream's frames repeat a few header blocks (a chunk event's are all the same bytes): each
        # block is parsed once per stream.
        self._seen: dict[bytes, tuple[str, str]] = {}

    @property
    def pending(self) -> bool:
        return bool(self._buffer)

    def feed(self, data: bytes) -> list[StreamMessage]:
        buffer = self._buffer + data if self._buffer else data
        messages = []
        start, end = 0, len(buffer)
        while end - start >= 12:
            total, headers_length, prelude_crc = _PRELUDE.unpack_from(buffer, start)
            payload_length = total - headers_length - 16
            if headers_length > _MAX_HEADERS or payload_length > _MAX_PAYLOAD or payload_length < 0:
                raise self._malformed(_CORRUPT if crc32(buffer[start : start + 8]) != prelude_crc else _MALFORMED)
            if end - start < total:
                # About to wait for the rest: the prelude's own CRC first, so a length that is not the
                # upstream's fails now instead of waiting for bytes that never come.
                if crc32(buffer[start : start + 8]) != prelude_crc:
                    raise self._malformed(_CORRUPT)
                break
            # A whole frame: its CRC covers the prelude and the prelude's CRC too, so one check (one
            # `crc32` a frame, not two) refuses a frame with any byte changed, its lengths among them.
            crc_at = start + total - 4
            if crc32(buffer[start:crc_at]) != _CRC.unpack_from(buffer, crc_at)[0]:
                raise self._malformed(_CORRUPT)
            block = buffer[start + 12 : start + 12 + headers_length]
            named = self._seen.get(block)
            if named is None:
                headers = self._headers(block, 0, headers_length)
                kind = headers.get(_KIND, "event")
                named = (kind, headers.get(_NAMES.get(kind, ":event-type"), ""))
                if len(self._seen) < 64:
                    self._seen[block] = named
            # The tuple made in C (StreamMessage(...) is a Python-level __new__: a frame a message).
            messages.append(_new_tuple(StreamMessage, (*named, buffer[start + 12 + headers_length : crc_at])))
            start += total
        self._buffer = buffer[start:]
        return messages

    def _headers(self, buffer: bytes, at: int, end: int) -> dict[str, str]:
        """The string-valued headers (the ones Bedrock's frames carry); values of other types are skipped."""
        headers: dict[str, str] = {}
        try:
            while at < end:
                name_length = buffer[at]
                name = buffer[at + 1 : at + 1 + name_length].decode()
                at += 1 + name_length
                kind = buffer[at]
                at += 1
                if kind in (6, 7):
                    (length,) = _SHORT.unpack_from(buffer, at)
                    if kind == 7:
                        headers[name] = buffer[at + 2 : at + 2 + length].decode()
                    at += 2 + length
                else:
                    at += _FIXED[kind]
        except (IndexError, KeyError, UnicodeDecodeError, struct.error):
            raise self._malformed("an event-stream frame has malformed headers") from None
        if at != end:
            raise self._malformed("an event-stream frame has malformed headers")
        return headers

    def _malformed(self, detail: str) -> UpstreamProtocolError:
        return UpstreamProtocolError(provider=self.provider, detail=detail)


def encode(headers: tuple[tuple[str, str], ...], payload: bytes) -> bytes:
    """One message whose headers are all strings (type 7, the only type Bedrock's frames carry)."""
    return _framed(_header_block(headers), payload)


def _header_block(headers: tuple[tuple[str, str], ...]) -> bytes:
    return b"".join(
        bytes((len(name),)) + name.encode() + b"\x07" + _SHORT.pack(len(value.encode())) + value.encode()
        for name, value in headers
    )


def _framed(block: bytes, payload: bytes) -> bytes:
    prelude = struct.pack("!II", 16 + len(block) + len(payload), len(block))
    message = prelude + _CRC.pack(crc32(prelude)) + block + payload
    return message + _CRC.pack(crc32(message))


_CHUNK_HEADERS: Final = ((":event-type", "chunk"), (":content-type", "application/json"), (":message-type", "event"))


def chunk(data: bytes) -> bytes:
    """InvokeModelWithResponseStream's `chunk` event: `data` (one Anthropic stream event's JSON) base64 in
    `bytes`, as Bedrock frames each event of a Claude stream."""
    return encode(_CHUNK_HEADERS, b'{"bytes":"' + base64.b64encode(data) + b'"}')


# The header block of each event name written (ConverseStream's half a dozen), encoded once: a bounded cache of
# a pure function of the name.
_EVENT_BLOCKS: Final[dict[str, bytes]] = {}


def event(name: str, payload: bytes) -> bytes:
    """One event message (`:event-type` `name`, a JSON payload): a ConverseStream event as Bedrock frames it."""
    block = _EVENT_BLOCKS.get(name)
    if block is None:
        headers = ((":event-type", name), (":content-type", "application/json"), (":message-type", "event"))
        block = _header_block(headers)
        if len(_EVENT_BLOCKS) < 64:
            _EVENT_BLOCKS[name] = block
    return _framed(block, payload)


def exception(name: str, message: str) -> bytes:
    """An exception message (`:exception-type`, e.g. `modelStreamErrorException`): how Bedrock ends a stream
    that failed after it began; the SDKs raise it as the named error."""
    headers = ((":exception-type", name), (":content-type", "application/json"), (":message-type", "exception"))
    return encode(headers, orjson.dumps({"message": message}))
