"""Fields of a client's chat messages that a translator has no place for (pure).

Agents send earlier assistant turns back as they received them, response-only fields and all: Copilot
CLI adds `"annotations": []` (a field of OpenAI's answer, not of its request's assistant message), others
`refusal`, `audio` or `reasoning_details`. The chat frontend keeps them in `Message.extra`. OpenAI's
request schema leaves a message open to such fields, so an OpenAI-compatible upstream gets them as sent
and judges them itself; a translated road has no field to put them in, so they are dropped and each is
reported (`messages[2].annotations=dropped`, counting the chat request's messages), as every other drop is
(docs/api.md, the tolerant reader). A field that is null carries nothing, and is dropped unreported.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from babelgate.schema.chat import Message


def report_unsent_fields(messages: Sequence[Message], adjusted: list[str], *, used: Iterable[str] = ()) -> None:
    """Report each field of `messages`' `extra` the translator does not send: all but `used` (those the
    translator reads, such as the reasoning details Anthropic's thinking blocks are rebuilt from)."""
    kept = frozenset(used)
    for index, message in enumerate(messages):
        if message.extra:  # the usual message has none
            adjusted += [
                f"messages[{index}].{name}=dropped"
                for name, value in message.extra.items()
                if value is not None and name not in kept
            ]
