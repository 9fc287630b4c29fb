"""A logged request's capture made into its `Exchange` (conversation/log.py calls this off the request path): the
door's codec reads the request's document and the answer's bytes, and the content is cut to `max_bytes`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, Final

import orjson

from babelgate.conversation.codec import Codec, Conversation, answer_events
from babelgate.conversation.record import Exchange, Message, Part

# The Exchange's values a capture carries after its codec, document, answer, cut and unmasking, in this order.
STATS: Final = tuple(field.name for field in fields(Exchange))[: -len(("system", "input", "output", "truncated"))]
# A part's fields that hold its content, cut when the log's budget runs out.
_CONTENT_FIELDS: Final = ("content", "arguments", "response", "uri")


def build(captured: tuple[Any, ...], max_bytes: int) -> Exchange:
    codec: Codec = captured[0]
    document, chunks, cut = captured[1], captured[2], captured[3]
    conversation = _request(codec, document)
    output = codec.answer(answer_events(chunks)) if chunks else []
    hide = captured[4]
    if hide is not None:  # the values a reversible mask gave back to the client: masked again, as the model saw them
        output = [{**message, "parts": [_hidden(part, hide) for part in message["parts"]]} for message in output]
    budget = [max_bytes]
    system = _cut_parts(conversation.system, budget)
    messages = _cut_messages(conversation.input, budget)
    output = _cut_messages(output, budget)
    return Exchange(
        **dict(zip(STATS, captured[5:], strict=True)),
        system=system,
        input=messages,
        output=output,
        truncated=cut or budget[0] < 0,
    )


def _hidden(part: Part, hide: Callable[[str], str]) -> Part:
    kept = dict(part)
    for name in _CONTENT_FIELDS:
        value = kept.get(name)
        if isinstance(value, str):
            kept[name] = hide(value)
        elif value is not None and name != "uri":
            kept[name] = orjson.loads(hide(orjson.dumps(value).decode()))
    return kept


def _request(codec: Codec, document: Any) -> Conversation:
    raw = getattr(document, "raw", None)  # a request body the attempts parse again: its bytes are what was sent
    if isinstance(raw, bytes):
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return Conversation()
    return codec.request(document)


def _cut_messages(messages: list[Message], budget: list[int]) -> list[Message]:
    return [{**message, "parts": _cut_parts(message.get("parts", []), budget)} for message in messages]


def _cut_parts(parts: list[Part], budget: list[int]) -> list[Part]:
    """The parts while the budget lasts (`budget[0]`: bytes left; below 0 once something was cut): the part that
    meets the end is cut short, those after it are left out."""
    kept: list[Part] = []
    for part in parts:
        if budget[0] <= 0:
            budget[0] = -1
            break
        part = dict(part)
        for name in _CONTENT_FIELDS:
            if name in part and part[name] is not None:
                part[name] = _cut(part[name], budget)
        kept.append(part)
    return kept


def _cut(value: Any, budget: list[int]) -> Any:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    size = len(text.encode())
    if size <= budget[0]:
        budget[0] -= size
        return value
    left, budget[0] = budget[0], -1
    return text.encode()[:left].decode("utf-8", "ignore")
