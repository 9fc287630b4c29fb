"""Azure OpenAI error bodies → GatewayError, and its content filter as the refusal the
`content_policy_fallbacks` key on.

Azure answers in OpenAI's error format (providers/openai/errors.py reads it), with its own codes: a prompt
its content filter refused is a 400 `{"error": {"code": "content_filter", "innererror": {"code":
"ResponsibleAIPolicyViolation", "content_filter_result": {…}}}}`, which the shared table already gives the
`content_filter` code (routing/retry.py: CONTENT_POLICY_CODES); older API versions may put the
`ResponsibleAIPolicyViolation` only in `innererror`, which is read here. An answer the filter stopped
arrives with HTTP 200 and `finish_reason: "content_filter"`, with its text cut or empty: with nothing
left of it, it is that refusal too (`filtered_answer`; in a stream, a filter that stops it before its first
word: `stream_began`), so that another model may answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import orjson
from multidict import CIMultiDictProxy

from babelgate.errors import GatewayError, UpstreamRejected
from babelgate.providers.openai.errors import map_error as openai_error
from babelgate.providers.status import error_for_status, parse_retry_after

CONTENT_FILTER: Final = "content_filter"
_POLICY_CODES: Final = frozenset({"ResponsibleAIPolicyViolation", CONTENT_FILTER})


def map_error(
    status: int, body: bytes, headers: CIMultiDictProxy[str] | None, *, provider: str, scrub: Callable[[str], str]
) -> GatewayError:
    error = _error_object(body)
    inner: dict[str, Any] = error["innererror"] if isinstance(error.get("innererror"), dict) else {}
    if status == 400 and (
        inner.get("code") in _POLICY_CODES or "content_filter_result" in inner or "content_filter_results" in error
    ):
        message = error.get("message")
        return error_for_status(
            400,
            provider=provider,
            scrub=scrub,
            message=message if isinstance(message, str) else None,
            code=CONTENT_FILTER,
            param=error.get("param") if isinstance(error.get("param"), str) else None,
            retry_after=parse_retry_after(headers) if headers is not None else None,
        )
    return openai_error(status, body, headers, provider=provider, scrub=scrub)


def filtered_answer(parsed: dict[str, Any], *, provider: str) -> GatewayError | None:
    """The refusal for a chat answer whose every choice the filter stopped with nothing left (no text, no
    tool call), else None."""
    choices = parsed.get("choices")
    if not isinstance(choices, list) or not choices:
        return None
    for choice in choices:
        if not isinstance(choice, dict) or choice.get("finish_reason") != CONTENT_FILTER:
            return None
        message: dict[str, Any] = choice["message"] if isinstance(choice.get("message"), dict) else {}
        if message.get("content") or message.get("tool_calls"):
            return None
    return content_filtered(provider)


def content_filtered(provider: str) -> GatewayError:
    """The refusal of an answer Azure's content filter stopped (its words when it refuses a prompt)."""
    return UpstreamRejected(
        provider=provider,
        code=CONTENT_FILTER,
        raw_message="The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
    )


def _error_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return {}
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return error if isinstance(error, dict) else {}


def stream_began(piece: bytes) -> bool:
    """Whether these SSE frames of a chat stream carry the answer's first words (text, a tool call, a
    refusal): until then, a filter that ends the stream leaves the client nothing, and the gateway may still
    send the request elsewhere. Read only while nothing has begun (a stream's first frame or two)."""
    for line in piece.split(b"\n"):
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if not data.startswith(b"{"):
            continue
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return True  # not ours to judge: the relay's own checks speak to it
        for choice in event.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict) and (delta.get("content") or delta.get("tool_calls") or delta.get("refusal")):
                return True
    return False
