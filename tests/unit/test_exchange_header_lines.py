"""Header lines the gateway writes whole (headers.LINES: the rate limits' headers) leave as they are only for a server
that announces it takes them (`babelgate serve`'s); any other ASGI server (uvicorn's own protocol, hypercorn, a test
transport) gets them as header pairs."""

from __future__ import annotations

from typing import Any

import pytest

from babelgate.exchange import Exchange
from babelgate.frontends.openai_errors import encode_error
from babelgate.headers import LINES, LINES_EXTENSION
from babelgate.observability.request_id import RequestIds

LIMITS = b"x-ratelimit-limit-requests: 3\r\nx-ratelimit-remaining-requests: 2\r\nx-ratelimit-reset-requests: 1s\r\n"


async def _start_headers(scope_extra: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "headers": [], "method": "POST", "path": "/v1/chat/completions", **scope_extra}
    exchange = Exchange(scope, lambda: None, send, RequestIds(), errors=encode_error)
    await exchange.respond(200, b"{}", headers=[(LINES, LIMITS), (b"x-babelgate-cache", b"miss")])
    headers: list[tuple[bytes, bytes]] = sent[0]["headers"]
    return headers


@pytest.mark.parametrize("extensions", [None, {}, {"http.response.trailers": {}}])
async def test_a_server_that_does_not_take_lines_gets_pairs(extensions: dict[str, Any] | None) -> None:
    headers = await _start_headers({} if extensions is None else {"extensions": extensions})
    assert all(name for name, _ in headers)
    assert (b"x-ratelimit-limit-requests", b"3") in headers and (b"x-ratelimit-reset-requests", b"1s") in headers
    assert (b"x-babelgate-cache", b"miss") in headers


async def test_the_gateways_own_server_gets_the_lines_whole() -> None:
    headers = await _start_headers({"extensions": {LINES_EXTENSION: {}}})
    assert (LINES, LIMITS) in headers and (b"x-ratelimit-limit-requests", b"3") not in headers
