"""OpenAI's error format, shared by every OpenAI route: `{"error": {message, type, param, code}}`."""

from __future__ import annotations

import orjson

from babelgate.errors import GatewayError
from babelgate.i18n import render_message
from babelgate.streaming import encode_sse_json


def encode_error(error: GatewayError, language: str) -> bytes:
    return orjson.dumps({"error": error_object(error, language)})


def error_object(error: GatewayError, language: str) -> dict[str, str | None]:
    return {"message": render_message(error, language), "type": error.type, "param": error.param, "code": error.code}


def encode_stream_error(error: GatewayError, language: str) -> bytes:
    """The event that ends a broken stream; the official SDKs raise it as an APIError."""
    return encode_sse_json({"error": error_object(error, language)})
