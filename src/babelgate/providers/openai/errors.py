"""OpenAI-format error bodies → GatewayError (status decides; the error's type and code refine)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from multidict import CIMultiDictProxy

from babelgate.errors import GatewayError
from babelgate.providers.status import error_for_status, parse_retry_after


def map_error(
    status: int,
    body: bytes,
    headers: CIMultiDictProxy[str] | None,
    *,
    provider: str,
    scrub: Callable[[str], str],
) -> GatewayError:
    """OpenAI's `{"error": {message, type, param, code}}`; compatible servers vary, so also
    `{"error": "text"}`, `{"detail": ...}` (FastAPI-based servers) and `{"message": ...}`."""
    error = error_fields(body)
    message = error.get("message")
    code = error.get("code")
    param = error.get("param")
    return error_for_status(
        status,
        provider=provider,
        scrub=scrub,
        message=message if isinstance(message, str) else None,
        code=str(code) if isinstance(code, str | int) else None,
        param=param if isinstance(param, str) else None,
        retry_after=parse_retry_after(headers) if headers is not None else None,
    )


def error_fields(body: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        return {"message": text[:500]} if text else {}
    return error_fields_from(parsed)


def error_fields_from(parsed: Any) -> dict[str, Any]:
    if not isinstance(parsed, dict):
        return {}
    error = parsed.get("error", parsed)
    if isinstance(error, str):
        return {"message": error}
    if not isinstance(error, dict):
        return {}
    if "message" not in error and "detail" in error:
        detail = error["detail"]
        return {"message": detail if isinstance(detail, str) else orjson.dumps(detail).decode()}
    return error
