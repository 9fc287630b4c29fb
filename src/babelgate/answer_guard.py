"""An answer through its output guardrails (guardrails/) before it goes out: a whole answer cleared from the bytes
that hold its texts when it can be, else its texts checked and masked in its JSON; a streamed one's as they flow
(guardrails/stream.py); and a reversible mask's placeholders put back in both. An answer the upstream refused (an
error) passes as it is: it holds no model text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import orjson

from babelgate.guardrails.check import Decisions, all_local, check, cleared, restore
from babelgate.guardrails.guardrail import Guardrail
from babelgate.guardrails.paths import TextPaths
from babelgate.guardrails.stream import StreamGuard, guarded_array, guarded_frames

if TYPE_CHECKING:
    from babelgate.answer import Answer


async def guarded_answer(
    answer: Answer,
    texts: TextPaths,
    guards: Sequence[Guardrail],
    decisions: Decisions,
    model: str,
    key_id: str | None,
) -> Answer:
    """`answer`, its texts checked by the output stage of `guards` (raises GuardrailBlocked for a whole answer a
    guardrail blocks; a stream ends with its error event instead)."""
    output = [guard for guard in guards if "output" in guard.stages]
    if (not output and decisions.vault is None) or answer.status >= 400 or not texts.output:
        return answer
    if answer.rest is None:
        kind = answer.content_type[1]
        # `find`, not `in`: bytes' `in` first tries its operand as an integer, raising and catching a TypeError.
        if kind != b"application/json" and kind.find(b"json") < 0:
            return answer
        # No placeholders to put back and no external checker to ask: the bytes holding its texts may clear it.
        if decisions.vault is None and all_local(output, "output"):
            found = texts.output.raw_texts(answer.body)
            if found is not None and (not found or cleared(output, "output", b",".join(found), decisions)):
                return answer
        try:
            document = orjson.loads(answer.body)
        except orjson.JSONDecodeError:
            return answer
        changed = await check(output, "output", document, texts.output, decisions, model, key_id)
        if restore(document, texts.output, decisions) or changed:
            answer.body = orjson.dumps(document)
        return answer
    if not texts.pieces:  # a framing the guard cannot read event by event (docs/guardrails.md)
        return answer
    guard = StreamGuard(texts, output, decisions, model, key_id)
    if texts.framing == "json-array":
        stream = guarded_array(answer.body, answer.rest, guard)
    else:
        stream = guarded_frames(answer.body, answer.rest, guard)
    # The first frame the guard lets out (a window may hold all of the first event's text: its frame still goes).
    answer.body = await anext(stream, b"")
    answer.rest = stream
    return answer
