"""The *prepare* step of an attempt, shared by every frontend that turns its request into a chat request:
the deployment's defaults and overrides, the chat validation, decoding into `ChatRequest`, signed tool ids
kept with their own provider, hosted tools kept only where the provider has them, and the hooks'
`transform_request`. It lives on the frontends' floor: the pipeline below never decodes a frontend's wire.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from babelgate import tool_ids
from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.hooks import RequestContext, transformed
from babelgate.providers import hosted_tools
from babelgate.providers.base import CallNotes
from babelgate.providers.openai.translate import request_from_wire
from babelgate.routing.registry import Deployment
from babelgate.schema.chat import ChatRequest

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


async def typed_request(
    runtime: Runtime,
    deployment: Deployment,
    chat: dict[str, Any],
    *,
    stream: bool,
    context: RequestContext | None,
    notes: CallNotes,
    prechecked: bool = False,
) -> ChatRequest:
    """What every frontend that is not OpenAI Chat does with the chat body it translated its request
    into (`on_request` ran in the pipeline, before the first attempt). What is dropped goes into
    `notes`. A stream always asks for usage: the frontends report it at the end.

    `prechecked` is the caller's promise that its own validation already refused everything the
    chat validation would find in `chat` (the Responses frontend's, for a body built from its
    create body alone). The check is then skipped, unless the model's defaults or overrides
    changed the body: those the frontend's validation has not seen."""
    rewritten = bool(deployment.defaults or deployment.overrides)
    if rewritten:
        deployment.apply_to_body(chat)
    if rewritten or not prechecked:
        validate_chat_body(chat)
    request = request_from_wire(chat)
    request.stream = request.include_usage = stream
    if not deployment.provider.capabilities.signed_tool_ids:
        request = tool_ids.strip_request(request)
    request = supported_tools(request, deployment, notes)
    if context is not None:
        request = await transformed(runtime.typed_hooks, context, request)
    return request


def supported_tools(request: ChatRequest, deployment: Deployment, notes: CallNotes) -> ChatRequest:
    """The request with only the hosted tools the deployment's provider has (the others dropped and
    listed in `notes`, or refused where the deployment says so)."""
    return hosted_tools.keep_supported(
        request, deployment.provider.capabilities.hosted_tools, notes, refuse=deployment.refuse_unsupported_tools
    )
