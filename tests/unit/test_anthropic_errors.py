"""Golden tests of Anthropic HTTP errors → gateway errors (providers/anthropic/errors.py `map_error`).

One row per error Anthropic documents, with the statuses docs/decisions.md, "Upstream failures and the client's
status" decides: what the client finally sees is the OpenAI error object `error_object` renders, compared whole.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from babelgate.errors import (
    GatewayError,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from babelgate.frontends.openai_errors import error_object
from babelgate.observability.logging import Scrubber
from babelgate.providers.anthropic.errors import map_error

SECRET = "sk-ant-api03-AbCdEf0123456789-secret"
SCRUB = Scrubber([SECRET])
NO_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


def anthropic_body(kind: str, message: str) -> bytes:
    return orjson.dumps(
        {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"}
    )


def headers(**values: str) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict({key.replace("_", "-"): value for key, value in values.items()}))


def mapped(status: int, body: bytes, head: CIMultiDictProxy[str] | None = NO_HEADERS) -> GatewayError:
    return map_error(status, body, head, provider="anthropic", scrub=SCRUB)


def client_error(message: str | None, kind: str, code: str | None) -> dict[str, Any]:
    return {"message": message, "type": kind, "param": None, "code": code}


AUTH_MESSAGE = "The gateway's credentials for provider anthropic were rejected."

ROWS = [
    # upstream status, Anthropic error type, upstream message, class, client status, client error object
    (
        400,
        "invalid_request_error",
        "messages: text content blocks must be non-empty",
        UpstreamRejected,
        400,
        client_error("messages: text content blocks must be non-empty", "invalid_request_error", None),
    ),
    (
        401,
        "authentication_error",
        f"invalid x-api-key {SECRET[:20]}",
        UpstreamAuthFailed,
        401,
        client_error(AUTH_MESSAGE, "authentication_error", "upstream_authentication_error"),
    ),
    (
        402,
        "billing_error",
        "Your credit balance is too low to access the Anthropic API.",
        UpstreamRejected,
        402,
        client_error("Your credit balance is too low to access the Anthropic API.", "invalid_request_error", None),
    ),
    (
        403,
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
        UpstreamAuthFailed,
        403,
        client_error(AUTH_MESSAGE, "permission_error", "upstream_authentication_error"),
    ),
    (
        404,
        "not_found_error",
        "model: claude-nonexistent",
        UpstreamRejected,
        404,
        client_error("model: claude-nonexistent", "not_found_error", None),
    ),
    (
        413,
        "request_too_large",
        "Request exceeds the maximum allowed number of bytes.",
        UpstreamRejected,
        413,
        client_error("Request exceeds the maximum allowed number of bytes.", "invalid_request_error", None),
    ),
    (
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your per-minute rate limit",
        UpstreamRateLimited,
        429,
        client_error(
            "Number of request tokens has exceeded your per-minute rate limit",
            "rate_limit_error",
            "rate_limit_exceeded",
        ),
    ),
    (
        500,
        "api_error",
        "Internal server error",
        UpstreamError,
        502,
        client_error("Provider 'anthropic' failed with HTTP status 500.", "server_error", "upstream_error"),
    ),
    (
        529,
        "overloaded_error",
        "Overloaded",
        UpstreamUnavailable,
        503,
        client_error(
            "Provider 'anthropic' is temporarily unavailable; try again later.", "server_error", "upstream_unavailable"
        ),
    ),
    (
        504,
        "timeout_error",
        "Request timed out",
        UpstreamTimeout,
        504,
        client_error("Provider 'anthropic' did not answer in time (HTTP 504).", "timeout", "upstream_timeout"),
    ),
    # The SDK types these too (_exceptions.py); docs/decisions.md, "Upstream failures and the client's status" decides
    # their status.
    (
        408,
        "timeout_error",
        "Request Timeout",
        UpstreamTimeout,
        504,
        client_error("Provider 'anthropic' did not answer in time (HTTP 408).", "timeout", "upstream_timeout"),
    ),
    (409, "invalid_request_error", "Conflict", UpstreamRejected, 409, client_error("Conflict", "conflict", None)),
    (
        422,
        "invalid_request_error",
        "Unprocessable",
        UpstreamRejected,
        400,
        client_error("Unprocessable", "invalid_request_error", None),
    ),
    (
        502,
        "api_error",
        "Bad gateway",
        UpstreamError,
        502,
        client_error("Provider 'anthropic' failed with HTTP status 502.", "server_error", "upstream_error"),
    ),
    (
        503,
        "api_error",
        "Service unavailable",
        UpstreamUnavailable,
        503,
        client_error(
            "Provider 'anthropic' is temporarily unavailable; try again later.", "server_error", "upstream_unavailable"
        ),
    ),
]


@pytest.mark.parametrize(
    ("status", "kind", "message", "cls", "client_status", "expected"), ROWS, ids=[f"{row[0]}-{row[1]}" for row in ROWS]
)
def test_every_status_maps_by_the_one_table(
    status: int, kind: str, message: str, cls: type[GatewayError], client_status: int, expected: dict[str, Any]
) -> None:
    error = mapped(status, anthropic_body(kind, message))
    assert type(error) is cls
    assert error.status == client_status
    assert error_object(error, "en") == expected
    assert error.retry_after is None


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_never_relay_the_upstream_message(status: int) -> None:
    error = mapped(status, anthropic_body("authentication_error", f"invalid x-api-key: {SECRET}"))
    assert error.raw_message is None
    assert error.params == {"provider": "anthropic"}
    assert error.retryable is False
    message = error_object(error, "en")["message"]
    assert message == AUTH_MESSAGE


@pytest.mark.parametrize(
    ("status", "cls"), [(429, UpstreamRateLimited), (529, UpstreamUnavailable), (503, UpstreamUnavailable)]
)
def test_retry_after_is_kept(status: int, cls: type[GatewayError]) -> None:
    error = mapped(status, anthropic_body("rate_limit_error", "slow down"), headers(retry_after="7"))
    assert type(error) is cls
    assert error.retry_after == 7.0
    assert error.retryable is True
    assert error.headers() == [(b"retry-after", b"7")]


def test_retry_after_ms_wins_over_retry_after() -> None:
    error = mapped(
        429, anthropic_body("rate_limit_error", "slow down"), headers(retry_after_ms="2500", retry_after="9")
    )
    assert error.retry_after == 2.5
    assert error.headers() == [(b"retry-after", b"2")]


def test_no_headers_means_no_retry_after() -> None:
    error = mapped(429, anthropic_body("rate_limit_error", "slow down"), None)
    assert error.retry_after is None
    assert error.headers() == []


def test_a_key_in_a_relayed_message_is_scrubbed() -> None:
    error = mapped(400, anthropic_body("invalid_request_error", f"header x-api-key={SECRET} is malformed"))
    assert error_object(error, "en") == client_error(
        "header x-api-key=[redacted] is malformed", "invalid_request_error", None
    )


def test_a_body_that_is_not_json_is_relayed_as_text() -> None:
    error = mapped(413, b"  Request Entity Too Large\n")
    assert type(error) is UpstreamRejected
    assert error_object(error, "en") == client_error("Request Entity Too Large", "invalid_request_error", None)


@pytest.mark.parametrize("body", [b"", b"{}", b'{"error": "flat string"}', b"[]"])
def test_a_body_without_an_error_object_gets_our_message(body: bytes) -> None:
    error = mapped(400, body)
    assert type(error) is UpstreamRejected
    assert error_object(error, "en") == client_error(
        "Provider 'anthropic' rejected the request.", "invalid_request_error", None
    )


def test_a_long_text_body_is_cut_at_500_characters() -> None:
    error = mapped(400, b"x" * 2000)
    assert error.raw_message == "x" * 500
