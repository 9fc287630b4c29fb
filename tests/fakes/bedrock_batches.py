"""Bedrock's batch inference on the fake Bedrock (bedrock_upstream.py): the control plane's model invocation jobs
(`POST /model-invocation-job`, `GET /model-invocation-job/{jobIdentifier}`, `POST …/{jobIdentifier}/stop`), with
the records read from and the results written to an S3 bucket (moto's server on 127.0.0.1, reached with boto3).

Like Bedrock it refuses what Bedrock refuses, and records each refusal in the fake's `violations`: a request not
signed as the fake's other operations are (SigV4 for `bedrock`, recomputed with botocore); a create body that
botocore's `CreateModelInvocationJobRequest` (its validator, and the model's patterns, enums and required members)
refuses; an input that is not in the bucket; a record whose `recordId` is not alphanumeric, or whose `modelInput`
is not what the job's invocation type takes (Claude's InvokeModel body as the runtime's InvokeModel checks it, a
Converse body against `ConverseRequest`).

A job moves on each time it is read: Submitted, Validating (a job made while `refuse_next` was set fails here, with
Bedrock's message), InProgress, then it runs every record (each answered "Answer to <the caller's id>" in the
model's own format, or the error `failures` names for its id or `failing_words` for a word of its input) and
writes `<output>/<jobId>/input.jsonl.out` and `manifest.json.out`: Completed, or PartiallyCompleted when a record
failed. While `hold` is set it stays InProgress; a stopped job goes Stopping, then Stopped, without running
anything.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import orjson
from aiohttp import web

from tests.fakes.anthropic_upstream import message as claude_message
from tests.fakes.bedrock_service import CONTROL, shape_violations

if TYPE_CHECKING:
    from tests.fakes.bedrock_upstream import FakeBedrock

ACCOUNT = "123456789012"
JOBS = "/model-invocation-job"
_RUNNING = ("Submitted", "Validating", "InProgress")


def caller_id(record_id: str) -> str:
    """The caller's id of a record: the gateway sends an id outside Bedrock's alphabet as `bgx` + its UTF-8 in hex
    (docs/providers.md), read back here on its own so that a test names lines by the caller's ids."""
    if record_id.startswith("bgx"):
        try:
            return bytes.fromhex(record_id[3:]).decode()
        except ValueError:
            return record_id
    return record_id


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _location(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key.rstrip("/")


class FakeBatchJobs:
    def __init__(self, fake: FakeBedrock) -> None:
        self._fake = fake
        self.s3_url: str | None = None  # the S3 endpoint the jobs read and write (a test sets it)
        self.reset()

    def reset(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}  # job id -> GetModelInvocationJobResponse
        self.created: list[dict[str, Any]] = []  # each accepted CreateModelInvocationJobRequest
        self.failures: dict[str, tuple[int, str]] = {}  # the caller's id -> (errorCode, errorMessage)
        self.failing_words: dict[str, tuple[int, str]] = {}  # a record whose input holds the word fails so
        self.hold = False
        self.refuse_next = False
        self.counts_in_job = True  # False: the job says no counts, its manifest does
        self.records_run = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post(JOBS, self._create)
        app.router.add_route("*", JOBS + "/{tail:.+}", self._job)

    def _s3(self) -> Any:
        import boto3

        assert self.s3_url is not None, "the test names no S3 endpoint for the batch jobs"
        return boto3.client(
            "s3",
            endpoint_url=self.s3_url,
            region_name="us-east-1",
            aws_access_key_id="fake-bedrock-service",
            aws_secret_access_key="fake-bedrock-service-secret",
        )

    # --- the operations ---------------------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = orjson.loads(raw) if raw else None
        refusal = self._fake.received_and_authorised(request, raw, body)
        if refusal is not None:
            return refusal
        problems = _create_violations(body)
        if problems:
            return self._fake._refuse("ValidationException", 400, "; ".join(problems))
        token = body.get("clientRequestToken")
        for job in self.jobs.values():
            if token is not None and job.get("clientRequestToken") == token:
                return web.json_response({"jobArn": job["jobArn"]})  # idempotent: the same job
            if job["jobName"] == body["jobName"]:
                return self._fake._error("ConflictException", 400, f"A job named {body['jobName']} already exists.")
        bucket, key = _location(body["inputDataConfig"]["s3InputDataConfig"]["s3Uri"])
        if not await asyncio.to_thread(self._exists, bucket, key):
            return self._fake._refuse("ValidationException", 400, f"No input file at s3://{bucket}/{key}")
        job_id = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
        arn = f"arn:aws:bedrock:{self._fake.region_of(request)}:{ACCOUNT}:model-invocation-job/{job_id}"
        self.jobs[job_id] = {
            **{name: body[name] for name in ("jobName", "roleArn", "modelId", "inputDataConfig", "outputDataConfig")},
            "jobArn": arn,
            "clientRequestToken": token,
            "modelInvocationType": body.get("modelInvocationType", "InvokeModel"),
            "status": "Submitted",
            "submitTime": _now(),
            "lastModifiedTime": _now(),
            "timeoutDurationInHours": body.get("timeoutDurationInHours", 24),
            "refused": self.refuse_next,
        }
        self.refuse_next = False
        self.created.append(body)
        return web.json_response({"jobArn": arn})

    async def _job(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        refusal = self._fake.received_and_authorised(request, raw, orjson.loads(raw) if raw else None)
        if refusal is not None:
            return refusal
        tail = request.raw_path.split("?", 1)[0][len(JOBS) + 1 :]
        encoded, _, action = tail.partition("/")
        if "/" in action or (request.method, action) not in (("GET", ""), ("POST", "stop")):
            return self._fake._refuse("UnknownOperationException", 404, f"no operation at {request.raw_path}")
        identifier = unquote(encoded)
        job = self.jobs.get(identifier.rsplit("/", 1)[-1])
        if job is None or identifier not in (job["jobArn"], job["jobArn"].rsplit("/", 1)[-1]):
            return self._fake._error("ResourceNotFoundException", 404, f"Could not find job {identifier}.")
        if action == "stop":
            if job["status"] not in _RUNNING:
                return self._fake._error("ValidationException", 400, f"A job that is {job['status']} cannot stop.")
            job["status"] = "Stopping"
            return web.json_response({})
        await self._advance(job)
        shown = {key: value for key, value in job.items() if key != "refused" and value is not None}
        if not self.counts_in_job:
            shown = {key: value for key, value in shown.items() if not key.endswith("RecordCount")}
        return web.json_response(shown)

    async def _advance(self, job: dict[str, Any]) -> None:
        status = job["status"]
        if status == "Submitted":
            job["status"] = "Validating"
        elif status == "Validating" and job["refused"]:
            job["status"], job["message"] = (
                "Failed",
                "The input file is malformed: it holds no record Bedrock can read.",
            )
            job["endTime"] = _now()
        elif status == "Validating":
            job["status"] = "InProgress"
        elif status == "InProgress" and not self.hold:
            await asyncio.to_thread(self._run, job)
            job["endTime"] = _now()
        elif status == "Stopping":
            job["status"], job["endTime"] = "Stopped", _now()
        job["lastModifiedTime"] = _now()

    # --- running a job ----------------------------------------------------------------------------------

    def _exists(self, bucket: str, key: str) -> bool:
        try:
            self._s3().head_object(Bucket=bucket, Key=key)
        except Exception:
            return False
        return True

    def _run(self, job: dict[str, Any]) -> None:
        s3 = self._s3()
        bucket, input_key = _location(job["inputDataConfig"]["s3InputDataConfig"]["s3Uri"])
        data = s3.get_object(Bucket=bucket, Key=input_key)["Body"].read()
        out_bucket, out_folder = _location(job["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"])
        folder = f"{out_folder}/{job['jobArn'].rsplit('/', 1)[-1]}".lstrip("/")
        lines, succeeded, failed = [], 0, 0
        for raw in data.splitlines():
            if not raw.strip():
                continue
            record = orjson.loads(raw)
            answered = self._record(record, job)
            succeeded, failed = succeeded + ("modelOutput" in answered), failed + ("error" in answered)
            lines.append(orjson.dumps(answered))
            self.records_run += 1
        name = input_key.rsplit("/", 1)[-1]
        s3.put_object(Bucket=out_bucket, Key=f"{folder}/{name}.out", Body=b"\n".join(lines) + b"\n")
        counts = {
            "totalRecordCount": len(lines),
            "processedRecordCount": len(lines),
            "successRecordCount": succeeded,
            "errorRecordCount": failed,
        }
        manifest = {**counts, "inputTokenCount": 9 * succeeded, "outputTokenCount": 3 * succeeded}
        s3.put_object(Bucket=out_bucket, Key=f"{folder}/manifest.json.out", Body=orjson.dumps(manifest))
        job.update(counts)
        job["status"] = "PartiallyCompleted" if failed else "Completed"

    def _record(self, record: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
        from tests.fakes.bedrock_upstream import claude_body_violations, converse_body_violations, converse_response

        record_id, model_input = record.get("recordId"), record.get("modelInput")
        problems = (
            []
            if isinstance(record_id, str) and record_id.isalnum() and record_id.isascii()
            else [f"recordId {record_id!r}: expected an alphanumeric string"]
        )
        problems += [f"{key}: unknown record field" for key in record if key not in ("recordId", "modelInput")]
        converse = job["modelInvocationType"] == "Converse"
        if not isinstance(model_input, dict):
            problems.append("modelInput: expected a JSON object")
        elif converse:
            problems += converse_body_violations(model_input)
        else:
            problems += claude_body_violations(model_input, job["modelId"])
        answered: dict[str, Any] = {"recordId": record_id, "modelInput": model_input}
        if problems:
            self._fake.violations.extend(problems)
            return {**answered, "error": {"errorCode": 400, "errorMessage": "; ".join(problems)}}
        if converse and "toolConfig" in model_input:  # the user guide: Converse jobs take no tool calling
            return {**answered, "error": {"errorCode": 400, "errorMessage": "toolConfig is not supported in batch."}}
        custom_id = caller_id(str(record_id))
        failure = self.failures.get(custom_id) or next(
            (error for word, error in self.failing_words.items() if word.encode() in orjson.dumps(model_input)), None
        )
        if failure is not None:
            return {**answered, "error": {"errorCode": failure[0], "errorMessage": failure[1]}}
        text = f"Answer to {custom_id}"
        if converse:
            return {**answered, "modelOutput": converse_response(text)}
        name = job["modelId"].split("anthropic.", 1)[-1]
        return {**answered, "modelOutput": claude_message(text, model=name)}


def _create_violations(body: Any) -> list[str]:
    """What Bedrock's validation refuses in a CreateModelInvocationJobRequest: botocore's validator (types,
    required members, ranges) and the model's own patterns, enums and unknown members (bedrock_service.py)."""
    if not isinstance(body, dict):
        return ["the body is not a JSON object"]
    from botocore.exceptions import ParamValidationError
    from botocore.model import ServiceModel
    from botocore.validate import validate_parameters

    from tests.fakes.bedrock_service import service_model

    problems = shape_violations(body, "CreateModelInvocationJobRequest", CONTROL)
    shape = ServiceModel(service_model(CONTROL)).operation_model("CreateModelInvocationJob").input_shape
    try:
        validate_parameters(body, shape)
    except ParamValidationError as error:
        problems.append(str(error))
    return problems
