"""Vertex AI batch prediction, for the `ProviderBatches` part (pure functions; VTX
`projects.locations.batchPredictionJobs`, its guide to Gemini batch prediction from Cloud Storage, and its guide to
batch predictions with Anthropic's Claude models).

The lines are one JSONL file in the provider's `batch_bucket`, one object per request, in the publisher's format:
Google's models take `{"key", "request"}`, `request` the generateContent body `chat` would send; Claude takes
`{"custom_id", "request"}`, `request` the rawPredict body (a Messages body with `anthropic_version`, no `model`).
The id field carries the caller's id, which Vertex writes back on the line's output (an input line's other fields
travel with it). `POST {root}/batchPredictionJobs` makes the job (`publishers/{publisher}/models/{model}`, `jsonl`
in and out); its `name` is the id the engine keeps. `GET {name}` says where it stands (`state`, `completionStats`),
and once it ended `outputInfo.gcsOutputDirectory` holds `predictions*.jsonl`: each line the input's fields plus
`response` (the publisher's answer: a GenerateContentResponse, a Message) or `status` (why the line failed).
`POST {name}:cancel` cancels it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import orjson

from babelgate.errors import GatewayError, InvalidRequest, UpstreamProtocolError
from babelgate.providers.anthropic.errors import error_from_body as anthropic_error
from babelgate.providers.batch import BatchOutcome, ProviderBatchState, ProviderBatchStatus, count
from babelgate.providers.gemini.errors import error_from_object, stream_error_status
from babelgate.schema.chat import ChatResponse

# `JobState`, as VTX lists it. A paused or updating job will go on: still running for the engine.
STATES: Final[dict[str, ProviderBatchState]] = {
    "JOB_STATE_QUEUED": "running",
    "JOB_STATE_PENDING": "running",
    "JOB_STATE_RUNNING": "running",
    "JOB_STATE_CANCELLING": "running",
    "JOB_STATE_PAUSED": "running",
    "JOB_STATE_UPDATING": "running",
    "JOB_STATE_SUCCEEDED": "ended",
    "JOB_STATE_PARTIALLY_SUCCEEDED": "ended",
    "JOB_STATE_FAILED": "failed",
    "JOB_STATE_CANCELLED": "cancelled",
    "JOB_STATE_EXPIRED": "expired",
}
_JOB_ID: Final = re.compile(r"[0-9]{1,32}")
# The output files of a Gemini job (`predictions.jsonl`; a large job's may be split, each named so).
_PREDICTIONS: Final = re.compile(r"predictions[^/]*\.jsonl")
# A `status` written as text may carry the upstream's error object after a reason ("Bad Request: {…}").
_EMBEDDED: Final = re.compile(r"\{.*\}", re.DOTALL)


# The field of a publisher's lines that carries the caller's id.
ID_FIELDS: Final = {"google": "key", "anthropic": "custom_id"}


def input_line(publisher: str, custom_id: str, request: dict[str, Any]) -> bytes:
    return orjson.dumps({ID_FIELDS[publisher]: custom_id, "request": request})


def job_body(display_name: str, publisher: str, model: str, input_uri: str, output_prefix: str) -> dict[str, Any]:
    """A BatchPredictionJob for a publisher's model: one JSONL file in, JSONL predictions out."""
    return {
        "displayName": display_name,
        "model": f"publishers/{publisher}/models/{model}",
        "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": [input_uri]}},
        "outputConfig": {"predictionsFormat": "jsonl", "gcsDestination": {"outputUriPrefix": output_prefix}},
    }


def job_name(job: dict[str, Any], jobs_prefix: str, provider: str) -> str:
    """The made job's resource name, which must be one of this project's and location's jobs."""
    name = job.get("name")
    if not isinstance(name, str) or not is_job_name(name, jobs_prefix):
        raise UpstreamProtocolError(provider=provider, detail="the batch prediction job has no name")
    return name


def is_job_name(name: str, jobs_prefix: str) -> bool:
    return name.startswith(jobs_prefix) and bool(_JOB_ID.fullmatch(name[len(jobs_prefix) :]))


def checked_name(batch_id: str, jobs_prefix: str) -> str:
    """A job's id as the engine hands it back: `projects/{p}/locations/{l}/batchPredictionJobs/{n}` of this
    provider's project and location (nothing else reaches the URL)."""
    if not is_job_name(batch_id, jobs_prefix):
        detail = "expected the name of one of this provider's batch prediction jobs"
        raise InvalidRequest("invalid_value", param="batch_id", detail=detail)
    return batch_id


def status_of(job: dict[str, Any], provider: str) -> ProviderBatchStatus:
    state = STATES.get(str(job.get("state")))
    if state is None:
        raise UpstreamProtocolError(provider=provider, detail="the batch prediction job has an unknown state")
    stats = job.get("completionStats")
    stats = stats if isinstance(stats, dict) else {}
    succeeded, failed = count(stats.get("successfulCount")), count(stats.get("failedCount"))
    error = job.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    return ProviderBatchStatus(
        state,
        total=succeeded + failed + count(stats.get("incompleteCount")),
        succeeded=succeeded,
        failed=failed,
        message=message if isinstance(message, str) and message else None,
    )


def output_directory(job: dict[str, Any]) -> str | None:
    """Where the job wrote its predictions (`gs://…`), once it wrote any."""
    info = job.get("outputInfo")
    directory = info.get("gcsOutputDirectory") if isinstance(info, dict) else None
    return directory if isinstance(directory, str) and directory else None


def is_predictions_file(object_name: str) -> bool:
    return bool(_PREDICTIONS.fullmatch(object_name.rsplit("/", 1)[-1]))


def model_of(job: dict[str, Any]) -> str:
    """The job's model, as the translator names the answers' model (`gemini-2.5-flash`)."""
    return str(job.get("model") or "").rsplit("/", 1)[-1]


def publisher_of(job: dict[str, Any]) -> str:
    """Whose model the job ran (`…/publishers/{publisher}/models/…`), which says how its lines are written."""
    parts = str(job.get("model") or "").split("/")
    return parts[parts.index("publishers") + 1] if "publishers" in parts[:-1] else "google"


def outcome_of(
    line: dict[str, Any],
    *,
    publisher: str,
    answer: Callable[[dict[str, Any]], ChatResponse],
    provider: str,
    scrub: Callable[[str], str],
) -> BatchOutcome:
    """One line of `predictions.jsonl`: its `response` read with the publisher's chat translator, or its `status`
    (a `google.rpc.Status`, or text that may quote one) mapped by its code as an error inside an answer is."""
    custom_id = line.get(ID_FIELDS.get(publisher, "key"))
    if not isinstance(custom_id, str):
        raise UpstreamProtocolError(provider=provider, detail="a predictions line has no key")
    failure = _failure(line.get("status"), provider=provider, scrub=scrub)
    if failure is not None:
        return BatchOutcome(custom_id, None, failure)
    response = line.get("response")
    if not isinstance(response, dict):
        return BatchOutcome(custom_id, None, UpstreamProtocolError(provider=provider, detail="the line has no answer"))
    try:
        return BatchOutcome(custom_id, answer(response))
    except (AttributeError, TypeError, ValueError, KeyError):
        return BatchOutcome(
            custom_id, None, UpstreamProtocolError(provider=provider, detail="the body has the wrong shape")
        )


def _failure(status: Any, *, provider: str, scrub: Callable[[str], str]) -> GatewayError | None:
    """A line's `status` as the error it is: a `google.rpc.Status` by its code; text by the error body it quotes
    (Google's `{"error": {code, …}}` by its code, Anthropic's `{"type": "error", "error": {type, …}}` by its type), else
    a 400 with the text (the line could not be answered). An empty status is a line that was answered: None."""
    if isinstance(status, dict) and status:
        return error_from_object(status, stream_error_status(status), provider=provider, scrub=scrub)
    if not isinstance(status, str) or not status:
        return None
    quoted = _quoted(status)
    inner = quoted.get("error") if quoted is not None else None
    if isinstance(inner, dict) and isinstance(inner.get("code"), int):
        return error_from_object(inner, stream_error_status(inner), provider=provider, scrub=scrub)
    if quoted is not None and quoted.get("type") == "error" and isinstance(inner, dict):
        return anthropic_error(quoted, provider=provider, scrub=scrub)
    fallback = {"code": 400, "message": status[:500]}
    return error_from_object(fallback, 400, provider=provider, scrub=scrub)


def _quoted(text: str) -> dict[str, Any] | None:
    found = _EMBEDDED.search(text)
    if found is None:
        return None
    try:
        parsed = orjson.loads(found.group())
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None
