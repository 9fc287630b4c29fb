"""Signed thinking blocks remembered by tool-call id, for clients that do not send them back.

With thinking on, Claude rejects a tool-loop continuation whose assistant turn lacks its signed
thinking block. OpenAI clients that keep only standard fields drop `reasoning_details`; this
bounded in-process memory re-attaches the blocks by the tool-call ids the client does keep.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict

from babelgate.providers.anthropic.wire import REASONING_DETAILS
from babelgate.providers.base import CallNotes
from babelgate.schema.chat import JSON, ChatRequest


class ThinkingReplay:
    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._by_call: OrderedDict[str, list[JSON]] = OrderedDict()

    def remember(self, tool_call_ids: list[str], details: list[JSON]) -> None:
        if not details:
            return
        for call_id in tool_call_ids:
            self._by_call[call_id] = details
            self._by_call.move_to_end(call_id)
        while len(self._by_call) > self._capacity:
            self._by_call.popitem(last=False)

    def recall(self, tool_call_ids: list[str]) -> list[JSON] | None:
        for call_id in tool_call_ids:
            details = self._by_call.get(call_id)
            if details is not None:
                return details
        return None


def with_thinking_replayed(request: ChatRequest, replay: ThinkingReplay, notes: CallNotes) -> ChatRequest:
    """Claude refuses a tool-loop continuation with thinking on unless the last assistant turn
    starts with its signed thinking: re-attach it from memory, or else leave thinking off (every
    provider that serves Claude: Anthropic, Bedrock)."""
    if request.reasoning_effort in (None, "none"):
        return request
    position = next(
        (i for i in range(len(request.messages) - 1, -1, -1) if request.messages[i].role == "assistant"), None
    )
    if position is None:
        return request
    last = request.messages[position]
    if not last.tool_calls or last.extra.get(REASONING_DETAILS):
        return request
    details = replay.recall([call.id for call in last.tool_calls])
    if details is None:
        notes.adjusted.append("reasoning_effort=dropped")
        return dataclasses.replace(request, reasoning_effort=None)
    messages = list(request.messages)
    messages[position] = dataclasses.replace(last, extra={**last.extra, REASONING_DETAILS: details})
    return dataclasses.replace(request, messages=messages)
