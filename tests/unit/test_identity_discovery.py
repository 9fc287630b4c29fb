"""Reading an identity provider's documents (identity/discovery.py): a JSON object, a form posted, OAuth's error
answers in words, and an unreachable provider, over a real socket."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from babelgate.identity.discovery import ProviderUnreachable, get_json


class Handler(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    def do_GET(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        self._answer(self.rfile.read(int(self.headers["Content-Length"])))

    def _answer(self, body: bytes) -> None:
        Handler.seen.append((self.command, self.path, dict(self.headers.items()), body))
        if self.path == "/keys":
            self._send(200, json.dumps({"keys": []}).encode())
        elif self.path == "/token":
            self._send(400, json.dumps({"error": "invalid_grant", "error_description": "code expired"}).encode())
        elif self.path == "/html":
            self._send(200, b"<html>sign in</html>", b"text/html")
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/keys")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(404, b"not found", b"text/plain")

    def _send(self, status: int, body: bytes, content_type: bytes = b"application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type.decode())
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None: ...


@pytest.fixture
def provider() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Handler.seen.clear()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_a_document_is_its_json_object_and_a_redirect_is_followed(provider: str) -> None:
    assert await get_json(provider + "/keys", bearer="tok") == {"keys": []}
    assert await get_json(provider + "/moved") == {"keys": []}
    method, _, headers, _ = Handler.seen[0]
    assert (method, headers["Authorization"], headers["Accept"]) == ("GET", "Bearer tok", "application/json")


async def test_a_form_is_posted_with_basic_credentials_and_an_oauth_error_is_told_in_words(provider: str) -> None:
    with pytest.raises(ProviderUnreachable) as refused:
        await get_json(
            provider + "/token", form={"grant_type": "authorization_code", "code": "a b"}, basic=("id", "s:1")
        )
    assert str(refused.value) == f"{provider}/token: 400 invalid_grant code expired"
    method, _, headers, body = Handler.seen[0]
    assert method == "POST" and headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(body.decode()) == {"grant_type": ["authorization_code"], "code": ["a b"]}
    assert headers["Authorization"] == "Basic aWQ6cyUzQTE="  # id:s%3A1, each part form-encoded (RFC 6749 2.3.1)
    assert "s:1" not in str(refused.value)


async def test_an_answer_that_is_not_a_json_object_and_a_provider_that_is_down_are_unreachable(provider: str) -> None:
    with pytest.raises(ProviderUnreachable, match="answered 200 without a JSON object"):
        await get_json(provider + "/html")
    with pytest.raises(ProviderUnreachable, match="answered 404 without a JSON object"):
        await get_json(provider + "/nothing")
    with pytest.raises(ProviderUnreachable, match="URLError"):
        await get_json("http://127.0.0.1:9/keys")
