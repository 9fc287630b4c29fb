"""Shapes of the legacy completions wire format (OAI `CreateCompletionRequest`,
`CreateCompletionResponse`) that several modules of this frontend share."""

from __future__ import annotations

import secrets
from typing import Any, Final

JSON = dict[str, Any]

OBJECT: Final = "text_completion"
ID_PREFIX: Final = "cmpl-"
# OpenAI's default when `max_tokens` is absent or null; clients of the legacy API count on it.
DEFAULT_MAX_TOKENS: Final = 16
# A legacy choice ends with stop, length or content_filter. Tool calls cannot happen (no tools are
# sent), but a chat upstream's own words for "the model stopped" still end the text: stop.
FINISH_REASONS: Final[dict[str, str]] = {
    "stop": "stop",
    "length": "length",
    "content_filter": "content_filter",
    "tool_calls": "stop",
    "function_call": "stop",
}
# Request fields the legacy API has and chat has not: read here, never sent to a chat upstream.
COMPLETION_ONLY: Final = frozenset({"prompt", "suffix", "echo", "logprobs", "best_of"})


def new_id() -> str:
    return ID_PREFIX + secrets.token_hex(12)


def finish_reason(chat_reason: str | None) -> str | None:
    return None if chat_reason is None else FINISH_REASONS.get(chat_reason, "stop")
