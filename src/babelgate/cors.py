"""Cross-origin requests (CORS), for browser apps that call the gateway directly: off by default, so
no browser page on another origin can read an answer; `server.cors` names the origins allowed.

A preflight (`OPTIONS` with `Access-Control-Request-Method`) from an allowed origin is answered
here with 204 and what is allowed; any other request from an allowed origin gets the
`Access-Control-Allow-Origin` and `-Expose-Headers` headers on its answer, errors included. A
request from an origin not allowed gets no CORS header, so the browser withholds the answer.
"""

from __future__ import annotations

from babelgate.config.models import CorsConfig

Headers = list[tuple[bytes, bytes]]


class Cors:
    __slots__ = ("_answer", "_any", "_credentials", "_origins", "_preflight")

    def __init__(self, config: CorsConfig) -> None:
        self._origins = frozenset(origin.rstrip("/").encode() for origin in config.allow_origins)
        self._any = b"*" in self._origins
        self._credentials = config.allow_credentials
        self._answer: Headers = [(b"access-control-expose-headers", ", ".join(config.expose_headers).encode())]
        self._preflight: Headers = [
            (b"access-control-allow-methods", ", ".join(config.allow_methods).encode()),
            (b"access-control-allow-headers", ", ".join(config.allow_headers).encode()),
            (b"access-control-max-age", str(config.max_age).encode()),
        ]

    def _allowed(self, origin: bytes) -> Headers | None:
        if not (self._any or origin in self._origins):
            return None
        # A named origin is echoed (with Vary, so caches keep answers apart); with credentials a
        # browser refuses '*', so the origin is echoed then too.
        if self._any and not self._credentials:
            headers: Headers = [(b"access-control-allow-origin", b"*")]
        else:
            headers = [(b"access-control-allow-origin", origin), (b"vary", b"origin")]
        if self._credentials:
            headers.append((b"access-control-allow-credentials", b"true"))
        return headers

    def answer_headers(self, origin: bytes) -> Headers:
        """Headers for an answer to a request from `origin` (none for an origin not allowed)."""
        allowed = self._allowed(origin)
        return allowed + self._answer if allowed is not None else []

    def preflight_headers(self, origin: bytes) -> Headers | None:
        """Headers for a 204 answer to a preflight, or None when the origin is not allowed."""
        allowed = self._allowed(origin)
        return allowed + self._preflight if allowed is not None else None
