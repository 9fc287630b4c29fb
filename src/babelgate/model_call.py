"""What a frontend's handler returns for a request that names a model: the model, the attempt that serves it
on one deployment, and what the conductor needs around it (the cache key's parts, what session affinity reads,
what to do once the answer is out). The handler decodes and checks; the pipeline conducts (pipeline.serve):
allow-list → cache → admit → attempts → send → settle → `after`. A handler that names no model returns an
`Answer` instead (answer.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from babelgate.answer import Answer
from babelgate.conversation.codec import Codec
from babelgate.errors import GatewayError
from babelgate.guardrails.paths import TextPaths
from babelgate.providers.base import CallNotes
from babelgate.routing.registry import Deployment

# What a frontend does with one deployment: prepare, call the provider, encode; returns the answer.
Attempt = Callable[[Deployment, CallNotes], Awaitable[Answer]]
# Raises (UnsupportedCapability, InvalidRequest) when a deployment cannot serve the request at all.
Check = Callable[[Deployment], None]
# The frontend's work once the call is over: (the answer sent, the error its stream ended with) once it went
# out, or (None, the error) when the call failed before anything was sent (that error then becomes the
# answer). The frontend learns how it ended from these two, never from the exchange.
After = Callable[[Answer | None, GatewayError | None], Awaitable[None]]


@dataclass(slots=True)
class ModelCall:
    """One call of a public model, for the pipeline to conduct. Not frozen: a frozen dataclass's `__init__`
    sets each field through `object.__setattr__`, a call each on every request."""

    model: str  # the public model name the client asked for
    attempt: Attempt
    stream: bool
    check: Check | None = None
    # The request's bytes, from frontends whose answers may be cached (response_cache.py); None: not cached.
    cache_body: bytes | None = None
    # What else decides the answer's bytes on that route (the Gemini API's stream, as SSE or as one JSON
    # array), so that each framing has its own cache entries.
    cache_framing: str = ""
    # The request's decoded body, from frontends of conversations, where session affinity reads what names a
    # session (routing/affinity.py; only when the model's routing keeps sessions).
    fields: Mapping[str, Any] | None = None
    after: After | None = None
    # Where the request's and the answer's texts are in this door's JSON (guardrails/paths.py), and the request's
    # document the attempts read (a pipeline.Body, or the decoded object itself): the guardrails check and mask
    # it in place before any attempt. None: the route has no texts to guard.
    texts: TextPaths | None = None
    document: Any = None
    # Guardrails the request itself names (Converse's `guardrailConfig`), passed besides those the caller's key,
    # team, model and the server impose; names the configuration has not are the door's to report.
    guardrails: tuple[str, ...] = ()
    # How the conversation log reads this door's request and answer (conversation/codec.py); None: not logged.
    codec: Codec | None = None
    # How the door writes an answer that its attempts give in another framing (Bedrock's event stream from
    # Anthropic's SSE): applied after the output guardrails, which read the framing `texts` describes.
    reframe: Callable[[Answer], Answer] | None = None
