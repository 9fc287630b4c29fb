"""The answers to requests that never reach the app, because the HTTP protocol refused them first: a
request that is not HTTP (400), a head or body that does not arrive in time (408), a head larger than
`server.max_header_bytes` (431). uvicorn answers these in plain text; the gateway promises JSON in
each route's error format (docs/api.md, "Limits on a connection"), so they are rendered here as the app
renders its own: in the format of the API the path belongs to when the request line was read whole
(Anthropic's on `/v1/messages`, Ollama's on `/api/…`), else OpenAI's, the gateway's default; in the
language of the client's `Accept-Language` when that header arrived, else English.
"""

from __future__ import annotations

from http import HTTPStatus

from babelgate.errors import GatewayError, InvalidRequest, size_text
from babelgate.frontends.openai_errors import encode_error
from babelgate.frontends.route import ErrorEncoder
from babelgate.i18n import choose_language


def malformed() -> GatewayError:
    return InvalidRequest("invalid_http_request", code="invalid_http_request")


def too_slow(part: str, seconds: float) -> GatewayError:
    """`part` is "head" or "body"."""
    return InvalidRequest(f"request_{part}_timeout", status=408, code="request_timeout", seconds=f"{seconds:g}")


def head_too_large(limit: int) -> GatewayError:
    return InvalidRequest(
        "request_headers_too_large", status=431, code="request_headers_too_large", limit=size_text(limit)
    )


def refusal(error: GatewayError, path: str | None, accept_language: str | None) -> bytes:
    """The whole answer (head and body); the connection closes after it, as the client's next request
    could not be told from the rest of this one."""
    encode = encoder_for(path) if path is not None else encode_error
    body = encode(error, choose_language(accept_language))
    return b"".join(
        (
            b"HTTP/1.1 %d %s\r\n" % (error.status, HTTPStatus(error.status).phrase.encode()),
            b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body),
            body,
        )
    )


def encoder_for(path: str) -> ErrorEncoder:
    """The error format of the route (or API) a path belongs to, as the app chooses it."""
    # Imported here: the route table imports every frontend, and the protocol needs it only to refuse.
    # (The server is the floor above the app: this arrow goes down.)
    from babelgate.app import error_format

    return error_format(path)
