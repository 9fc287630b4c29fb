"""Bedrock's batch inference (model invocation jobs), for the `ProviderBatches` part (BED = botocore's bedrock
service model, `botocore/data/bedrock/2023-04-20/service-2.json`: `CreateModelInvocationJob`,
`GetModelInvocationJob`, `StopModelInvocationJob`; the user guide's "Format and upload your batch inference data"
and "View the results of a batch inference job").

The lines are a JSONL object in the provider's `batch_bucket` (`<prefix>/<job>/input.jsonl`), each
`{recordId, modelInput}` with the body `chat` would send: Claude's InvokeModel body on its InvokeModel road, a
Converse body for every other model (the job's `modelInvocationType` says which). `POST /model-invocation-job` on
the control plane (`bedrock.{region}`, signed as `bedrock`) makes the job, answering its `jobArn` (the id the
engine keeps); `GET /model-invocation-job/{jobArn}` says where it stands, with its counts, its input and output
locations and its invocation type, so nothing of a job is kept here. Once it ended, Bedrock has written
`<output>/<jobId>/input.jsonl.out` (a line per record: `{recordId, modelInput, modelOutput}` or
`{recordId, modelInput, error: {errorCode, errorMessage}}`) and `manifest.json.out` (the counts). `POST
/model-invocation-job/{jobArn}/stop` stops it.

A `recordId` is an alphanumeric string: ids outside that are sent hex-encoded after a marker (`record_id`) and read
back as they were (`caller_id`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any, Final, Literal
from urllib.parse import quote

import orjson

from babelgate.errors import InvalidRequest, UpstreamProtocolError
from babelgate.providers.batch import BatchOutcome, ProviderBatchState, ProviderBatchStatus, count
from babelgate.providers.transport import ErrorMapper
from babelgate.schema.chat import ChatResponse

# The control plane's root, unless `options.batch_control_url` names another (a VPC endpoint, a test fake).
CONTROL_URL: Final = "https://bedrock.{region}.amazonaws.com"
JOBS_PATH: Final = "/model-invocation-job"
INPUT_NAME: Final = "input.jsonl"
MANIFEST_NAME: Final = "manifest.json.out"

Invocation = Literal["InvokeModel", "Converse"]

# BED `ModelInvocationJobStatus` -> where the job stands. A stopped job ran some records (their results are in the
# output); a partially completed one ended with some records failed (in the output as errors).
# The default of Bedrock's quota "Minimum number of records per batch inference job" (per model; an account's may
# differ: `options.batch_min_records`).
MIN_RECORDS: Final = 100

STATES: Final[dict[str, ProviderBatchState]] = {
    "Submitted": "running",
    "Validating": "running",
    "Scheduled": "running",
    "InProgress": "running",
    "Stopping": "running",
    "Completed": "ended",
    "PartiallyCompleted": "ended",
    "Failed": "failed",
    "Stopped": "cancelled",
    "Expired": "expired",
}

# BED's patterns: what an S3 URI (lowercase bucket, a few characters in the key), a role ARN and a job's ARN look like.
_S3_URI: Final = re.compile(r"s3://([a-z0-9][-.a-z0-9]{1,61}[a-z0-9])((?:/[-!_*'().a-zA-Z0-9]+)*)/?")
_ROLE_ARN: Final = re.compile(r"arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+")
_JOB_ARN: Final = re.compile(r"arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:model-invocation-job/([a-z0-9]{12})")
_ALNUM: Final = re.compile(r"[A-Za-z0-9]+")
_ENCODED: Final = "bgx"  # marks a record id that is the caller's id in hex


def bucket_of(uri: str) -> tuple[str, str]:
    """`s3://bucket/prefix` -> (bucket, prefix without slashes at either end); anything else a ValueError."""
    found = _S3_URI.fullmatch(uri)
    if found is None:
        raise ValueError(f"batch_bucket: expected s3://bucket or s3://bucket/prefix, not {uri!r}")
    return found.group(1), found.group(2).strip("/")


def checked_role(arn: str | None) -> str:
    if not arn or not _ROLE_ARN.fullmatch(arn):
        raise ValueError("batch_role_arn: a bedrock provider with batch_bucket needs an IAM role's ARN (arn:aws:iam:…)")
    return arn


def job_name() -> str:
    """A new job's name (BED `ModelInvocationJobName`), also its folder in the bucket and its idempotency token."""
    return f"babelgate-{uuid.uuid4().hex[:24]}"


def job_path(job_arn: str, tail: str = "") -> str:
    """`/model-invocation-job/{jobIdentifier}`: the ARN one URI label; anything but a job's ARN is refused here."""
    if not _JOB_ARN.fullmatch(job_arn):
        raise InvalidRequest("invalid_value", param="batch_id", detail="expected a model invocation job's ARN")
    return f"{JOBS_PATH}/{quote(job_arn, safe='')}{tail}"


def job_id(job_arn: str) -> str:
    """The job's own id, the last part of its ARN: the folder Bedrock writes its results in."""
    found = _JOB_ARN.fullmatch(job_arn)
    if found is None:
        raise InvalidRequest("invalid_value", param="batch_id", detail="expected a model invocation job's ARN")
    return found.group(2)


def create_body(
    name: str, role_arn: str, model: str, input_uri: str, output_uri: str, invocation: Invocation
) -> dict[str, Any]:
    """BED `CreateModelInvocationJobRequest`."""
    return {
        "jobName": name,
        "clientRequestToken": name,  # a retried create makes no second job
        "roleArn": role_arn,
        "modelId": model,
        "modelInvocationType": invocation,
        "inputDataConfig": {"s3InputDataConfig": {"s3Uri": input_uri, "s3InputFormat": "JSONL"}},
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": output_uri}},
    }


def record_id(custom_id: str) -> str:
    """The `recordId` Bedrock takes for the caller's id: the same when it is alphanumeric (and does not look
    encoded), else its UTF-8 in hex after the marker."""
    if _ALNUM.fullmatch(custom_id) and not custom_id.startswith(_ENCODED):
        return custom_id
    return _ENCODED + custom_id.encode().hex()


def caller_id(sent: str) -> str:
    if not sent.startswith(_ENCODED):
        return sent
    try:
        return bytes.fromhex(sent[len(_ENCODED) :]).decode()
    except (ValueError, UnicodeDecodeError):
        return sent  # not one of ours: kept as the upstream wrote it


def status_of(job: dict[str, Any], provider: str, manifest: dict[str, Any] | None = None) -> ProviderBatchStatus:
    """A `GetModelInvocationJobResponse` as the engine reads it; its counts, or the manifest's when it has none."""
    state = STATES.get(str(job.get("status")))
    if state is None:
        raise UpstreamProtocolError(provider=provider, detail="the job has an unknown status")
    counts = job if "totalRecordCount" in job or manifest is None else manifest
    message = job.get("message")
    return ProviderBatchStatus(
        state,
        total=count(counts.get("totalRecordCount")),
        succeeded=count(counts.get("successRecordCount")),
        failed=count(counts.get("errorRecordCount")),
        message=message if isinstance(message, str) and message and state == "failed" else None,
    )


def s3_location(uri: Any, provider: str) -> tuple[str, str]:
    """An S3 URI the job names -> (bucket, key without a trailing slash)."""
    found = _S3_URI.fullmatch(uri) if isinstance(uri, str) else None
    if found is None:
        raise UpstreamProtocolError(provider=provider, detail="the job names no S3 location")
    return found.group(1), found.group(2).strip("/")


def results_keys(job: dict[str, Any], job_arn: str, provider: str) -> tuple[str, str, str]:
    """(bucket, the output file's key, the manifest's key) of an ended job: `<output>/<jobId>/<input name>.out`."""
    output = _member(job, "outputDataConfig", "s3OutputDataConfig", "s3Uri")
    input_uri = _member(job, "inputDataConfig", "s3InputDataConfig", "s3Uri")
    bucket, folder = s3_location(output, provider)
    _, input_key = s3_location(input_uri, provider)
    folder = "/".join(part for part in (folder, job_id(job_arn)) if part)
    return bucket, f"{folder}/{input_key.rsplit('/', 1)[-1]}.out", f"{folder}/{MANIFEST_NAME}"


def _member(value: Any, *names: str) -> Any:
    """A nested member of the job's JSON, or None where a level is missing or not an object."""
    for name in names:
        value = value.get(name) if isinstance(value, dict) else None
    return value


def outcome_of(
    record: dict[str, Any],
    *,
    from_wire: Callable[[dict[str, Any]], ChatResponse],
    map_error: ErrorMapper,
    provider: str,
    scrub: Callable[[str], str],
) -> BatchOutcome:
    """One output record: its `modelOutput` through the chat translator, or its `error` (`errorCode` an HTTP
    status) through the provider's error table."""
    sent = record.get("recordId")
    if not isinstance(sent, str):
        raise UpstreamProtocolError(provider=provider, detail="a results line has no recordId")
    custom_id = caller_id(sent)
    output, error = record.get("modelOutput"), record.get("error")
    if isinstance(output, dict):
        try:
            return BatchOutcome(custom_id, from_wire(output))
        except (AttributeError, TypeError, ValueError, KeyError):
            wrong = UpstreamProtocolError(provider=provider, detail="the body has the wrong shape")
            return BatchOutcome(custom_id, None, wrong)
    if isinstance(error, dict):
        code = error.get("errorCode")
        status = code if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599 else 500
        message = error.get("errorMessage")
        raw = orjson.dumps({"message": message if isinstance(message, str) else "the record failed"})
        return BatchOutcome(custom_id, None, map_error(status, raw, None, provider=provider, scrub=scrub))
    raise UpstreamProtocolError(provider=provider, detail="a results line has neither a modelOutput nor an error")
