"""Signed thinking blocks remembered by tool-call id, for clients that do not send them back.

With thinking on, Claude rejects a tool-loop continuation whose assistant turn lacks its signed
thinking block. OpenAI clients that keep only standard fields drop `reasoning_details`; this
bounded in-process memory re-attaches the blocks by the tool-call ids the client does keep.
"""

from __future__ import annotations

from collections import OrderedDict

from babelgate.schema.chat import JSON


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
