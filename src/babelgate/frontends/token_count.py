"""The one way every door counts a request's input tokens (`/v1/messages/count_tokens`,
`/v1/responses/input_tokens`, the Gemini API's `:countTokens`): the provider's own counter where its
capabilities declare one and the model's road has it (Anthropic's count_tokens, Gemini's and Vertex's
countTokens, Bedrock's CountTokens for Claude), otherwise the local estimate (token_estimate.py).

Every answer says which it is in `x-babelgate-token-count`: `upstream` or `estimate`. A door whose client speaks
the provider's own API (a Claude model on the Messages door) relays the count instead, marked `upstream` too.
"""

from __future__ import annotations

from typing import Final

from babelgate.frontends.token_estimate import estimate_tokens
from babelgate.providers.base import CallNotes, token_counter_of
from babelgate.routing.registry import Deployment
from babelgate.schema.chat import ChatRequest

HEADER: Final = b"x-babelgate-token-count"
UPSTREAM: Final = [(HEADER, b"upstream")]
ESTIMATE: Final = [(HEADER, b"estimate")]


async def count_input_tokens(
    deployment: Deployment, request: ChatRequest, notes: CallNotes
) -> tuple[int, list[tuple[bytes, bytes]]]:
    """The count, and the header that says how it was made."""
    counter = token_counter_of(deployment.provider)
    if counter is not None:
        counted = await counter.count_input_tokens(request, deployment.model, notes)
        if counted is not None:
            return counted, list(UPSTREAM)
    return estimate_tokens(request), list(ESTIMATE)
