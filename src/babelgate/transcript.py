"""What the conversation log keeps of a logged request while it runs (conversation/log.py): a reference to its
request's document (the masked one the attempts read), and a copy of its answer as it is sent (after the output
guardrails: the masked text), whole or frame by frame. Handed over once the request is accounted for
(accounting.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

from babelgate.conversation.codec import Codec
from babelgate.tap import tapped

if TYPE_CHECKING:
    from babelgate.conversation.log import ConversationLog


class Sent(Protocol):
    """What of an answer (answer.py) a transcript reads and wraps: not imported, so that the request's record
    (call.py), which holds a transcript, and the answer, which names the record, stay apart."""

    body: bytes
    rest: AsyncIterator[bytes] | None


class Transcript:
    __slots__ = ("chunks", "codec", "cut", "document", "log", "room")

    def __init__(self, log: ConversationLog, codec: Codec, document: Any) -> None:
        self.log = log
        self.codec = codec
        self.document = document
        self.chunks: list[bytes] = []
        # The answer's bytes kept: its framing (SSE, JSON) takes room too, so more than the content's max_bytes.
        self.room = 4 * log.max_bytes + 65536
        self.cut = False

    def record(self, answer: Sent) -> None:
        """Keep the answer as it goes out (its stream's frames as they pass)."""
        self._keep(answer.body)
        if answer.rest is not None:
            answer.rest = tapped(answer.rest, self._keep)

    def _keep(self, body: bytes) -> None:
        if not body or self.cut:
            return
        if len(body) > self.room:
            self.cut = True
            body = body[: self.room]
        self.room -= len(body)
        self.chunks.append(bytes(body))
