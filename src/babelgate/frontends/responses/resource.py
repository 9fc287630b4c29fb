"""The response resource: every key Open Responses requires, echoing the request's settings.

One `ResponseShell` per response holds what does not change while it runs (id, model, the
echoed settings); `resource()` adds what does (status, output, usage, error).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from babelgate.frontends.responses import wire
from babelgate.frontends.responses.tools import echoed_tools
from babelgate.frontends.responses.wire import JSON

_TEXT_DEFAULT = {"format": {"type": "text"}}


@dataclass(frozen=True, slots=True)
class ResponseShell:
    id: str
    created_at: int
    model: str
    settings: JSON  # the echoed request settings, in resource order

    @classmethod
    def for_request(cls, response_id: str, model: str, body: JSON, *, store: bool) -> ResponseShell:
        return cls(response_id, int(time.time()), model, echo_settings(body, store=store))

    def resource(
        self,
        status: str,
        output: list[JSON] | None = None,
        *,
        usage: JSON | None = None,
        error: JSON | None = None,
        incomplete_details: JSON | None = None,
    ) -> JSON:
        output = output or []
        terminal = status in ("completed", "incomplete", "failed")
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "completed_at": int(time.time()) if status == "completed" else None,
            "status": status,
            "error": error,
            "incomplete_details": incomplete_details,
            "model": self.model,
            "output": output,
            "output_text": wire.output_text(output) if terminal else "",
            "usage": usage,
            **self.settings,
        }


def echo_settings(body: JSON, *, store: bool) -> JSON:
    reasoning = body.get("reasoning")
    return {
        "previous_response_id": body.get("previous_response_id"),
        "instructions": body.get("instructions"),
        "tools": echoed_tools(body.get("tools") or []),
        "tool_choice": body.get("tool_choice") or "auto",
        "truncation": body.get("truncation") or "disabled",
        "parallel_tool_calls": _given(body, "parallel_tool_calls", True),
        "text": _text(body.get("text")),
        "top_p": _given(body, "top_p", 1.0),
        "presence_penalty": _given(body, "presence_penalty", 0.0),
        "frequency_penalty": _given(body, "frequency_penalty", 0.0),
        "top_logprobs": _given(body, "top_logprobs", 0),
        "temperature": _given(body, "temperature", 1.0),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")} if reasoning else None,
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "store": store,
        "background": False,
        "service_tier": body.get("service_tier") or "default",
        "metadata": body.get("metadata") or {},
        "safety_identifier": body.get("safety_identifier"),
        "prompt_cache_key": body.get("prompt_cache_key"),
        **({"user": body["user"]} if body.get("user") is not None else {}),
    }


def _text(text: JSON | None) -> JSON:
    """`text` as OpenAI echoes it: always with a format, and a json_schema format always says whether
    it was strict."""
    if not text:
        return _TEXT_DEFAULT
    fmt = text.get("format")
    if fmt is None:
        return {**text, **_TEXT_DEFAULT}  # e.g. only `verbosity` (Codex)
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and fmt.get("strict") is None:
        return {**text, "format": {**fmt, "strict": False}}
    return text


def _given(body: JSON, name: str, default: Any) -> Any:
    value = body.get(name)
    return default if value is None else value
