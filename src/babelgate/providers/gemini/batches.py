"""The Gemini API's batch mode, for the `ProviderBatches` part (GEM `batches.py`: `_CreateBatchJobParameters_to_mldev`,
`_InlinedRequest_to_mldev`, `_BatchJob_from_mldev`, `_InlinedResponse_from_mldev`; `types.BatchJob`).

`POST /v1beta/models/{model}:batchGenerateContent` takes the lines inlined:
`{batch: {displayName, inputConfig: {requests: {requests: [{request, metadata: {key}}]}}}}`, each `request` the
generateContent body `chat` would send, `metadata.key` the caller's id. The answer, and `GET /v1beta/{name}` after it,
is the batch's long-running operation: `name` (`batches/…`, the id the engine keeps), `metadata.state`
(`BATCH_STATE_*`), `metadata.batchStats`, and once done `metadata.output.inlinedResponses.inlinedResponses`: each
`{response | error, metadata}`, read with the chat translator or mapped as an error object inside an answer is.
`POST /v1beta/{name}:cancel` cancels it. Inlined requests are bounded: past `INLINE_LIMIT` a batch is refused here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, Final

from babelgate.errors import InvalidRequest, UpstreamProtocolError
from babelgate.providers.batch import BatchOutcome, ProviderBatchState, ProviderBatchStatus, count
from babelgate.providers.gemini.errors import error_from_object, stream_error_status
from babelgate.schema.chat import ChatResponse

# The Gemini API's bound on a batch's inlined requests (its batch mode guide: "under 20MB"); larger batches need
# the File API, which this part does not use.
INLINE_LIMIT: Final = 20 * 1024 * 1024
_NAME: Final = re.compile(r"batches/[A-Za-z0-9_-]+")

# `metadata.state`, as the Gemini API writes it (BATCH_STATE_*) and as the SDK renames it (JOB_STATE_*).
STATES: Final[dict[str, ProviderBatchState]] = {
    "BATCH_STATE_PENDING": "running",
    "BATCH_STATE_RUNNING": "running",
    "BATCH_STATE_SUCCEEDED": "ended",
    "BATCH_STATE_FAILED": "failed",
    "BATCH_STATE_CANCELLED": "cancelled",
    "BATCH_STATE_EXPIRED": "expired",
    "JOB_STATE_PENDING": "running",
    "JOB_STATE_QUEUED": "running",
    "JOB_STATE_RUNNING": "running",
    "JOB_STATE_SUCCEEDED": "ended",
    "JOB_STATE_FAILED": "failed",
    "JOB_STATE_CANCELLED": "cancelled",
    "JOB_STATE_EXPIRED": "expired",
}


def batch_body(requests: list[dict[str, Any]], display_name: str) -> dict[str, Any]:
    """The batchGenerateContent body: `requests` as `InlinedRequest`s ({request, metadata: {key}})."""
    return {"batch": {"displayName": display_name, "inputConfig": {"requests": {"requests": requests}}}}


def checked_size(body: bytes) -> bytes:
    if len(body) > INLINE_LIMIT:
        raise InvalidRequest(
            "invalid_value", param="requests", detail="the batch is larger than Gemini's 20 MB of inlined requests"
        )
    return body


def checked_name(batch_id: str) -> str:
    """A batch's id as the engine hands it back: the operation's name, `batches/…` (nothing else reaches the URL)."""
    if not _NAME.fullmatch(batch_id):
        raise InvalidRequest("invalid_value", param="batch_id", detail="expected the name of a batch (batches/…)")
    return batch_id


def batch_name(operation: dict[str, Any], provider: str) -> str:
    name = operation.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise UpstreamProtocolError(provider=provider, detail="the batch has no name")
    return name


def _metadata(operation: dict[str, Any]) -> dict[str, Any]:
    metadata = operation.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def status_of(operation: dict[str, Any], provider: str) -> ProviderBatchStatus:
    metadata = _metadata(operation)
    state = STATES.get(str(metadata.get("state")))
    if state is None:
        raise UpstreamProtocolError(provider=provider, detail="the batch has an unknown state")
    stats = metadata.get("batchStats")
    stats = stats if isinstance(stats, dict) else {}
    error = operation.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    return ProviderBatchStatus(
        state,
        total=count(stats.get("requestCount")),
        succeeded=count(stats.get("successfulRequestCount")),
        failed=count(stats.get("failedRequestCount")),
        message=message if isinstance(message, str) else None,
    )


def model_of(operation: dict[str, Any]) -> str:
    """The batch's model, without `models/` (what the translator names the answers' model)."""
    return str(_metadata(operation).get("model") or "").removeprefix("models/")


def inlined_responses(operation: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The done batch's `InlinedResponse`s: in `metadata.output`, where the SDK reads them, else in the
    operation's `response` (`GenerateContentBatchOutput`)."""
    for output in (_metadata(operation).get("output"), operation.get("response")):
        inlined = output.get("inlinedResponses") if isinstance(output, dict) else None
        items = inlined.get("inlinedResponses") if isinstance(inlined, dict) else None
        if isinstance(items, list):
            yield from (item for item in items if isinstance(item, dict))
            return


def outcome_of(
    item: dict[str, Any],
    *,
    from_wire: Callable[[dict[str, Any]], ChatResponse],
    provider: str,
    scrub: Callable[[str], str],
) -> BatchOutcome:
    metadata = item.get("metadata")
    key = metadata.get("key") if isinstance(metadata, dict) else None
    if not isinstance(key, str):
        raise UpstreamProtocolError(provider=provider, detail="an inlined response has no metadata.key")
    error = item.get("error")
    if isinstance(error, dict):  # a `google.rpc.Status`: its own `code` is the status, as inside an answer
        status = stream_error_status(error)
        return BatchOutcome(key, None, error_from_object(error, status, provider=provider, scrub=scrub))
    response = item.get("response")
    if not isinstance(response, dict) or ("candidates" not in response and "promptFeedback" not in response):
        return BatchOutcome(key, None, UpstreamProtocolError(provider=provider, detail="the body has no candidates"))
    try:
        return BatchOutcome(key, from_wire(response))
    except (AttributeError, TypeError, ValueError, KeyError):
        return BatchOutcome(key, None, UpstreamProtocolError(provider=provider, detail="the body has the wrong shape"))
