"""What every provider's I/O class does the same way: send, map an error status, read a JSON body."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import aiohttp
import orjson
from multidict import CIMultiDictProxy

from babelgate.errors import GatewayError, UpstreamProtocolError
from babelgate.http import Timeouts, UpstreamClient, read_body


class ErrorMapper(Protocol):
    def __call__(self, status: int, body: bytes, headers: CIMultiDictProxy[str] | None, *, provider: str,
                 scrub: Callable[[str], str]) -> GatewayError: ...


async def send_checked(
    client: UpstreamClient,
    method: str,
    url: str,
    *,
    provider: str,
    headers: Mapping[str, str],
    body: bytes | None,
    timeouts: Timeouts,
    map_error: ErrorMapper,
    scrub: Callable[[str], str],
) -> aiohttp.ClientResponse:
    """The response once the upstream accepted the request; an error status is raised, mapped."""
    response = await client.send(method, url, provider=provider, headers=headers, body=body, timeouts=timeouts)
    if response.status >= 400:
        raw = await read_body(response, provider)
        raise map_error(response.status, raw, response.headers, provider=provider, scrub=scrub)
    return response


def event_object(data: str | bytes, provider: str) -> dict[str, Any]:
    """One stream event's JSON object; anything else is the upstream's protocol error."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamProtocolError(provider=provider, detail="a stream event is not JSON") from None
    if not isinstance(parsed, dict):
        raise UpstreamProtocolError(provider=provider, detail="a stream event is not an object")
    return parsed


async def read_json_object(response: aiohttp.ClientResponse, provider: str) -> tuple[bytes, dict[str, Any]]:
    """The body as bytes and as a parsed object; anything else is the upstream's protocol error."""
    raw = await read_body(response, provider)
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamProtocolError(provider=provider, detail="the body is not JSON") from None
    if not isinstance(parsed, dict):
        raise UpstreamProtocolError(provider=provider, detail="the body is not a JSON object")
    return raw, parsed
