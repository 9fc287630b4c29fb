"""Upstream HTTP failures → gateway errors: the one status table every provider shares.

Each provider's `errors.map_error` extracts the upstream's message and error type from its own
body format and calls `error_for_status`; the status decides the class, never the message text.
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import parsedate_to_datetime
from time import time
from typing import Final

from multidict import CIMultiDictProxy

from babelgate.errors import (
    GatewayError,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)

# 4xx statuses the client gets as they are (422 becomes 400: OpenAI clients know no 422).
_RELAYED_STATUS = {400: 400, 404: 404, 409: 409, 413: 413, 422: 400}
_REJECTED_TYPE = {404: "not_found_error", 409: "conflict", 413: "invalid_request_error"}


def error_for_status(
    status: int,
    *,
    provider: str,
    scrub: Callable[[str], str],
    message: str | None,
    code: str | None = None,
    param: str | None = None,
    retry_after: float | None = None,
) -> GatewayError:
    """`message`, `code` and `param` as the upstream sent them: every one is scrubbed here, the one
    place an upstream's words enter an error (a hostile upstream once put its key in `param` and
    `code`, which reached the client, the ledger and a metric label)."""
    message = scrub(message) if message else None
    code = _field(code, scrub)
    param = _field(param, scrub)
    if status in (401, 403):
        # Never relay the upstream's words here: they may quote part of our key.
        return UpstreamAuthFailed(
            provider=provider, status=status, error_type="authentication_error" if status == 401 else "permission_error"
        )
    if status == 429:
        return UpstreamRateLimited(
            provider=provider,
            retry_after=retry_after,
            raw_message=message,
            upstream_status=status,
            code=code if code in ("insufficient_quota", "rate_limit_exceeded") else None,
        )
    if status == 408 or status == 504:
        return UpstreamTimeout(provider=provider, phase=f"HTTP {status}", upstream_status=status)
    if status in (503, 529):
        return UpstreamUnavailable(provider=provider, retry_after=retry_after, upstream_status=status)
    if 400 <= status < 500:
        relayed = _RELAYED_STATUS.get(status, status)
        if code is None and status == 400 and message and _says_too_long(message):
            code = CONTEXT_LENGTH_EXCEEDED  # the router's context-window fallbacks go by it
        return UpstreamRejected(
            provider=provider,
            status=relayed,
            raw_message=message or None,
            code=code,
            param=param,
            error_type=_REJECTED_TYPE.get(relayed) if relayed != 400 else "invalid_request_error",
        )
    return UpstreamError(provider=provider, upstream_status=status)


def _field(value: str | None, scrub: Callable[[str], str]) -> str | None:
    """A short upstream field (a code, a parameter's name), scrubbed and cut: what is longer than
    a name is not one."""
    return scrub(value[:_FIELD_LENGTH]) if value else None


_FIELD_LENGTH: Final = 200
CONTEXT_LENGTH_EXCEEDED: Final = "context_length_exceeded"  # OpenAI's code, given to every provider's
# Words in which upstreams without a code of their own refuse a prompt longer than the model's
# context window (Anthropic: "prompt is too long: … tokens > … maximum"; Gemini: "The input token
# count (…) exceeds the maximum number of tokens allowed"; Mistral and OpenAI-compatible servers:
# "… maximum context length …"). The one place the gateway reads an upstream's words: no status or
# type tells this refusal apart, and a fallback to a larger model depends on it.
_TOO_LONG: Final = (
    "prompt is too long",
    "exceeds the maximum number of tokens",
    "maximum context length",
    "context length exceeded",
    "context window",
)


def _says_too_long(message: str) -> bool:
    lowered = message.lower()
    return any(words in lowered for words in _TOO_LONG)


def parse_retry_after(headers: CIMultiDictProxy[str]) -> float | None:
    """Seconds to wait, from `retry-after-ms`, `retry-after` seconds, or an HTTP date."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return float(milliseconds) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time())
    except (TypeError, ValueError):
        return None
