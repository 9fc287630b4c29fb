"""Anthropic's Message Batches, for the `ProviderBatches` part (ANT `messages/batch_create_params.py`,
`messages/message_batch.py`, `messages/message_batch_individual_response.py`).

`POST /v1/messages/batches` takes `requests: [{custom_id, params}]`, each `params` the Messages body `chat` would
send (never streamed); `GET /v1/messages/batches/{id}` says where it stands (`processing_status` in_progress,
canceling, ended; `request_counts`); once ended, `GET /v1/messages/batches/{id}/results` is a JSONL file of
`{custom_id, result}`: `succeeded` with the `message`, read with the chat translator; `errored` with an error body,
mapped by its type; `canceled` and `expired` lines never ran. A `custom_id` is 1 to 64 of `[A-Za-z0-9_-]`: ids
outside that are sent encoded (`wire_id`) and read back as they were (`caller_id`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any, Final

from babelgate.errors import InvalidRequest, UpstreamProtocolError
from babelgate.providers.anthropic.errors import error_from_body
from babelgate.providers.batch import BatchOutcome, ProviderBatchState, ProviderBatchStatus, count
from babelgate.schema.chat import ChatResponse

BATCHES_PATH: Final = "/v1/messages/batches"

_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
# What marks an id sent encoded: base64url (whose alphabet is the id's) of the caller's id, without padding.
_ENCODED: Final = "b64-"


def wire_id(custom_id: str) -> str:
    """The `custom_id` Anthropic takes for the caller's id: the same when it fits (and does not look encoded)."""
    if _ID.fullmatch(custom_id) and not custom_id.startswith(_ENCODED):
        return custom_id
    encoded = _ENCODED + base64.urlsafe_b64encode(custom_id.encode()).decode().rstrip("=")
    if len(encoded) > 64:
        raise InvalidRequest(
            "invalid_value", param="custom_id", detail=f"{custom_id[:80]!r} is too long for Anthropic's batches"
        )
    return encoded


def caller_id(sent: str) -> str:
    """The caller's id of a `custom_id` sent by `wire_id`."""
    if not sent.startswith(_ENCODED):
        return sent
    encoded = sent[len(_ENCODED) :]
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return sent  # not one of ours: kept as the upstream wrote it


def status_of(batch: dict[str, Any], provider: str) -> ProviderBatchStatus:
    """A `MessageBatch` as the engine reads it: an ended batch that was cancelled, or whose lines expired before
    any ran, says so."""
    processing = batch.get("processing_status")
    counts = batch.get("request_counts")
    counts = counts if isinstance(counts, dict) else {}
    succeeded, errored = count(counts.get("succeeded")), count(counts.get("errored"))
    canceled, expired = count(counts.get("canceled")), count(counts.get("expired"))
    total = succeeded + errored + canceled + expired + count(counts.get("processing"))
    if processing in ("in_progress", "canceling"):
        state: ProviderBatchState = "running"
    elif processing == "ended":
        if batch.get("cancel_initiated_at"):
            state = "cancelled"
        elif expired and not succeeded and not errored:
            state = "expired"
        else:
            state = "ended"
    else:
        raise UpstreamProtocolError(provider=provider, detail="the batch has an unknown processing_status")
    return ProviderBatchStatus(state, total=total, succeeded=succeeded, failed=errored)


def outcome_of(
    line: dict[str, Any],
    *,
    from_wire: Callable[[dict[str, Any]], ChatResponse],
    provider: str,
    scrub: Callable[[str], str],
) -> BatchOutcome | None:
    """One `MessageBatchIndividualResponse`; a line that never ran (canceled, expired) None."""
    custom_id, result = line.get("custom_id"), line.get("result")
    if not isinstance(custom_id, str) or not isinstance(result, dict):
        raise UpstreamProtocolError(provider=provider, detail="a results line has no custom_id or result")
    custom_id = caller_id(custom_id)
    kind = result.get("type")
    if kind == "succeeded" and isinstance(result.get("message"), dict):
        try:
            return BatchOutcome(custom_id, from_wire(result["message"]))
        except (AttributeError, TypeError, ValueError, KeyError):
            error = UpstreamProtocolError(provider=provider, detail="the body has the wrong shape")
            return BatchOutcome(custom_id, None, error)
    if kind == "errored":
        body = result.get("error")
        return BatchOutcome(
            custom_id, None, error_from_body(body if isinstance(body, dict) else {}, provider=provider, scrub=scrub)
        )
    if kind in ("canceled", "expired"):
        return None
    raise UpstreamProtocolError(provider=provider, detail="a results line has an unknown result type")
