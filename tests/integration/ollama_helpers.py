"""What the Ollama API tests share: the official client pointed at a gateway, raw calls that keep the bytes
(headers, NDJSON lines) for the spec checks, and small builders."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import ollama

from tests.fakes.servers import RunningApp
from tests.ollama_spec import parse_ndjson

JSON = dict[str, Any]
# A real 1x1 PNG: what a vision client would send.
PNG_BYTES = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PNG_B64 = base64.b64encode(PNG_BYTES).decode()
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The time in a time zone",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
    },
}


@contextmanager
def ollama_client(gateway: RunningApp, **kwargs: Any) -> Iterator[ollama.Client]:
    with ollama.Client(host=gateway.url, timeout=10, **kwargs) as client:
        yield client


def post(gateway: RunningApp, path: str, body: Any, **kwargs: Any) -> httpx.Response:
    with httpx.Client(timeout=10) as client:
        return client.post(gateway.url + path, json=body, **kwargs)


def get(gateway: RunningApp, path: str, method: str = "GET", **kwargs: Any) -> httpx.Response:
    with httpx.Client(timeout=10) as client:
        return client.request(method, gateway.url + path, **kwargs)


def stream(gateway: RunningApp, path: str, body: JSON) -> tuple[httpx.Response, list[JSON]]:
    """A streamed answer read whole: the response (status, headers) and its NDJSON objects."""
    response = post(gateway, path, body)
    return response, parse_ndjson(response.content)


def last_json(fake: Any, path_part: str) -> JSON:
    request: JSON = next(r.json for r in reversed(fake.received) if path_part in r.path)
    return request


def calls_of(parts: list[Any]) -> list[Any]:
    """The tool calls of a streamed chat, from every part that carries some."""
    return [call for part in parts for call in (part.message.tool_calls or ())]
