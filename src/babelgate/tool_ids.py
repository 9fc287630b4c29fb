"""Tool-call ids that carry a provider's opaque signature, and their plain form for everyone else.

Gemini 3 rejects a history whose function calls lack their `thoughtSignature`, and OpenAI clients
keep nothing of a tool call but its id, name and arguments. So the gateway hands out ids of the
form `<id>~sig~<signature>`: every client echoes the id back on the assistant turn and on the
tool result, and the provider that issued it splits it again. Providers whose capabilities do
not say `signed_tool_ids` get the plain id, so no other upstream ever sees a signature.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from babelgate.schema.chat import ChatRequest

MARK: Final = "~sig~"
MARK_BYTES: Final = MARK.encode()


def join(call_id: str, signature: str | None) -> str:
    return f"{call_id}{MARK}{signature}" if signature else call_id


def split(call_id: str) -> tuple[str, str | None]:
    plain, mark, signature = call_id.partition(MARK)
    return (plain, signature) if mark else (call_id, None)


def plain(call_id: str) -> str:
    return call_id.partition(MARK)[0]


def strip_request(request: ChatRequest) -> ChatRequest:
    """The request with every signed id made plain (a no-op copy-free pass when none is signed)."""
    if not any(_signed_message(m.tool_call_id, m.tool_calls) for m in request.messages):
        return request
    messages = []
    for message in request.messages:
        calls = [dataclasses.replace(c, id=plain(c.id)) for c in message.tool_calls] if message.tool_calls else None
        tool_call_id = plain(message.tool_call_id) if message.tool_call_id else message.tool_call_id
        messages.append(dataclasses.replace(message, tool_calls=calls, tool_call_id=tool_call_id))
    return dataclasses.replace(request, messages=messages)


def strip_body(body: dict[str, Any]) -> None:
    """The same for an OpenAI JSON body on the fast path (called only when the raw bytes hold MARK)."""
    for message in body.get("messages") or ():
        if not isinstance(message, dict):
            continue
        if isinstance(message.get("tool_call_id"), str):
            message["tool_call_id"] = plain(message["tool_call_id"])
        for call in message.get("tool_calls") or ():
            if isinstance(call, dict) and isinstance(call.get("id"), str):
                call["id"] = plain(call["id"])


def _signed_message(tool_call_id: str | None, tool_calls: Any) -> bool:
    if tool_call_id and MARK in tool_call_id:
        return True
    return any(MARK in call.id for call in tool_calls or ())
