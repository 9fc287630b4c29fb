"""Golden tests of Google error bodies → gateway errors (providers/gemini/errors.py `map_error`).

One row per error Google documents, with the statuses docs/decisions.md, "Upstream failures and the client's
status" decides (Gemini's 400 `API_KEY_INVALID` is an upstream authentication failure, 401): what the client finally
sees is the OpenAI error object `error_object` renders, compared whole.
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
from babelgate.providers.gemini.errors import map_error

JSON = dict[str, Any]
SECRET = "gemini-test-key-0123456789-secret"
SCRUB = Scrubber([SECRET])
NO_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())
AUTH_MESSAGE = "The gateway's credentials for provider gemini were rejected."
KEY_INVALID = [
    {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    },
    {
        "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
        "locale": "en-US",
        "message": "API key not valid. Please pass a valid API key.",
    },
]
QUOTA = [
    {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [
            {
                "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
            }
        ],
    },
    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"},
]


def google_body(code: int, status: str, message: str, details: list[JSON] | None = None) -> bytes:
    error: JSON = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return orjson.dumps({"error": error})


def headers(**values: str) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict({key.replace("_", "-"): value for key, value in values.items()}))


def mapped(status: int, body: bytes, head: CIMultiDictProxy[str] | None = NO_HEADERS) -> GatewayError:
    return map_error(status, body, head, provider="gemini", scrub=SCRUB)


def client_error(message: str | None, kind: str, code: str | None) -> JSON:
    return {"message": message, "type": kind, "param": None, "code": code}


ROWS = [
    # HTTP status, Google status, message, details, class, client status, client error object
    (
        400,
        "INVALID_ARGUMENT",
        'Invalid JSON payload received. Unknown name "foo": Cannot find field.',
        None,
        UpstreamRejected,
        400,
        client_error(
            'Invalid JSON payload received. Unknown name "foo": Cannot find field.', "invalid_request_error", None
        ),
    ),
    (
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        KEY_INVALID,
        UpstreamAuthFailed,
        401,
        client_error(AUTH_MESSAGE, "authentication_error", "upstream_authentication_error"),
    ),
    (
        400,
        "FAILED_PRECONDITION",
        "User location is not supported for the API use.",
        None,
        UpstreamRejected,
        400,
        client_error("User location is not supported for the API use.", "invalid_request_error", None),
    ),
    (
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials.",
        None,
        UpstreamAuthFailed,
        401,
        client_error(AUTH_MESSAGE, "authentication_error", "upstream_authentication_error"),
    ),
    (
        403,
        "PERMISSION_DENIED",
        "Method doesn't allow unregistered callers.",
        None,
        UpstreamAuthFailed,
        403,
        client_error(AUTH_MESSAGE, "permission_error", "upstream_authentication_error"),
    ),
    (
        404,
        "NOT_FOUND",
        "models/gemini-9-ultra is not found for API version v1beta.",
        None,
        UpstreamRejected,
        404,
        client_error("models/gemini-9-ultra is not found for API version v1beta.", "not_found_error", None),
    ),
    (
        409,
        "ABORTED",
        "The operation was aborted.",
        None,
        UpstreamRejected,
        409,
        client_error("The operation was aborted.", "conflict", None),
    ),
    (
        413,
        "INVALID_ARGUMENT",
        "Request payload size exceeds the limit: 20971520 bytes.",
        None,
        UpstreamRejected,
        413,
        client_error("Request payload size exceeds the limit: 20971520 bytes.", "invalid_request_error", None),
    ),
    (
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota.",
        QUOTA,
        UpstreamRateLimited,
        429,
        client_error("You exceeded your current quota.", "rate_limit_error", "rate_limit_exceeded"),
    ),
    (
        500,
        "INTERNAL",
        "An internal error has occurred.",
        None,
        UpstreamError,
        502,
        client_error("Provider 'gemini' failed with HTTP status 500.", "server_error", "upstream_error"),
    ),
    (
        503,
        "UNAVAILABLE",
        "The model is overloaded. Please try again later.",
        None,
        UpstreamUnavailable,
        503,
        client_error(
            "Provider 'gemini' is temporarily unavailable; try again later.", "server_error", "upstream_unavailable"
        ),
    ),
    (
        504,
        "DEADLINE_EXCEEDED",
        "Deadline expired before operation could complete.",
        None,
        UpstreamTimeout,
        504,
        client_error("Provider 'gemini' did not answer in time (HTTP 504).", "timeout", "upstream_timeout"),
    ),
]


@pytest.mark.parametrize(
    ("status", "google", "message", "details", "cls", "client_status", "expected"),
    ROWS,
    ids=[f"{row[0]}-{row[1]}{'-' + row[3][0]['reason'] if row[3] is KEY_INVALID else ''}" for row in ROWS],
)
def test_every_status_maps_by_the_one_table(
    status: int,
    google: str,
    message: str,
    details: list[JSON] | None,
    cls: type[GatewayError],
    client_status: int,
    expected: JSON,
) -> None:
    error = mapped(status, google_body(status, google, message, details))
    assert type(error) is cls
    assert error.status == client_status
    assert error_object(error, "en") == expected
    # Only the quota row carries Google's RetryInfo hint, which becomes Retry-After.
    assert error.retry_after == (37.0 if details is QUOTA else None)


@pytest.mark.parametrize("status", [400, 401, 403])
def test_auth_failures_never_relay_the_upstream_message(status: int) -> None:
    details = KEY_INVALID if status == 400 else None
    error = mapped(status, google_body(status, "INVALID_ARGUMENT", f"API key not valid: {SECRET[:12]}", details))
    assert isinstance(error, UpstreamAuthFailed)
    assert error.raw_message is None
    assert error.params == {"provider": "gemini"}
    assert error.retryable is False
    assert error_object(error, "en")["message"] == AUTH_MESSAGE


def test_api_key_invalid_is_found_among_other_details() -> None:
    details = [{"@type": "type.googleapis.com/google.rpc.Help", "links": []}, "junk", *KEY_INVALID]
    error = mapped(400, google_body(400, "INVALID_ARGUMENT", "API key expired. Please renew the API key.", details))
    assert (type(error), error.status) == (UpstreamAuthFailed, 401)


def test_another_reason_in_the_details_stays_a_400() -> None:
    details = [{"@type": "type.googleapis.com/google.rpc.BadRequest", "reason": "FIELD_INVALID"}]
    error = mapped(400, google_body(400, "INVALID_ARGUMENT", "bad field", details))
    assert (type(error), error.status, error.raw_message) == (UpstreamRejected, 400, "bad field")


@pytest.mark.parametrize(("status", "cls"), [(429, UpstreamRateLimited), (503, UpstreamUnavailable)])
def test_retry_after_is_kept(status: int, cls: type[GatewayError]) -> None:
    error = mapped(status, google_body(status, "RESOURCE_EXHAUSTED", "slow down", QUOTA), headers(retry_after="12"))
    assert type(error) is cls
    assert error.retry_after == 12.0
    assert error.retryable is True
    assert error.headers() == [(b"retry-after", b"12")]


def test_no_headers_means_no_retry_after() -> None:
    error = mapped(429, google_body(429, "RESOURCE_EXHAUSTED", "slow down"), None)
    assert error.retry_after is None
    assert error.headers() == []


def test_a_list_wrapped_error_body_is_read() -> None:
    body = b"[" + google_body(400, "INVALID_ARGUMENT", "wrapped in a list") + b"]"
    error = mapped(400, body)
    assert type(error) is UpstreamRejected
    assert error_object(error, "en") == client_error("wrapped in a list", "invalid_request_error", None)


def test_a_list_wrapped_bad_key_is_still_an_auth_failure() -> None:
    body = b"[" + google_body(400, "INVALID_ARGUMENT", "API key not valid.", KEY_INVALID) + b"]"
    assert type(mapped(400, body)) is UpstreamAuthFailed


def test_a_key_in_a_relayed_message_is_scrubbed() -> None:
    error = mapped(400, google_body(400, "INVALID_ARGUMENT", f"key={SECRET} is malformed"))
    assert error_object(error, "en") == client_error("key=[redacted] is malformed", "invalid_request_error", None)


def test_a_google_shaped_key_is_scrubbed_even_when_unknown() -> None:
    error = mapped(400, google_body(400, "INVALID_ARGUMENT", "key AIzaSyA1234567890abcdefghijKLMNOP is odd"))
    assert error.raw_message == "key [redacted] is odd"


def test_a_body_that_is_not_json_is_relayed_as_text_and_scrubbed() -> None:
    error = mapped(400, f"  Bad Request: key {SECRET}\n".encode())
    assert type(error) is UpstreamRejected
    assert error_object(error, "en") == client_error("Bad Request: key [redacted]", "invalid_request_error", None)


def test_an_html_5xx_body_gets_our_message() -> None:
    error = mapped(502, b"<html><body>502 Bad Gateway</body></html>")
    assert type(error) is UpstreamError
    assert error_object(error, "en") == client_error(
        "Provider 'gemini' failed with HTTP status 502.", "server_error", "upstream_error"
    )


def test_an_empty_body_gets_our_message() -> None:
    error = mapped(400, b"")
    assert type(error) is UpstreamRejected
    assert error_object(error, "en") == client_error(
        "Provider 'gemini' rejected the request.", "invalid_request_error", None
    )


def test_a_long_text_body_is_cut_at_500_characters() -> None:
    error = mapped(400, b"x" * 2000)
    assert error.raw_message == "x" * 500
