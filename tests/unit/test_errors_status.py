"""Upstream HTTP failures → gateway errors (providers/status.py, providers/openai/errors.py)."""

from __future__ import annotations

from email.utils import formatdate
from time import time

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
from babelgate.frontends.openai_errors import encode_error, encode_stream_error, error_object
from babelgate.observability.logging import Scrubber
from babelgate.providers.openai.errors import error_fields, map_error
from babelgate.providers.status import error_for_status, parse_retry_after

SECRET = "sk-test-UPSTREAM-secret-0123456789"


def headers(**values: str) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict({k.replace("_", "-"): v for k, v in values.items()}))


def openai_body(
    message: str, *, error_type: str = "invalid_request_error", param: str | None = None, code: str | int | None = None
) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": error_type, "param": param, "code": code}})


def mapped(status: int, body: bytes = b"", hdrs: CIMultiDictProxy[str] | None = None) -> GatewayError:
    return map_error(status, body, hdrs, provider="openai", scrub=Scrubber([SECRET]))


def summary(error: GatewayError) -> tuple[type[GatewayError], int, str, str | None, bool]:
    return type(error), error.status, error.type, error.code, error.retryable


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, (UpstreamAuthFailed, 401, "authentication_error", "upstream_authentication_error", False)),
        (403, (UpstreamAuthFailed, 403, "permission_error", "upstream_authentication_error", False)),
        (429, (UpstreamRateLimited, 429, "rate_limit_error", "rate_limit_exceeded", True)),
        (408, (UpstreamTimeout, 504, "timeout", "upstream_timeout", True)),
        (504, (UpstreamTimeout, 504, "timeout", "upstream_timeout", True)),
        (503, (UpstreamUnavailable, 503, "server_error", "upstream_unavailable", True)),
        (529, (UpstreamUnavailable, 503, "server_error", "upstream_unavailable", True)),
        (400, (UpstreamRejected, 400, "invalid_request_error", None, False)),
        (404, (UpstreamRejected, 404, "not_found_error", None, False)),
        (409, (UpstreamRejected, 409, "conflict", None, False)),
        (413, (UpstreamRejected, 413, "invalid_request_error", None, False)),
        (422, (UpstreamRejected, 400, "invalid_request_error", None, False)),
        (418, (UpstreamRejected, 418, "invalid_request_error", None, False)),
        (500, (UpstreamError, 502, "server_error", "upstream_error", False)),
        (502, (UpstreamError, 502, "server_error", "upstream_error", False)),
    ],
)
def test_status_decides_the_error_class(status: int, expected: tuple[object, ...]) -> None:
    assert summary(error_for_status(status, provider="openai", scrub=str, message=None)) == expected


def test_auth_failure_never_relays_the_upstream_message() -> None:
    error = mapped(401, openai_body(f"Incorrect API key provided: {SECRET[:10]}****6789", code="invalid_api_key"))
    assert error.raw_message is None
    assert error.params == {"provider": "openai"}


def test_rejected_request_relays_message_param_and_code() -> None:
    error = mapped(400, openai_body("Invalid value for 'temperature'", param="temperature", code="invalid_value"))
    assert summary(error) == (UpstreamRejected, 400, "invalid_request_error", "invalid_value", False)
    assert (error.raw_message, error.param) == ("Invalid value for 'temperature'", "temperature")
    assert error_object(error, "en") == {
        "message": "Invalid value for 'temperature'",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": "invalid_value",
    }


def test_rejected_request_without_message_uses_ours() -> None:
    error = mapped(400, b"")
    assert error.raw_message is None
    assert error_object(error, "en")["message"] == "Provider 'openai' rejected the request."


@pytest.mark.parametrize(
    ("code", "kept"),
    [
        ("insufficient_quota", "insufficient_quota"),
        ("rate_limit_exceeded", "rate_limit_exceeded"),
        ("tokens", "rate_limit_exceeded"),
        (None, "rate_limit_exceeded"),
    ],
)
def test_rate_limit_codes(code: str | None, kept: str) -> None:
    error = mapped(429, openai_body("slow down", error_type="requests", code=code), headers(retry_after="7"))
    assert error.code == kept
    assert error.retry_after == 7.0
    assert error.raw_message == "slow down"
    assert error.headers() == [(b"retry-after", b"7")]


def test_unavailable_keeps_retry_after() -> None:
    error = mapped(503, b"Service Unavailable", headers(retry_after_ms="1500"))
    assert type(error) is UpstreamUnavailable
    assert error.retry_after == 1.5
    assert error.headers() == [(b"retry-after", b"2")]


def test_server_error_names_the_upstream_status() -> None:
    error = mapped(500, openai_body("The server had an error"))
    assert error.params == {"provider": "openai", "upstream_status": 500}
    assert error_object(error, "en")["message"] == "Provider 'openai' failed with HTTP status 500."


def test_timeout_names_the_status() -> None:
    error = mapped(504, b"")
    assert error.params == {"provider": "openai", "phase": "HTTP 504", "upstream_status": 504}


def test_upstream_message_is_scrubbed() -> None:
    error = mapped(400, openai_body(f"bad header Authorization: Bearer {SECRET}"))
    assert error.raw_message == "bad header Authorization: Bearer [redacted]"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (openai_body("m", code=42), {"message": "m", "type": "invalid_request_error", "param": None, "code": 42}),
        (b'{"error": "model not loaded"}', {"message": "model not loaded"}),
        (b'{"detail": "Not Found"}', {"message": "Not Found"}),
        (
            b'{"detail": [{"loc": ["body", "n"], "msg": "too big"}]}',
            {"message": '[{"loc":["body","n"],"msg":"too big"}]'},
        ),
        (b'{"message": "plain", "code": "x"}', {"message": "plain", "code": "x"}),
        (b'{"error": {"detail": "nested"}}', {"message": "nested"}),
        (b"upstream crashed\n", {"message": "upstream crashed"}),
        (b"", {}),
        (b"[1, 2]", {}),
        (b'{"error": 5}', {}),
    ],
)
def test_error_fields_of_compatible_servers(body: bytes, fields: dict[str, object]) -> None:
    assert error_fields(body) == fields


def test_non_json_body_is_cut_to_500_characters() -> None:
    assert error_fields(b"x" * 2000) == {"message": "x" * 500}


def test_integer_code_becomes_a_string() -> None:
    assert mapped(400, openai_body("m", code=1234)).code == "1234"


def test_non_string_message_and_param_are_ignored() -> None:
    error = mapped(400, b'{"error": {"message": ["a"], "param": 3, "code": {"x": 1}}}')
    assert (error.raw_message, error.param, error.code) == (None, None, None)


def test_no_headers_means_no_retry_after() -> None:
    assert mapped(429, b"").retry_after is None


@pytest.mark.parametrize(
    ("values", "seconds"),
    [
        ({"retry_after_ms": "250"}, 0.25),
        ({"retry_after_ms": "250", "retry_after": "9"}, 0.25),
        ({"retry_after_ms": "soon", "retry_after": "9"}, 9.0),
        ({"retry_after": "2.5"}, 2.5),
        ({"Retry_After": "3"}, 3.0),
        ({"retry_after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        ({"retry_after": "not a date"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(values: dict[str, str], seconds: float | None) -> None:
    assert parse_retry_after(headers(**values)) == seconds


def test_parse_retry_after_http_date_in_the_future() -> None:
    seconds = parse_retry_after(headers(retry_after=formatdate(time() + 120, usegmt=True)))
    assert seconds is not None
    assert 115 <= seconds <= 121


@pytest.mark.parametrize(("retry_after", "header"), [(0.4, b"0"), (1.6, b"2"), (-3.0, b"0"), (30.0, b"30")])
def test_retry_after_header_is_whole_seconds(retry_after: float, header: bytes) -> None:
    assert UpstreamRateLimited(provider="p", retry_after=retry_after).headers() == [(b"retry-after", header)]


def test_encode_error_in_openai_format() -> None:
    error = UpstreamRateLimited(provider="openai", retry_after=1)
    assert orjson.loads(encode_error(error, "en")) == {
        "error": {
            "message": "Provider 'openai' is rate limiting requests; try again later.",
            "type": "rate_limit_error",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    assert encode_stream_error(error, "de") == b"data: " + encode_error(error, "de") + b"\n\n"
