"""Shapes of Ollama's native API that several modules build: timestamps, counters, errors, lines.

Field order follows Ollama's own answers (`api/types.go`, the examples of `docs/openapi.yaml`), so a
client that prints raw JSON sees what it would see from Ollama.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final

import orjson

from babelgate.errors import GatewayError
from babelgate.i18n import render_message
from babelgate.schema.chat import Usage

JSON = dict[str, Any]

NDJSON_TYPE: Final = (b"content-type", b"application/x-ndjson")
# The Ollama API level the gateway speaks: the version of the spec it follows (its own example).
# Clients only display it or compare it with the minimum version of a feature.
OLLAMA_VERSION: Final = "0.12.6"
ROLES: Final = frozenset({"system", "user", "assistant", "tool"})
# Chat finish reasons → Ollama's `done_reason`. Ollama says "stop" after tool calls too; a reason
# Ollama has no word for (content_filter) is passed on as it is rather than disguised as "stop".
DONE_REASONS: Final[dict[str, str]] = {
    "stop": "stop",
    "tool_calls": "stop",
    "function_call": "stop",
    "length": "length",
}


def created_at(epoch_ns: int) -> str:
    """RFC 3339 with nanoseconds and trailing zeros trimmed, as Go's `time.Time` marshals in UTC."""
    seconds, nanos = divmod(epoch_ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    fraction = f"{nanos:09d}".rstrip("0")
    return f"{stamp}.{fraction}Z" if fraction else f"{stamp}Z"


def done_reason(finish_reason: str | None) -> str:
    if finish_reason is None:
        return "stop"
    return DONE_REASONS.get(finish_reason, finish_reason)


@dataclass(frozen=True, slots=True)
class Durations:
    """Ollama's timings in nanoseconds, as the gateway measures them (it cannot see inside the
    upstream): `load` is the gateway's own work before the upstream call (reading, validating,
    routing, hooks); `prompt_eval` the wait for the first output of a stream (0 when not streamed:
    one answer does not say when generation began); `eval` the rest of the upstream's time."""

    total: int = 0
    load: int = 0
    prompt_eval: int = 0
    eval: int = 0

    @classmethod
    def measured(cls, *, received: int, upstream: int, first_output: int | None, end: int) -> Durations:
        """From monotonic instants (ns): request received, upstream called, first output (None
        when not streamed or nothing came), upstream finished."""
        generating_from = upstream if first_output is None else first_output
        return cls(
            total=max(0, end - received),
            load=max(0, upstream - received),
            prompt_eval=max(0, generating_from - upstream),
            eval=max(0, end - generating_from),
        )


def counters(usage: Usage | None, durations: Durations) -> JSON:
    """The statistics of a final object; token counts are 0 when the upstream reported no usage."""
    usage = usage or Usage()
    return {
        "total_duration": durations.total,
        "load_duration": durations.load,
        "prompt_eval_count": usage.prompt_tokens,
        "prompt_eval_duration": durations.prompt_eval,
        "eval_count": usage.completion_tokens,
        "eval_duration": durations.eval,
    }


def chat_line(model: str, at: str, message: JSON, *, done: bool = False) -> JSON:
    return {"model": model, "created_at": at, "message": message, "done": done}


def generate_line(model: str, at: str, response: str, *, thinking: str | None = None, done: bool = False) -> JSON:
    line: JSON = {"model": model, "created_at": at, "response": response}
    if thinking:
        line["thinking"] = thinking
    line["done"] = done
    return line


def assistant(
    content: str = "",
    *,
    thinking: str | None = None,
    tool_calls: list[JSON] | None = None,
    images: list[str] | None = None,
) -> JSON:
    message: JSON = {"role": "assistant", "content": content}
    if thinking:
        message["thinking"] = thinking
    if tool_calls:
        message["tool_calls"] = tool_calls
    if images:
        message["images"] = images
    return message


def error_body(message: str) -> JSON:
    """Ollama's error object, over HTTP and as the last line of a broken stream."""
    return {"error": message}


def encode_error(error: GatewayError, language: str) -> bytes:
    return orjson.dumps(error_body(render_message(error, language)))
