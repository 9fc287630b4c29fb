"""The native road: a model with `native_responses` sends the client's Responses request to its
upstream's own Responses API unchanged (only `model` rewritten), so built-in tools, stored
conversations and every field OpenAI knows keep working; answers are relayed as they come.
Such responses live at the upstream: the gateway's store does not keep them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from babelgate.answer import Answer, streamed
from babelgate.errors import GatewayError
from babelgate.frontends.openai_errors import error_object
from babelgate.frontends.responses.wire import JSON, error_event
from babelgate.providers.base import CallNotes, relay_of
from babelgate.routing.registry import Deployment
from babelgate.streaming import encode_sse_event

if TYPE_CHECKING:
    pass


async def relay(body: JSON, deployment: Deployment, notes: CallNotes, *, stream: bool) -> Answer:
    relay = relay_of(deployment.provider, "responses", deployment.model)
    if relay is None:  # the registry refuses `native_responses` on such a provider at startup
        raise RuntimeError(f"provider {deployment.provider.name!r} does not relay the Responses API")
    if stream:
        frames = relay.relay_stream("responses", body, deployment.model, notes)
        return await streamed(frames, notes, on_error=encode_error_event)
    return Answer(await relay.relay("responses", body, deployment.model, notes), notes)


def encode_error_event(error: GatewayError, language: str) -> bytes:
    """A failure after a relayed stream began (no `response.failed` of ours can follow it)."""
    return encode_sse_event("error", error_event(0, error_object(error, language)))
