"""Anthropic error bodies → GatewayError (ANT shared/error_response.py; docs' errors page).

`{"type": "error", "error": {"type", "message"}, "request_id"}`. The HTTP status decides through
the shared table; inside a stream (HTTP 200 already sent) the error's type decides instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import orjson
from multidict import CIMultiDictProxy

from babelgate.errors import GatewayError, UpstreamError
from babelgate.providers.status import error_for_status, parse_retry_after

# The status each error type stands for, for errors that arrive inside a stream.
_TYPE_STATUS: Final[dict[str, int]] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def map_error(
    status: int, body: bytes, headers: CIMultiDictProxy[str] | None, *, provider: str, scrub: Callable[[str], str]
) -> GatewayError:
    error = _error_object(body)
    message = error.get("message")
    return error_for_status(
        status,
        provider=provider,
        scrub=scrub,
        message=message if isinstance(message, str) else None,
        retry_after=parse_retry_after(headers) if headers is not None else None,
    )


def error_from_body(payload: dict[str, Any], *, provider: str, scrub: Callable[[str], str]) -> GatewayError:
    """An `event: error` inside a stream: no HTTP status to go by, so its type decides."""
    error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
    kind = str(error.get("type", "api_error"))  # type: ignore[union-attr]
    message = error.get("message")  # type: ignore[union-attr]
    text = message if isinstance(message, str) else None
    status = _TYPE_STATUS.get(kind, 500)
    if status >= 500 and status not in (503, 504, 529):
        # An api_error mid-stream: keep the upstream's words, which say what went wrong.
        return UpstreamError(provider=provider, upstream_status=status, raw_message=scrub(text) if text else None)
    return error_for_status(status, provider=provider, scrub=scrub, message=text)


def _error_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        return {"message": text[:500]} if text else {}
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        return parsed["error"]  # type: ignore[no-any-return]
    return {}
