"""Golden tests of Mistral HTTP errors → gateway errors (providers/mistral/errors.py `map_error`): what the
client finally sees is the OpenAI error object, compared whole."""

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
    UpstreamUnavailable,
)
from babelgate.frontends.openai_errors import error_object
from babelgate.observability.logging import Scrubber
from babelgate.providers.mistral.errors import map_error

SECRET = "mistral-key-AbCdEf0123456789"
SCRUB = Scrubber([SECRET])
NO_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())
FASTAPI_DETAIL = [
    {"loc": ["body", "messages", 2, "content"], "msg": "Field required", "type": "missing"},
    {"loc": ["body", "temperature"], "msg": "Input should be less than or equal to 1.5", "type": "less_than_equal"},
]


def mapped(status: int, body: Any, head: CIMultiDictProxy[str] | None = NO_HEADERS) -> GatewayError:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return map_error(status, raw, head, provider="mistral", scrub=SCRUB)


def headers(**values: str) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict({key.replace("_", "-"): value for key, value in values.items()}))


def client_error(message: str | None, kind: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"message": message, "type": kind, "param": param, "code": code}


AUTH = "The gateway's credentials for provider mistral were rejected."


def test_fastapi_422_becomes_400_with_param() -> None:
    error = mapped(422, {"detail": FASTAPI_DETAIL})
    assert type(error) is UpstreamRejected
    assert error.status == 400
    assert error_object(error, "en") == client_error(
        "Field required; Input should be less than or equal to 1.5",
        "invalid_request_error",
        param="messages[2].content",
    )


def test_fastapi_422_inside_mistral_envelope() -> None:
    error = mapped(
        422,
        {
            "object": "error",
            "message": {"detail": FASTAPI_DETAIL[:1]},
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        },
    )
    assert type(error) is UpstreamRejected
    assert error.status == 400
    assert error_object(error, "en") == client_error(
        "Field required", "invalid_request_error", param="messages[2].content"
    )


def test_msg_given_as_a_list() -> None:
    detail = [
        {
            "loc": ["body", "tools", 0, "function", "parameters"],
            "msg": ["Value error", "schema is not valid"],
            "type": "value_error",
        }
    ]
    error = mapped(422, {"detail": detail})
    assert error.status == 400
    assert error_object(error, "en") == client_error(
        "Value error; schema is not valid", "invalid_request_error", param="tools[0].function.parameters"
    )


def test_extra_forbidden_on_a_top_level_field() -> None:
    detail = [
        {"type": "extra_forbidden", "loc": ["body", "user"], "msg": "Extra inputs are not permitted", "input": "u1"}
    ]
    error = mapped(
        422,
        {
            "object": "error",
            "message": {"detail": detail},
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        },
    )
    assert error_object(error, "en") == client_error(
        "Extra inputs are not permitted", "invalid_request_error", param="user"
    )


def test_400_message_and_code_are_relayed() -> None:
    error = mapped(
        400,
        {
            "object": "error",
            "message": "Unexpected role 'user' after role 'tool'",
            "type": "invalid_request_message_order",
            "param": None,
            "code": "3230",
        },
    )
    assert type(error) is UpstreamRejected
    assert error.status == 400
    assert error_object(error, "en") == client_error(
        "Unexpected role 'user' after role 'tool'", "invalid_request_error", code="3230"
    )


def test_400_numeric_code_becomes_a_string() -> None:
    error = mapped(
        400,
        {
            "object": "error",
            "message": "Tool call id was call_1 but must be a-z, A-Z, 0-9, with a length of 9.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": 3280,
        },
    )
    assert error_object(error, "en") == client_error(
        "Tool call id was call_1 but must be a-z, A-Z, 0-9, with a length of 9.",
        "invalid_request_error",
        code="3280",
        param="messages",
    )


@pytest.mark.parametrize(("status", "kind"), [(401, "authentication_error"), (403, "permission_error")])
def test_auth_failures(status: int, kind: str) -> None:
    error = mapped(status, {"message": f"Unauthorized {SECRET}", "request_id": "2c6f1b8e0a6b4f39"})
    assert type(error) is UpstreamAuthFailed
    assert error.status == status
    assert error.raw_message is None
    assert error_object(error, "en") == client_error(AUTH, kind, "upstream_authentication_error")


def test_404_detail_string() -> None:
    error = mapped(404, {"detail": "Not Found"})
    assert type(error) is UpstreamRejected
    assert error.status == 404
    assert error_object(error, "en") == client_error("Not Found", "not_found_error")


def test_429_with_retry_after() -> None:
    error = mapped(
        429,
        {
            "object": "error",
            "message": "Requests rate limit exceeded",
            "type": "rate_limited",
            "param": None,
            "code": "1300",
        },
        headers(retry_after="3"),
    )
    assert type(error) is UpstreamRateLimited
    assert error.status == 429
    assert error.retry_after == 3.0
    assert error.headers() == [(b"retry-after", b"3")]
    assert error_object(error, "en") == client_error(
        "Requests rate limit exceeded", "rate_limit_error", "rate_limit_exceeded"
    )


@pytest.mark.parametrize("status", [500, 502])
def test_5xx_is_502(status: int) -> None:
    error = mapped(
        status,
        {
            "object": "error",
            "message": "Internal server error",
            "type": "internal_error",
            "param": None,
            "code": "1000",
        },
    )
    assert type(error) is UpstreamError
    assert error.status == 502
    assert error_object(error, "en") == client_error(
        f"Provider 'mistral' failed with HTTP status {status}.", "server_error", "upstream_error"
    )


def test_503_is_unavailable_with_retry_after() -> None:
    error = mapped(503, {"message": "Service unavailable"}, headers(retry_after="5"))
    assert type(error) is UpstreamUnavailable
    assert error.status == 503
    assert error.retry_after == 5.0
    assert error_object(error, "en") == client_error(
        "Provider 'mistral' is temporarily unavailable; try again later.", "server_error", "upstream_unavailable"
    )


def test_keys_are_scrubbed() -> None:
    error = mapped(
        400,
        {
            "object": "error",
            "message": f"bad header Bearer {SECRET}",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        },
    )
    assert error_object(error, "en") == client_error("bad header Bearer [redacted]", "invalid_request_error")


def test_keys_in_422_messages_are_scrubbed() -> None:
    error = mapped(422, {"detail": [{"loc": ["body", "x"], "msg": f"bad {SECRET}", "type": "value_error"}]})
    assert error_object(error, "en") == client_error("bad [redacted]", "invalid_request_error", param="x")


def test_a_body_that_is_not_json_is_relayed_as_text() -> None:
    error = mapped(400, b"  upstream said no  ")
    assert error_object(error, "en") == client_error("upstream said no", "invalid_request_error")
