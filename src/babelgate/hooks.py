"""Extension points for an app that embeds the gateway: subclass `Hook`, override what you need.

- `on_request` sees every request once it is authenticated and its model resolved; raise a
  `GatewayError` to refuse it.
- `transform_request` receives the typed `ChatRequest` and returns the one to send. Overriding it
  takes chat requests off the byte-forwarding fast path (the hook needs the typed request).
- `on_complete` runs after the last byte went to the client, with what happened.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
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

    async def on_complete(self, context: RequestContext, completion: Completion) -> None:
        return None

    @property
    def needs_typed_request(self) -> bool:
        return type(self).transform_request is not Hook.transform_request


async def notify_complete(hooks: Iterable[Hook], context: RequestContext, completion: Completion) -> None:
    """Every hook's `on_complete`, after the answer is out; a failing hook never affects the client."""
    for hook in hooks:
        try:
            await hook.on_complete(context, completion)
        except Exception:
            log.exception("hook %s failed in on_complete", type(hook).__name__)
