"""A canonical chat answer → Converse's answer (pure): `output.message` with its content blocks, `stopReason`,
`usage` and `metrics`; and the stop reasons and usage the stream's last events carry too.

The blocks are the Messages frontend's (`content_blocks`: reasoning, text, tool uses, in Claude's order) renamed
by the Bedrock provider's `block_to_wire`, the same renaming its requests go through; signed reasoning a
provider handed back in `reasoning_details` (Claude's thinking, on any road) keeps its signature
(`signed_reasoning`), so a client can send it back on its next turn.
"""

from __future__ import annotations

from typing import Any, Final

from babelgate.frontends.anthropic_messages.translate import content_blocks
from babelgate.providers.bedrock.translate_blocks import block_to_wire, signed_reasoning
from babelgate.providers.bedrock.wire import REASONING_DETAILS
from babelgate.schema.chat import AssistantMessage, ChatResponse, Usage

JSON = dict[str, Any]

# Canonical finish reason → Converse's StopReason (the inverse of the Bedrock provider's FINISH_REASONS).
STOP_REASONS: Final[dict[str, str]] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "content_filtered",
}


def stop_reason(finish_reason: str | None, *, tool_use: bool) -> str:
    reason = STOP_REASONS.get(finish_reason or "", "end_turn")
    return "tool_use" if reason == "end_turn" and tool_use else reason


def usage_to_wire(usage: Usage | None) -> JSON:
    """Converse's inputTokens exclude cache reads and writes, which the canonical prompt_tokens include; the
    total counts every token."""
    usage = usage or Usage()
    cache_read = usage.cached_tokens or 0
    cache_write = usage.cache_write_tokens or 0
    return {
        "inputTokens": max(0, usage.prompt_tokens - cache_read - cache_write),
        "outputTokens": usage.completion_tokens,
        "totalTokens": usage.prompt_tokens + usage.completion_tokens,
        "cacheReadInputTokens": cache_read,
        "cacheWriteInputTokens": cache_write,
    }


def encode_response(response: ChatResponse, *, provider: str, latency_ms: int) -> JSON:
    choice = response.choices[0] if response.choices else None
    message = choice.message if choice is not None else AssistantMessage()
    blocks = content_blocks(message, provider)
    content = [block_to_wire(block, "content") for block in blocks if block["type"] != "thinking"]
    # Reasoning first, as Claude answers: signed where the provider gave a signature (the client sends it back).
    signed = signed_reasoning(message.extra.get(REASONING_DETAILS)) if message.extra else []
    reasoning = signed or [block_to_wire(block, "content") for block in blocks if block["type"] == "thinking"]
    content = [*reasoning, *content]
    return {
        "output": {"message": {"role": "assistant", "content": content or [{"text": ""}]}},
        "stopReason": stop_reason(choice.finish_reason if choice else None, tool_use=bool(message.tool_calls)),
        "usage": usage_to_wire(response.usage),
        "metrics": {"latencyMs": latency_ms},
    }
