"""Mistral's batch jobs, for the `ProviderBatches` part (the mistralai SDK's `jobs.py` and `files.py`;
`models/createbatchjobrequest.py`, `batchjob.py`, `batchjobstatus.py`).

The lines are a JSONL file uploaded with purpose `batch` (`POST /v1/files`, as OpenAI's: openai/batches.py), each
line `{custom_id, body}` with the chat body `chat` would send (the model is the job's); `POST /v1/batch/jobs` takes
`{input_files, model, endpoint: /v1/chat/completions}`; `GET /v1/batch/jobs/{id}` says where it stands (`status`,
the counts, `output_file`, `error_file`), and its result lines are OpenAI's (`{custom_id, response: {status_code,
body}, error}`), read as openai/batches.py reads them.
"""

from __future__ import annotations

from typing import Any, Final

from babelgate.errors import UpstreamProtocolError
from babelgate.providers.batch import ProviderBatchState, ProviderBatchStatus, count

FILES_PATH: Final = "/v1/files"
JOBS_PATH: Final = "/v1/batch/jobs"
CHAT_ENDPOINT: Final = "/v1/chat/completions"

# `BatchJobStatus` → where the job stands; a job past its `timeout_hours` ends TIMEOUT_EXCEEDED.
STATES: Final[dict[str, ProviderBatchState]] = {
    "QUEUED": "running",
    "RUNNING": "running",
    "CANCELLATION_REQUESTED": "running",
    "SUCCESS": "ended",
    "FAILED": "failed",
    "TIMEOUT_EXCEEDED": "expired",
    "CANCELLED": "cancelled",
}


def line_body(body: dict[str, Any]) -> dict[str, Any]:
    """A chat body as a line carries it: the model is the job's (the JSONL writer drops `stream`)."""
    body.pop("model", None)
    return body


def status_of(job: dict[str, Any], provider: str) -> ProviderBatchStatus:
    state = STATES.get(str(job.get("status")))
    if state is None:
        raise UpstreamProtocolError(provider=provider, detail="the batch job has an unknown status")
    errors = job.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    message = first.get("message")
    return ProviderBatchStatus(
        state,
        total=count(job.get("total_requests")),
        succeeded=count(job.get("succeeded_requests")),
        failed=count(job.get("failed_requests")),
        message=message if isinstance(message, str) and state == "failed" else None,
    )
