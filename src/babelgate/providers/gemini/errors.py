"""Google error bodies → GatewayError (GEM errors.py).

`{"error": {"code", "message", "status", "details"}}`. The status decides through the shared table,
except that Gemini answers a bad key with 400 `API_KEY_INVALID`, which is an authentication failure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from multidict import CIMultiDictProxy

from babelgate.errors import GatewayError, UpstreamAuthFailed
from babelgate.providers.status import error_for_status, parse_retry_after


def map_error(
    status: int, body: bytes, headers: CIMultiDictProxy[str] | None, *, provider: str, scrub: Callable[[str], str]
) -> GatewayError:
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    error = _error_object(parsed)
    if error is None:
        text = body.decode("utf-8", "replace").strip()[:500] if body and parsed is None else None
        return error_for_status(status, provider=provider, scrub=scrub, message=text)
    return error_from_object(
        error,
        status,
        provider=provider,
        scrub=scrub,
        retry_after=parse_retry_after(headers) if headers is not None else None,
    )


def error_from_object(
    error: dict[str, Any], status: int, *, provider: str, scrub: Callable[[str], str], retry_after: float | None = None
) -> GatewayError:
    """Also for an error object that arrives inside a stream, whose own `code` is the status."""
    if _api_key_invalid(error):
        return UpstreamAuthFailed(provider=provider)
    if retry_after is None:
        retry_after = _retry_delay(error)
    message = error.get("message")
    return error_for_status(
        status,
        provider=provider,
        scrub=scrub,
        message=message if isinstance(message, str) else None,
        retry_after=retry_after,
    )


def stream_error_status(error: dict[str, Any]) -> int:
    code = error.get("code")
    return code if isinstance(code, int) and 400 <= code < 600 else 500


def _error_object(parsed: Any) -> dict[str, Any] | None:
    # Google sometimes wraps the error in a one-element list.
    if isinstance(parsed, list) and parsed:
        parsed = parsed[0]
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        return parsed["error"]  # type: ignore[no-any-return]
    return None


def _retry_delay(error: dict[str, Any]) -> float | None:
    """Google puts its retry hint in a RetryInfo detail (`"retryDelay": "12s"`), not a header."""
    for detail in error.get("details") or ():
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return float(delay[:-1])
            except ValueError:
                return None
    return None


def _api_key_invalid(error: dict[str, Any]) -> bool:
    for detail in error.get("details") or ():
        if isinstance(detail, dict) and detail.get("reason") == "API_KEY_INVALID":
            return True
    return False
