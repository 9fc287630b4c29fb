"""The names of the gateway's own response headers that more than one floor reads: set by the conductor
(the cache, the router), read back by the ledger when it builds a request's row; and the one form of an
answer's headers that is not a pair of its own, header lines the gateway wrote itself (`LINES`)."""

from collections.abc import Iterable
from typing import Final

CACHE: Final = b"x-babelgate-cache"  # hit, miss (response_cache.py)
ATTEMPTS: Final = b"x-babelgate-attempts"  # upstream attempts the answer took (routing/router.py)

# An answer's header pair with this (empty) name holds header lines the gateway wrote itself, whole:
# `name: value\r\n` each, from its own constant names and its own numbers (the rate limits' six
# `x-ratelimit-*` headers, two such pairs). The server of `babelgate serve` writes them into the head as they
# are (server_cycle.py: one piece of the head instead of six headers made, copied, looked up, checked and
# joined one by one: ~7-9k instructions fewer a governed request, docs/performance.md); for any other ASGI
# server the exchange makes them pairs (`pairs`) before they leave, since it announces no `LINES_EXTENSION`.
LINES: Final = b""
# The ASGI scope extension (`scope["extensions"]`) by which a server says it takes `LINES` pairs.
LINES_EXTENSION: Final = "babelgate.header_lines"


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
