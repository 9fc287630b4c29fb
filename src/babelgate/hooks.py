"""Extension points for an app that embeds the gateway: subclass `Hook`, override what you need.

- `on_request` sees every request once it is authenticated and its model resolved; raise a
  `GatewayError` to refuse it.
- `transform_request` receives the typed `ChatRequest` and returns the one to send. Overriding it
  takes chat requests off the byte-forwarding fast path (the hook needs the typed request).
- `on_stream_chunk` sees each piece of a streamed answer as it goes to the client (in the
  frontend's own wire format). Only hooks that override it are called, and streams are wrapped
  only when one does.
- `on_complete` runs after the last byte went to the client, with what happened: status, time,
  usage (on every road that reports it), finish reason, error code.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from babelgate.schema.chat import ChatRequest, Usage

log = logging.getLogger("babelgate.hooks")


@dataclass(slots=True)
class RequestContext:
    request_id: str
    route: str
    model: str
    provider: str
    upstream_model: str
    stream: bool
    key_id: str | None
    headers: Mapping[str, str]
    state: dict[str, Any] = field(default_factory=dict)
    # The caller's virtual key, when it used one: its team and metadata (governance/virtual_keys.py).
    team: str | None = None
    key_metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Completion:
    status: int
    seconds: float
    usage: Usage | None
    finish_reason: str | None
    error_code: str | None


class Hook:
    async def on_request(self, context: RequestContext) -> None:
        return None

    async def transform_request(self, context: RequestContext, request: ChatRequest) -> ChatRequest:
        return request

    async def on_stream_chunk(self, context: RequestContext, data: bytes) -> None:
        return None

    async def on_complete(self, context: RequestContext, completion: Completion) -> None:
        return None

    @property
    def needs_typed_request(self) -> bool:
        return type(self).transform_request is not Hook.transform_request

    @property
    def observes_chunks(self) -> bool:
        return type(self).on_stream_chunk is not Hook.on_stream_chunk


async def observed(
    frames: AsyncIterator[bytes], hooks: Sequence[Hook], context: RequestContext
) -> AsyncIterator[bytes]:
    """`frames`, each shown to the hooks' `on_stream_chunk` before it goes on."""
    try:
        async for frame in frames:
            await notify_chunk(hooks, context, frame)
            yield frame
    finally:
        aclose = getattr(frames, "aclose", None)
        if aclose is not None:
            await aclose()


async def notify_request(hooks: Iterable[Hook], context: RequestContext) -> None:
    """Every hook's `on_request`, in order, once per request; one that raises refuses the request (its
    error is the answer)."""
    for hook in hooks:
        await hook.on_request(context)


async def transformed(hooks: Iterable[Hook], context: RequestContext, request: ChatRequest) -> ChatRequest:
    """The request as every hook's `transform_request` leaves it, in order (the hooks that override it:
    `Runtime.typed_hooks`)."""
    for hook in hooks:
        request = await hook.transform_request(context, request)
    return request


async def notify_chunk(hooks: Sequence[Hook], context: RequestContext, data: bytes) -> None:
    """Every observing hook's `on_stream_chunk`; a failing hook never breaks the stream."""
    await _each(hooks, "on_stream_chunk", context, data)


async def notify_complete(hooks: Iterable[Hook], context: RequestContext, completion: Completion) -> None:
    """Every hook's `on_complete`, after the answer is out; a failing hook never affects the client."""
    await _each(hooks, "on_complete", context, completion)


async def _each(hooks: Iterable[Hook], method: str, *args: Any) -> None:
    """Calls `method` of every hook, in order; one that raises is logged and the others still run."""
    for hook in hooks:
        try:
            await getattr(hook, method)(*args)
        except Exception:
            log.exception("hook %s failed in %s", type(hook).__name__, method)
