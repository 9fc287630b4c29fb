"""System and developer messages inside a conversation, for upstreams that take a system prompt only
at the start (pure).

Chat lets a system message stand anywhere, and agents use that (Claude Code sends its environment
as a system message after the first user turn; a Responses client may send a developer item
mid-conversation). Anthropic and Gemini take one system prompt before the conversation; Mistral
refuses a system message after an assistant or tool turn. Hoisting a late instruction to the top
would move it before turns it was written after, so it stays where it is, as user text marked the
way Claude Code marks what the harness (not the person) says: inside `<system-reminder>` tags.
Each such move is reported (`messages[3]=system-as-user`).
"""

from __future__ import annotations

from operator import attrgetter
from typing import Final

from babelgate.schema.chat import ContentPart, Message, TextPart

SYSTEM_ROLES: Final = frozenset({"system", "developer"})
OPEN_TAG: Final = "<system-reminder>\n"
CLOSE_TAG: Final = "\n</system-reminder>"
_ROLE: Final = attrgetter("role")


def place_system_messages(
    messages: list[Message], adjusted: list[str], *, accepted_after: frozenset[str] = frozenset()
) -> list[Message]:
    """`messages` with every system or developer message that follows the conversation's first
    other message turned into a user message — unless the message before it has a role in
    `accepted_after` (where the upstream takes a system message there) and it is not the last one
    (Mistral wants a conversation to end with the user's turn or a tool result). The same list when
    there is nothing to move (the usual case: no copy)."""
    # The usual conversation has its system messages (if any) at the start only: said from the roles in C,
    # without a turn of the loop below per message (an agent's conversation has hundreds).
    roles = list(map(_ROLE, messages))
    first = 0
    while first < len(roles) and roles[first] in SYSTEM_ROLES:
        first += 1
    if SYSTEM_ROLES.isdisjoint(roles[first:]):
        return messages
    placed: list[Message] | None = None
    started = False
    last = len(messages) - 1
    for index, message in enumerate(messages):
        if message.role not in SYSTEM_ROLES:
            started = True
            continue
        if not started or (index < last and messages[index - 1].role in accepted_after):
            continue
        if placed is None:
            placed = list(messages)
        placed[index] = as_user(message)
        adjusted.append(f"messages[{index}]=system-as-user")
    return messages if placed is None else placed


def as_user(message: Message) -> Message:
    """The message's text as one user text part inside the reminder tags (none when it is blank)."""
    content = message.content
    if content is None or isinstance(content, str):
        texts = [content or ""]
    else:
        texts = [part.text for part in content if isinstance(part, TextPart)]
    text = "\n".join(text for text in texts if text.strip())
    parts: list[ContentPart] = [TextPart(OPEN_TAG + text + CLOSE_TAG)] if text else []
    return Message(role="user", content=parts)
