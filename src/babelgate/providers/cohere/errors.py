"""Cohere error bodies → GatewayError: `{"id", "message"}` (FastAPI-style `{"detail"}` read too)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from multidict import CIMultiDictProxy

from babelgate.errors import GatewayError
from babelgate.providers.status import error_for_status, parse_retry_after


def map_error(
    status: int, body: bytes, headers: CIMultiDictProxy[str] | None, *, provider: str, scrub: Callable[[str], str]
) -> GatewayError:
    try:
        parsed: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    message = None
    if isinstance(parsed, dict):
        given = parsed.get("message", parsed.get("detail"))
        message = given if isinstance(given, str) else None
    elif body:
        message = body.decode("utf-8", "replace").strip()[:500] or None
    return error_for_status(
        status,
        provider=provider,
        scrub=scrub,
        message=message,
        retry_after=parse_retry_after(headers) if headers is not None else None,
    )
