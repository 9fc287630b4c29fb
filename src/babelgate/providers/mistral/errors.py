"""Mistral error bodies → GatewayError.

4xx bodies are `{"object": "error", "message", "type", "param", "code"}`; 422 is FastAPI's
`{"detail": [{"loc", "msg", "type"}]}`, whose first location becomes the error's `param`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from multidict import CIMultiDictProxy

from babelgate.errors import GatewayError
from babelgate.providers.status import error_for_status, parse_retry_after


def map_error(
    status: int, body: bytes, headers: CIMultiDictProxy[str] | None, *, provider: str, scrub: Callable[[str], str]
) -> GatewayError:
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    message, param, code = _fields(parsed, body)
    return error_for_status(
        status,
        provider=provider,
        scrub=scrub,
        message=message,
        param=param,
        code=code,
        retry_after=parse_retry_after(headers) if headers is not None else None,
    )


def _fields(parsed: Any, body: bytes) -> tuple[str | None, str | None, str | None]:
    if not isinstance(parsed, dict):
        text = body.decode("utf-8", "replace").strip()[:500] if body else ""
        return text or None, None, None
    detail = parsed.get("detail")
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        first = detail[0]
        location = [str(part) for part in first.get("loc") or () if part != "body"]
        messages = "; ".join(_text(item.get("msg")) for item in detail if isinstance(item, dict))
        return messages or None, _param(location), None
    message = parsed.get("message", detail)
    if isinstance(message, dict) and isinstance(message.get("detail"), list):
        return _fields(message, body)
    code = parsed.get("code")
    param = parsed.get("param")
    return (
        _text(message) or None,
        param if isinstance(param, str) else None,
        str(code) if isinstance(code, str | int) else None,
    )


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(_text(item) for item in value)
    return str(value) if value is not None else ""


def _param(location: list[str]) -> str | None:
    """FastAPI's ["messages", "2", "content"] → "messages[2].content"."""
    param = ""
    for part in location:
        param += f"[{part}]" if part.isdigit() else (f".{part}" if param else part)
    return param or None
