"""Vertex AI error bodies → GatewayError.

Vertex answers its own refusals (credentials, quota, a model the project cannot use) in Google's format,
`{"error": {"code", "message", "status", "details"}}`, on all three roads, so Gemini's table reads them
(providers/gemini/errors.py); a refusal of Claude's own through rawPredict comes in Anthropic's format,
`{"type": "error", "error": {"type", "message"}}`, whose `error.message` the same table reads. Two
Vertex answers are refined: a 404 on a model ("Publisher Model `…` was not found or your project does not
have access to it") is `model_not_found`, and an expired or revoked token is a 401 UNAUTHENTICATED
(the token's holder then fetches another: providers/transport.py).
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from multidict import CIMultiDictProxy

from babelgate.errors import GatewayError
from babelgate.providers.gemini.errors import map_error as google_error
from babelgate.providers.status import error_for_status

MODEL_NOT_FOUND = "model_not_found"


def map_error(
    status: int, body: bytes, headers: CIMultiDictProxy[str] | None, *, provider: str, scrub: Callable[[str], str]
) -> GatewayError:
    if status == 404:
        return error_for_status(404, provider=provider, scrub=scrub, message=_message(body), code=MODEL_NOT_FOUND)
    return google_error(status, body, headers, provider=provider, scrub=scrub)


def _message(body: bytes) -> str | None:
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace").strip()[:500] or None
    if isinstance(parsed, list) and parsed:
        parsed = parsed[0]
    error = parsed.get("error") if isinstance(parsed, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else None
