"""Requests the HTTP protocol refuses before any route sees them (not HTTP: 400; a head or body too
slow: 408; a head too large: 431) are answered in JSON, in the format of the API the path belongs to
once the request line was read (OpenAI's before), in the client's language, and the connection closes;
the error table of docs/api.md says what the gateway answers."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.fakes.servers import RunningApp
from tests.reliability.test_hostile_input import LIMITS, Answer, hostile, read_all

__all__ = ["hostile"]  # the fixture, shared with the hostile-input tests
API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def ask(app: RunningApp, raw: bytes) -> Answer:
    with socket.create_connection(("127.0.0.1", app.port), timeout=5) as connection:
        if raw:
            connection.sendall(raw)
        answer = Answer(read_all(connection))
        connection.settimeout(2)
        assert connection.recv(1) == b"", "the connection stays open after a refusal"
    return answer


def json_refusal(answer: Answer, status: int) -> Any:
    assert answer.status == status, answer.body[:200]
    assert answer.headers[b"content-type"] == b"application/json"
    assert answer.headers[b"connection"] == b"close"
    assert int(answer.headers[b"content-length"]) == len(answer.body)
    return answer.json()


def openai_error(answer: Answer, status: int, code: str) -> str:
    error = json_refusal(answer, status)["error"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", code, None)
    return str(error["message"])


def test_a_request_that_is_not_http_is_a_json_400(hostile: RunningApp) -> None:
    message = openai_error(ask(hostile, b"\x16\x03\x01 this is not HTTP\r\n\r\n"), 400, "invalid_http_request")
    assert "HTTP/1.1" in message
    # A request line read whole, then a header line that is not one: the route's format (Ollama's here).
    answer = ask(hostile, b"POST /api/chat HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n")
    assert isinstance(json_refusal(answer, 400)["error"], str)


def test_a_head_or_body_too_slow_is_a_json_408_in_the_routes_format(hostile: RunningApp) -> None:
    # Nothing sent: no path, so OpenAI's format.
    assert f"{LIMITS.header_timeout:g} s" in openai_error(ask(hostile, b""), 408, "request_timeout")
    # The request line and a header, then silence: the path is Anthropic's Messages API.
    anthropic = json_refusal(ask(hostile, b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n"), 408)
    assert anthropic["type"] == "error" and "head" in anthropic["error"]["message"]
    # A body that never ends, on the Ollama API, from a German client.
    ollama = json_refusal(
        ask(
            hostile,
            b"POST /api/chat HTTP/1.1\r\nHost: x\r\nAccept-Language: de\r\n"
            b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"mod\r\n',
        ),
        408,
    )
    assert "Rumpf" in ollama["error"]


def test_oversized_headers_are_a_json_431_in_the_clients_language(hostile: RunningApp) -> None:
    big = b"X-Big: " + b"a" * 20000 + b"\r\n"
    answer = ask(hostile, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAccept-Language: de\r\n" + big + b"\r\n")
    message = openai_error(answer, 431, "request_headers_too_large")
    assert "Header" in message and "16384 bytes" in message and "larger" not in message
    assert "error" in json_refusal(ask(hostile, b"GET /api/tags HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n"), 431)


def _error_table() -> list[tuple[str, str]]:
    """(status, type / code) of each row of docs/api.md's error table."""
    section = API_DOC.read_text().split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("|") and not line.startswith("|---")
    ]
    return [(row[1], row[2]) for row in rows[1:]]


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /v1/nothing-here HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        (b"GET /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"\x16\x03\x01\r\n\r\n", 400),
        (b"", 408),
        (b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", 431),
    ],
)
def test_the_error_table_of_the_api_doc_says_what_the_gateway_answers(
    hostile: RunningApp, raw: bytes, status: int
) -> None:
    with socket.create_connection(("127.0.0.1", hostile.port), timeout=5) as connection:
        if raw:
            connection.sendall(raw)
        answer = Answer(read_all(connection))
    error = orjson.loads(answer.body)["error"]
    assert answer.status == status
    documented = [kinds for statuses, kinds in _error_table() if str(status) in re.findall(r"\d{3}", statuses)]
    assert any(f"`{error['type']}` / `{error['code']}`" in kinds for kinds in documented), (status, error, documented)
