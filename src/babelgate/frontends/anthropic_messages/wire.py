"""Shapes of Anthropic's Messages wire format that several modules of this frontend build or read:
ids, usage, stop reasons, error types, and how thinking settings map onto a reasoning effort.

(ANT = the `anthropic` SDK's type modules: `message.py`, `usage.py`, `stop_reason.py`,
`shared/error_type.py`, `thinking_config_*_param.py`.)
"""

from __future__ import annotations

import secrets
from typing import Any, Final

from babelgate.schema.chat import Usage

JSON = dict[str, Any]

MESSAGE_PREFIX: Final = "msg_"

# Canonical (OpenAI) finish reason → Anthropic stop_reason (ANT stop_reason.py). OpenAI cannot say
# which stop sequence matched, so "stop" is always `end_turn` (and `stop_sequence` stays null).
STOP_REASONS: Final[dict[str, str]] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
DEFAULT_STOP_REASON: Final = "end_turn"

# HTTP status → Anthropic error type (docs' errors page; ANT shared/error_type.py). The gateway keeps
# its own statuses (docs/decisions.md, "Upstream failures and the client's status"): an overloaded upstream is a 503
# here, not Anthropic's 529, but its type says `overloaded_error`, so clients that look at the type see what Anthropic
# would have said. Anthropic's server tools (by type prefix: `web_search_20250305`) → the hosted tool of the same job.
SERVER_TOOLS: Final[dict[str, str]] = {
    "web_search_": "web_search",
    "web_fetch_": "web_fetch",
    "code_execution_": "code_interpreter",
}
# Blocks a server tool leaves in an assistant turn (its call and its result).
SERVER_TOOL_BLOCKS: Final = frozenset(
    {
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        # The MCP connector's (the gateway's own, tool_loop/, on a translated road): its calls were run
        # in the turn that made them; the conversation keeps their text.
        "mcp_tool_use",
        "mcp_tool_result",
        "mcp_tool_listing",
    }
)
ERROR_TYPES: Final[dict[int, str]] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}

# `thinking: {type: enabled, budget_tokens}` → reasoning_effort: the smallest effort whose budget (as
# the Anthropic provider spends it, profiles.THINKING_BUDGETS) covers the requested one. Only the
# three efforts every reasoning provider accepts are used.
BUDGET_EFFORTS: Final[tuple[tuple[int, str], ...]] = ((2048, "low"), (8192, "medium"))
LARGEST_EFFORT: Final = "high"
# `output_config.effort` (adaptive thinking) → reasoning_effort, in the same portable vocabulary.
ADAPTIVE_EFFORTS: Final[dict[str, str]] = {
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
    "max": "high",
}

# A tool result's images and documents cannot stay in a chat `tool` message (text only there): they
# follow in a user message, and the tool message says so, so the model connects the two.
MOVED_MEDIA_NOTE: Final = "(The attachments of this result follow in the next user message.)"
# Chat has no `is_error` on tool results: the failure is stated in the result's text instead.
TOOL_ERROR_PREFIX: Final = "Error: "
DEFAULT_PDF_NAME: Final = "document.pdf"  # OpenAI wants a filename with inline file data


def new_id(prefix: str = MESSAGE_PREFIX) -> str:
    return prefix + secrets.token_hex(12)


def usage_to_wire(usage: Usage | None) -> JSON:
    """Canonical usage → Anthropic's: its `input_tokens` exclude cache reads and writes, which the
    canonical `prompt_tokens` include (providers/anthropic/translate.usage_from_wire is the inverse)."""
    usage = usage or Usage()
    cache_read = usage.cached_tokens or 0
    cache_write = usage.cache_write_tokens or 0
    wire: JSON = {
        "input_tokens": max(0, usage.prompt_tokens - cache_read - cache_write),
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
        "output_tokens": usage.completion_tokens,
    }
    if usage.reasoning_tokens:
        wire["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return wire


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")


def budget_effort(budget: int) -> str:
    return next((effort for limit, effort in BUDGET_EFFORTS if budget <= limit), LARGEST_EFFORT)
