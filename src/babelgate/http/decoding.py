"""Decoders for the content codings the client asks for (`Accept-Encoding: gzip, deflate`).

`deflate` is the zlib format (RFC 9110 §8.4.1.2), yet some servers send the bare deflate stream
under that name; browsers, urllib3 and aiohttp accept both, and so does this: the first two bytes
tell them apart, as a zlib stream opens with a header whose check a bare stream does not pass.
"""

from __future__ import annotations

import zlib
from typing import Final, Protocol

_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS


class BodyDecoder(Protocol):
    """What the connection uses of a decoder (zlib's own decompressor, or one shaped like it);
    `zlib.error` means bytes that do not decode. With `max_length`, at most that much comes out, and
    the input that did not fit waits in `unconsumed_tail`."""

    @property
    def unconsumed_tail(self) -> bytes: ...

    def decompress(self, data: bytes, max_length: int = 0) -> bytes: ...

    def flush(self) -> bytes: ...


class DeflateDecoder:
    """zlib-wrapped or bare deflate, decided by the first two bytes (held until both have come)."""

    __slots__ = ("_head", "_inner")

    def __init__(self) -> None:
        self._inner: zlib._Decompress | None = None
        self._head = b""

    @property
    def unconsumed_tail(self) -> bytes:
        return b"" if self._inner is None else self._inner.unconsumed_tail

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        if self._inner is None:
            data = self._head + data
            if len(data) < 2:
                self._head = data
                return b""
            self._head = b""
            self._inner = zlib.decompressobj(zlib.MAX_WBITS if is_zlib_header(data) else -zlib.MAX_WBITS)
        return self._inner.decompress(data, max_length)

    def flush(self) -> bytes:
        # A body that ended before its second byte decodes to nothing, as zlib's own flush returns
        # what it has of a cut-off stream: whoever reads the body finds it incomplete.
        return b"" if self._inner is None else self._inner.flush()


def is_zlib_header(data: bytes) -> bool:
    """RFC 1950: compression method 8 (deflate) in the low nibble of the first byte, and the first two
    bytes, read as a big-endian number, a multiple of 31. A bare stream never passes: its first three
    bits are 000 only for a stored block, whose next bits are padding that encoders write as zeros."""
    return data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def decoder_for(coding: bytes) -> BodyDecoder | None:
    """A fresh decoder for a `Content-Encoding` value (already stripped and lower-cased), or None for
    a coding the client never asked for (`identity` is the caller's to allow)."""
    if coding in (b"gzip", b"x-gzip"):
        return zlib.decompressobj(_GZIP_WBITS)
    if coding == b"deflate":
        return DeflateDecoder()
    return None
