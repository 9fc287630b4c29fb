"""Every error case the gateway decides (bad input, unknown models, upstream failures), as the official SDK (and a raw
HTTP client) sees it."""

from __future__ import annotations

import logging

import httpx
import openai
import pytest

from tests.conftest import CLOSED_PORT_URL, UPSTREAM_KEY, GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI, Reply
from tests.fakes.servers import RunningApp

USER = [{"role": "user", "content": "Hi"}]


def _post(
    gateway: RunningApp, body: object = None, *, content: bytes | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.post(gateway.url + "/v1/chat/completions", json=body, content=content, headers=headers, timeout=10)


def _error(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]  # type: ignore[no-any-return]


# Validation before any upstream call -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": USER}, "model"),
        ({"model": "gpt-4o"}, "messages"),
        ({"model": "gpt-4o", "messages": []}, "messages"),
        ({"model": "gpt-4o", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"model": "gpt-4o", "messages": USER, "stream": "yes"}, "stream"),
        ({"model": "gpt-4o", "messages": USER, "temperature": 3}, "temperature"),
        (
            {
                "model": "gpt-4o",
                "messages": [
                    *USER,
                    *USER,
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": 42}}]},
                ],
            },
            "messages[2].content[0].image_url.url",
        ),
        (
            {"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            "messages[0].content[0].image_url",
        ),
        (
            {"model": "gpt-4o", "messages": USER, "tools": [{"type": "function", "function": {"name": "bad name!"}}]},
            "tools[0].function.name",
        ),
        (
            {
                "model": "gpt-4o",
                "messages": USER,
                "tools": [{"type": "function", "function": {"name": "ok", "parameters": {"type": "string"}}}],
            },
            "tools[0].function.parameters.type",
        ),
        (
            {
                "model": "gpt-4o",
                "messages": USER,
                "response_format": {"type": "json_schema", "json_schema": {"name": "x"}},
            },
            "response_format.json_schema.schema",
        ),
    ],
)
def test_invalid_requests_are_400_naming_the_param(
    gateway: RunningApp, upstream: FakeOpenAI, body: dict[str, object], param: str
) -> None:
    response = _post(gateway, body)
    assert response.status_code == 400
    error = _error(response)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert [r for r in upstream.received if r.path.endswith("/chat/completions")] == []


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b""])
def test_body_that_is_not_a_json_object_is_400(gateway: RunningApp, content: bytes) -> None:
    response = _post(gateway, content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert _error(response)["type"] == "invalid_request_error"


def test_oversized_body_is_413_without_reading_it(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway("server:\n  max_body_bytes: 2048\n")
    response = _post(gateway, {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 5000}]})
    assert response.status_code == 413
    assert _error(response)["code"] == "request_too_large"
    # Chunked upload with no Content-Length: refused while reading.
    chunks = iter([b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "', b"x" * 4096, b'"}]}'])
    response = httpx.post(gateway.url + "/v1/chat/completions", content=chunks, timeout=10)
    assert response.status_code == 413


def test_unknown_model_is_404_listing_enabled_providers(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="llama-nonexistent", messages=USER)  # type: ignore[arg-type]
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "model_not_found"
    assert "ollama, openai" in error["message"]


def test_model_of_a_disabled_provider_is_404_naming_the_variable_that_enables_it(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match=r"set ANTHROPIC_API_KEY .*Enabled providers: ollama, openai"):
        client.chat.completions.create(model="claude-sonnet-4-5", messages=USER)  # type: ignore[arg-type]


def test_errors_are_translated_by_accept_language(gateway: RunningApp) -> None:
    response = _post(gateway, {"model": "nope", "messages": USER}, headers={"accept-language": "fr;q=1, de;q=0.8"})
    assert response.status_code == 404
    assert "existiert nicht" in str(_error(response)["message"])


def test_a_validation_error_is_german_through_and_through(gateway: RunningApp) -> None:
    response = _post(
        gateway, {"model": "gpt-4o", "messages": USER, "temperature": 5}, headers={"accept-language": "de"}
    )
    assert response.status_code == 400  # was: "erwartet wird a value from 0 to 2"
    assert _error(response)["message"] == "Ungültiger Wert für 'temperature': erwartet wird ein Wert von 0 bis 2."
    not_json = _post(
        gateway, content=b"{not json", headers={"content-type": "application/json", "accept-language": "de"}
    )
    assert _error(not_json)["message"] == (
        "Der Anfragetext ist kein gültiges JSON: unerwartetes Zeichen, erwartet wird ein Schlüssel als Zeichenkette"
    )


# Upstream failures -------------------------------------------------------------------------------


def test_upstream_400_is_passed_on_with_its_message(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.script(
        Reply(
            status=400,
            json={
                "error": {
                    "message": "Invalid 'messages[0].content': too long.",
                    "type": "invalid_request_error",
                    "param": "messages[0].content",
                    "code": "string_above_max",
                }
            },
        )
    )
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=USER)  # type: ignore[arg-type]
    assert caught.value.body == {
        "message": "Invalid 'messages[0].content': too long.",
        "type": "invalid_request_error",
        "param": "messages[0].content",
        "code": "string_above_max",
    }


def test_upstream_422_becomes_400(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(status=422, json={"detail": [{"loc": ["body", "n"], "msg": "bad"}]}))
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o", messages=USER)  # type: ignore[arg-type]


def test_upstream_401_never_leaks_the_key(
    client: openai.OpenAI, upstream: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.script(
        Reply(
            status=401,
            json={
                "error": {
                    "message": f"Incorrect API key provided: {UPSTREAM_KEY}",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            },
        )
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=USER)  # type: ignore[arg-type]
    assert caught.value.body == {
        "message": "The gateway's credentials for provider openai were rejected.",
        "type": "authentication_error",
        "param": None,
        "code": "upstream_authentication_error",
    }
    assert UPSTREAM_KEY not in caplog.text
    assert UPSTREAM_KEY[:12] not in str(caught.value.response.text)


def test_upstream_429_keeps_retry_after(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(
        Reply(
            status=429,
            headers={"Retry-After": "7"},
            json={"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}},
        )
    )
    response = _post(gateway, {"model": "gpt-4o", "messages": USER})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert _error(response)["code"] == "rate_limit_exceeded"


@pytest.mark.parametrize(
    ("upstream_status", "status", "code"),
    [
        (500, 502, "upstream_error"),
        (502, 502, "upstream_error"),
        (503, 503, "upstream_unavailable"),
        (529, 503, "upstream_unavailable"),
        (504, 504, "upstream_timeout"),
        (408, 504, "upstream_timeout"),
    ],
)
def test_upstream_server_errors_map_to_gateway_statuses(
    gateway: RunningApp, upstream: FakeOpenAI, upstream_status: int, status: int, code: str
) -> None:
    upstream.script(Reply(status=upstream_status, body=b"<html>oops</html>"))
    response = _post(gateway, {"model": "gpt-4o", "messages": USER})
    assert response.status_code == status
    assert _error(response)["code"] == code


def test_upstream_garbage_is_502(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    upstream.script(Reply(body=b"this is not json"))
    response = _post(gateway, {"model": "gpt-4o", "messages": USER})
    assert response.status_code == 502
    assert _error(response)["code"] == "upstream_protocol_error"


def test_connection_refused_is_502(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(env={"OPENAI_BASE_URL": CLOSED_PORT_URL + "/v1"})
    response = _post(gateway, {"model": "gpt-4o", "messages": USER})
    assert response.status_code == 502
    assert _error(response)["code"] == "upstream_connection_error"


def test_an_unreachable_ollama_is_a_502_naming_the_address_tried(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="ollama/llama3.2", messages=USER)  # type: ignore[arg-type]
    assert caught.value.status_code == 502
    assert "provider 'ollama' at http://127.0.0.1:9:" in caught.value.message


def test_the_address_in_a_refused_connection_holds_no_credentials_path_or_query(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(env={"OPENAI_BASE_URL": "http://ops:pass-0000-SECRET@127.0.0.1:9/v1?key=sk-in-query-0000"})
    for language, said in (("en", "at http://127.0.0.1:9:"), ("de", "unter http://127.0.0.1:9 möglich")):
        response = _post(gateway, {"model": "gpt-4o", "messages": USER}, headers={"accept-language": language})
        message = str(_error(response)["message"])
        assert response.status_code == 502 and said in message
        assert "SECRET" not in response.text and "sk-in-query" not in response.text and "/v1" not in message


def test_slow_first_byte_is_504(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway(env={"BABELGATE_UPSTREAM_TIMEOUT": "0.3"})
    upstream.script(Reply(json={}, first_byte_delay=2))
    response = _post(gateway, {"model": "gpt-4o", "messages": USER})
    assert response.status_code == 504
    assert _error(response)["code"] == "upstream_timeout"


def test_total_timeout_is_504(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway(f"""
providers:
  openai:
    base_url: {upstream.base_url}
    api_key: env:OPENAI_API_KEY
    total_timeout: 0.5
""")
    upstream.script(Reply(stream=[b": keep-alive\n\n"] * 20, chunk_delay=0.1))
    response = _post(gateway, {"model": "gpt-4o", "messages": USER})
    assert response.status_code == 504
