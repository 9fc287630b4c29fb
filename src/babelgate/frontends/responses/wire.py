"""Shapes of the Responses wire format that several modules build: ids, output items, usage."""

from __future__ import annotations

import secrets
import time
from typing import Any, Final

from babelgate.schema.chat import Usage

JSON = dict[str, Any]

# Item id prefixes as OpenAI issues them; clients only treat ids as opaque strings.
RESPONSE_PREFIX: Final = "resp_"
MESSAGE_PREFIX: Final = "msg_"
FUNCTION_CALL_PREFIX: Final = "fc_"
FUNCTION_OUTPUT_PREFIX: Final = "fco_"
REASONING_PREFIX: Final = "rs_"
COMPACTION_PREFIX: Final = "cmp_"
MCP_LIST_PREFIX: Final = "mcpl_"
MCP_CALL_PREFIX: Final = "mcp_"
MCP_APPROVAL_PREFIX: Final = "mcpr_"
MCP_APPROVAL_RESPONSE_PREFIX: Final = "mcpa_"
ITEM_PREFIXES: Final = {
    "mcp_list_tools": MCP_LIST_PREFIX,
    "mcp_call": MCP_CALL_PREFIX,
    "mcp_approval_request": MCP_APPROVAL_PREFIX,
    "mcp_approval_response": MCP_APPROVAL_RESPONSE_PREFIX,
    "message": MESSAGE_PREFIX,
    "function_call": FUNCTION_CALL_PREFIX,
    "function_call_output": FUNCTION_OUTPUT_PREFIX,
    "reasoning": REASONING_PREFIX,
    "compaction": COMPACTION_PREFIX,
}


class _RandomIds:
    """128 random bits per id, drawn from the OS in blocks: one `getrandom` call per 256 ids instead
    of one per id (a response makes several; the call was a measurable share of the road's CPU).
    The block is turned into hex once, so an id is one slice."""

    __slots__ = ("_block", "_position")

    def __init__(self) -> None:
        self._block = ""
        self._position = 0

    def __call__(self) -> str:
        if self._position >= len(self._block):
            self._block, self._position = secrets.token_bytes(16 * 256).hex(), 0
        start = self._position
        self._position = start + 32
        return self._block[start : start + 32]


_random_id = _RandomIds()  # random bytes, nobody's: one buffer serves every gateway


def new_id(prefix: str) -> str:
    """An unguessable id (stored responses are found by it)."""
    return prefix + _random_id()


def new_response_id() -> str:
    """An unguessable response id that sorts by creation time: the milliseconds since the epoch
    (12 hex digits), then 128 random bits. Stores key their rows by this id: ids that arrive in
    order append to the key's index, where random ones dirty one index page per row (in SQLite,
    ~40 % of the CPU of writing a stored response, measured). The time is no secret: `created_at`."""
    return f"{RESPONSE_PREFIX}{time.time_ns() // 1_000_000:012x}{_random_id()}"


def response_created_at(response_id: str) -> float | None:
    """When one of our response ids was made (seconds since the epoch), read from the id itself;
    None for an id that is not ours."""
    stamp = response_id[len(RESPONSE_PREFIX) : len(RESPONSE_PREFIX) + 12]
    if not response_id.startswith(RESPONSE_PREFIX) or len(stamp) != 12:
        return None
    try:
        return int(stamp, 16) / 1000
    except ValueError:
        return None


def text_part(text: str) -> JSON:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def refusal_part(refusal: str) -> JSON:
    return {"type": "refusal", "refusal": refusal}


def message_item(item_id: str, content: list[JSON], status: str) -> JSON:
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": content}


def function_call_item(
    item_id: str, call_id: str, name: str, arguments: str, status: str, namespace: str | None = None
) -> JSON:
    item = {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }
    if namespace is not None:
        item["namespace"] = namespace  # a call of a function inside a `namespace` tool (tools.py)
    return item


def reasoning_item(item_id: str, summary: str | None, encrypted_content: str | None = None) -> JSON:
    # Reasoning travels as a summary: the one reasoning shape both OpenAI and Open Responses stream.
    parts = [] if not summary else [summary_part(summary)]
    item = {"id": item_id, "type": "reasoning", "summary": parts}
    if encrypted_content is not None:
        item["encrypted_content"] = encrypted_content  # sealed provider state (reasoning.py)
    return item


def summary_part(text: str) -> JSON:
    return {"type": "summary_text", "text": text}


def usage_to_wire(usage: Usage | None) -> JSON:
    """A finished response's usage; zeros when the upstream reported none (OpenAI's schema does
    not let a finished response say `null`)."""
    usage = usage or Usage()
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_tokens or 0,
            "cache_write_tokens": usage.cache_write_tokens or 0,
        },
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
        "total_tokens": usage.total_tokens or usage.prompt_tokens + usage.completion_tokens,
    }


def response_error(status: int, message: str) -> JSON:
    """`response.error`: OpenAI types its `code` as a closed set, so the gateway's precise code
    stays on the `error` event and the resource carries the nearest member of that set."""
    code = "rate_limit_exceeded" if status == 429 else "invalid_prompt" if 400 <= status < 500 else "server_error"
    return {"code": code, "message": message}


def error_event(sequence_number: int, error: JSON) -> JSON:
    """The stream's `error` event in both shapes at once: Open Responses nests the error object,
    OpenAI's SDK reads code, message and param at the top."""
    return {
        "type": "error",
        "sequence_number": sequence_number,
        "code": error.get("code"),
        "message": error["message"],
        "param": error.get("param"),
        "error": error,
    }


def output_text(output: list[JSON]) -> str:
    """The SDKs' `output_text` convenience: every output_text part of every message, joined."""
    return "".join(
        part.get("text", "")
        for item in output
        if item.get("type") == "message"
        for part in item.get("content", ())
        if part.get("type") == "output_text"
    )
