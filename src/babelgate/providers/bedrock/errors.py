"""Bedrock error answers -> GatewayError (BRT operation errors; AWS's JSON protocol errors).

An HTTP error is `{"message": "…"}` (some services write `Message`) with the error's name in the
`x-amzn-ErrorType` header (`ThrottlingException:http://internal.amazon.com/…`). Inside an event
stream (HTTP 200 already sent) an exception frame carries the same name in `:exception-type`. The
name decides the status where the HTTP status does not say enough (an exception frame has none), and
a ValidationException about a too-long input is the context-window error the fallbacks go by.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import orjson
from multidict import CIMultiDictProxy

from babelgate.errors import GatewayError, UpstreamAuthFailed, UpstreamError
from babelgate.providers.status import CONTEXT_LENGTH_EXCEEDED, error_for_status, parse_retry_after

# The status each error stands for (BRT error shapes' `httpStatusCode`, and the auth errors of the
# AWS front door, which are not in the service model).
ERROR_STATUS: Final[dict[str, int]] = {
    "ValidationException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ConflictException": 400,
    "ModelNotReadyException": 503,  # "the model is not ready to serve inference requests": retry
    "ServiceQuotaExceededException": 429,
    "ThrottlingException": 429,
    "ModelTimeoutException": 408,
    "InternalServerException": 500,
    "ModelErrorException": 502,
    "ModelStreamErrorException": 502,
    "ServiceUnavailableException": 503,
    "ServiceUnavailable": 503,
    "UnrecognizedClientException": 403,
    "InvalidSignatureException": 403,
    "ExpiredTokenException": 403,
    "IncompleteSignatureException": 403,
    "MissingAuthenticationTokenException": 403,
}
# The credentials' own failures (as opposed to a model the account may not use).
CREDENTIAL_ERRORS: Final = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "IncompleteSignatureException",
    }
)
# Words of a ValidationException that refuses a prompt longer than the model's window ("Input is too
# long for requested model.", "…exceeds the context window…", Claude's "prompt is too long").
_TOO_LONG: Final = ("too long", "context window", "context length", "maximum context")


class CredentialsRefused(UpstreamAuthFailed):
    """AWS refused the credentials themselves (expired or revoked token, unknown key, bad signature),
    not a permission they carry: the provider looks them up again."""


def error_name(headers: CIMultiDictProxy[str] | None, payload: dict[str, Any]) -> str:
    """The error's name: the header's (before its `:`), else the body's `__type` (`…#ThrottlingException`)."""
    raw = (headers.get("x-amzn-errortype") if headers is not None else None) or str(payload.get("__type") or "")
    return raw.split(":", 1)[0].rsplit("#", 1)[-1]


def map_error(
    status: int, body: bytes, headers: CIMultiDictProxy[str] | None, *, provider: str, scrub: Callable[[str], str]
) -> GatewayError:
    payload = _payload(body)
    name = error_name(headers, payload)
    return _error(status, name, _message(payload, body), provider=provider, scrub=scrub, headers=headers)


def error_from_frame(name: str, payload: bytes, *, provider: str, scrub: Callable[[str], str]) -> GatewayError:
    """An exception frame inside a stream: no HTTP status, so the exception's name decides. Frames
    name it as the stream's union member does (`throttlingException`), headers as its shape does."""
    name = name[:1].upper() + name[1:]
    parsed = _payload(payload)
    return _error(ERROR_STATUS.get(name, 500), name, _message(parsed, payload), provider=provider, scrub=scrub)


def _error(
    status: int,
    name: str,
    message: str | None,
    *,
    provider: str,
    scrub: Callable[[str], str],
    headers: CIMultiDictProxy[str] | None = None,
) -> GatewayError:
    status = ERROR_STATUS.get(name, status)
    if name in CREDENTIAL_ERRORS:
        # Never relay AWS's words here (as for any rejected key): they may quote part of it.
        return CredentialsRefused(provider=provider, status=403, error_type="permission_error")
    code = None
    if name == "ValidationException" and message and any(words in message.lower() for words in _TOO_LONG):
        code = CONTEXT_LENGTH_EXCEEDED
    if status == 502 or (status == 500 and name):
        # The model failed (ModelErrorException, a broken stream): keep its words, which say what.
        return UpstreamError(provider=provider, upstream_status=status, raw_message=scrub(message) if message else None)
    return error_for_status(
        status,
        provider=provider,
        scrub=scrub,
        message=message,
        code=code,
        retry_after=parse_retry_after(headers) if headers is not None else None,
    )


def _payload(body: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _message(payload: dict[str, Any], body: bytes) -> str | None:
    message = payload.get("message", payload.get("Message"))
    if isinstance(message, str):
        return message
    if not payload and body:
        return body.decode("utf-8", "replace").strip()[:500] or None
    return None
