"""What the conversation log keeps of a logged request while it runs (conversation/log.py): a reference to its
request's document (the masked one the attempts read), and a copy of its answer as it is sent (after the output
guardrails: the masked text), whole or frame by frame. Handed over once the request has been accounted for."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from babelgate.answer import Answer, close
from babelgate.conversation.codec import Codec

if TYPE_CHECKING:
    from babelgate.call import Call
    from babelgate.conversation.log import ConversationLog
    from babelgate.runtime import Runtime


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

    def record(self, answer: Answer) -> None:
        """Keep the answer as it goes out (its stream's frames as they pass)."""
        self._keep(answer.body)
        if answer.rest is not None:
            answer.rest = self._recording(answer.rest)

    def _keep(self, body: bytes) -> None:
        if not body or self.cut:
            return
        if len(body) > self.room:
            self.cut = True
            body = body[: self.room]
        self.room -= len(body)
        self.chunks.append(bytes(body))

    async def _recording(self, frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        try:
            async for frame in frames:
                self._keep(frame)
                yield frame
        finally:
            await close(frames)

    def hand_over(
        self,
        runtime: Runtime,
        record: Call,
        status: int,
        elapsed: float,
        ttft: float | None,
        stream: bool,
    ) -> None:
        """The capture, to the log's queue (conversation/log.py `Capture`): a tuple, made into an Exchange later."""
        notes = record.notes
        usage = notes.usage if notes is not None else None
        key = record.virtual_key
        vault = record.guarded.vault if record.guarded is not None else None  # reversible masks undone for the client
        self.log.capture(
            (
                self.codec,
                self.document,
                self.chunks,
                self.cut,
                vault.hide if vault is not None else None,
                record.request_id.decode(),
                time.time() - elapsed,
                record.route,
                record.requested_model,
                record.provider,
                _upstream_model(runtime, record),
                status,
                stream,
                elapsed,
                ttft,
                record.error_code or None,
                record.key_id,
                key.team if key is not None else None,
                key.user if key is not None else None,
                record.end_user,
                record.session,
                usage.prompt_tokens if usage is not None else 0,
                usage.completion_tokens if usage is not None else 0,
                notes.cost if notes is not None else None,
                dict(record.guarded.actions) if record.guarded is not None else {},
            )
        )


def _upstream_model(runtime: Runtime, record: Call) -> str:
    """The model the serving deployment named upstream: the hooks' context knows it; otherwise the deployment of
    the public model on the serving provider."""
    if record.context is not None:
        return record.context.upstream_model or ""
    if not record.provider or not record.model:
        return ""
    try:
        deployments = runtime.registry.route(record.model).deployments
    except Exception:  # the model went in a reload meanwhile
        return ""
    return next((d.model for d in deployments if d.provider.name == record.provider), "")
