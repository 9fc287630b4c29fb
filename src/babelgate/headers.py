"""The names of the gateway's own response headers that more than one floor reads: set by the conductor
(the cache, the router), read back by the ledger when it builds a request's row; and the one form of an
answer's headers that is not a pair of its own, header lines the gateway wrote itself (`LINES`)."""

from collections.abc import Iterable
from typing import Final

CACHE: Final = b"x-babelgate-cache"  # hit, miss (response_cache.py)
ATTEMPTS: Final = b"x-babelgate-attempts"  # upstream attempts the answer took (routing/router.py)

# An answer's header pair with this (empty) name holds header lines the gateway wrote itself, whole:
# `name: value\r\n` each, from its own constant names and its own numbers (the rate limits' six
# `x-ratelimit-*` headers: one such pair, or one per unit when different scopes limit requests and tokens). The
# server of `babelgate serve` writes them into the head as they are (server_cycle.py: one piece of the head
# instead of six headers made, copied, looked up, checked and joined one by one: ~7-9k instructions fewer a
# governed request, docs/performance.md); for any other ASGI
# server the exchange makes them pairs (`pairs`) before they leave, since it announces no `LINES_EXTENSION`.
LINES: Final = b""
# The ASGI scope extension (`scope["extensions"]`) by which a server says it takes `LINES` pairs.
LINES_EXTENSION: Final = "babelgate.header_lines"
# What a header value may not hold (RFC 9110 5.5: no control characters but the tab); in header lines, only
# their own line ends.
VALUE_REFUSED: Final = bytes(byte for byte in range(256) if byte != 9 and (byte < 32 or byte == 127))


class CheckedLines(bytes):
    """A `LINES` value made only of pieces checked where they were made, once (the rate limiter's: its templates
    when the module loads, its reset texts when first written, its numbers by `%d`): whole, non-empty lines with
    no control character but their line ends. The server writes these as they are; any other `LINES` value it
    checks whole first (`lines_are_safe`), which costs more than the rest of the six headers' way into the head
    (three passes over ~230 bytes, ~10k instructions a governed request: docs/performance.md)."""

    __slots__ = ()


def lines_are_safe(joined: bytes) -> bool:
    """Whether `joined` is header lines that cannot end the head or split the answer: they end with CRLF, no line
    is empty, and the only control characters in them are their line ends (what deleting every refused byte
    removes is exactly what removing the CRLFs does: a lone CR or LF, or any other control character, makes the
    two differ)."""
    return (
        joined[:2] != b"\r\n"
        and joined.find(b"\r\n\r\n") < 0
        and joined.endswith(b"\r\n")
        and joined.translate(None, VALUE_REFUSED) == joined.replace(b"\r\n", b"")
    )


def pairs(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` with every `LINES` pair made the header pairs it holds: what any ASGI server takes."""
    out: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        if name:
            out.append((name, value))
            continue
        for line in value.split(b"\r\n"):
            if line:
                field, _, text = line.partition(b":")
                out.append((field, text.strip()))
    return out
