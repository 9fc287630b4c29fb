"""The *prepare* step of an attempt, shared by every frontend that turns its request into a chat request:
the deployment's defaults and overrides, signed tool ids kept with their own provider, hosted tools kept
only where the provider has them, and the hooks' `transform_request`. It lives on the frontends' floor:
the pipeline below never decodes a frontend's wire.

Every frontend decodes its request straight into a `ChatRequest` (the Messages, Gemini, Responses and
Ollama APIs, the legacy completions API; the Chat Completions frontend with the OpenAI codec itself) and
hands it to `prepared_request`. The model's defaults and overrides are written as chat body fields
(docs/configuration.md): `with_settings` reads them with the OpenAI codec and sets the fields they name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from babelgate import tool_ids
from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.hooks import RequestContext, transformed
from babelgate.providers import hosted_tools
from babelgate.providers.base import CallNotes
from babelgate.providers.openai.translate import request_from_wire
from babelgate.routing.registry import TOKEN_FIELDS, Deployment
from babelgate.schema.chat import ChatRequest

# What a model's settings are checked with: a chat body needs one turn (its content unread).
_ONE_TURN: Final = {"role": "user", "content": ""}
# Settings that name a field of ChatRequest under another name (`max_tokens` has two too: TOKEN_FIELDS).
_SEED_FIELDS: Final = ("seed", "random_seed")
# Chat body fields that are no setting: the frontend decides streaming; the model and the conversation
# are the client's.
_NOT_SETTINGS: Final = frozenset({"model", "messages", "stream", "stream_options"})

if TYPE_CHECKING:
    from babelgate.runtime import Runtime


async def prepared_request(
    runtime: Runtime,
    deployment: Deployment,
    request: ChatRequest,
    *,
    stream: bool,
    context: RequestContext | None,
    notes: CallNotes,
) -> ChatRequest:
    """What every frontend that is not OpenAI Chat does with the request it decoded (checked as it was
    read, in the frontend's own words) before the provider; `on_request` ran in the pipeline, before
    the first attempt. What is dropped goes into `notes`. A stream always asks for usage: the frontends
    report it at the end. `request` is the attempt's own: it is changed in place."""
    if deployment.defaults or deployment.overrides:
        with_settings(request, deployment)
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


def with_settings(request: ChatRequest, deployment: Deployment) -> None:
    """The model's defaults and overrides on a decoded request, as `Deployment.apply_to_body` puts them on a
    chat body: a default fills a field the request left unset, an override always wins, and `max_tokens` and
    `max_completion_tokens` are one setting under two names. The settings are chat body fields, checked and
    read as one (a setting the chat validation refuses is a 400 naming it, as on the chat road)."""
    settings = {name: value for name, value in deployment.defaults.items() if name not in _NOT_SETTINGS}
    overrides = {name: value for name, value in deployment.overrides.items() if name not in _NOT_SETTINGS}
    settings.update(overrides)
    read = read_chat_fields(request.model, settings)
    for name in settings:
        override = name in overrides
        if name in TOKEN_FIELDS:
            if request.max_tokens is None:
                request.max_tokens_field = read.max_tokens_field
            elif not override:
                continue
            request.max_tokens = read.max_tokens
        elif name in read.extra:
            if override or name not in request.extra:
                request.extra[name] = read.extra[name]
        else:
            field = "seed" if name in _SEED_FIELDS else name
            if override or getattr(request, field) is None:
                setattr(request, field, getattr(read, field))


def read_chat_fields(model: str, fields: dict[str, Any]) -> ChatRequest:
    """Chat body fields other than the conversation (a model's settings; a legacy completions body's
    sampling fields, which are chat's by name), checked by the chat validation and read by the OpenAI
    codec onto a request without messages."""
    validate_chat_body({**fields, "model": model, "messages": [_ONE_TURN]})
    return request_from_wire({**fields, "model": model, "messages": ()})
