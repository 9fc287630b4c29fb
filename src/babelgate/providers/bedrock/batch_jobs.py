"""The I/O of a Bedrock provider's batch part (batches.py has the wire): the input written to the provider's
`batch_bucket`, the job made, polled and stopped on the control plane, the results read back from the bucket line
by line. The provider hands in how it signs and sends a request, the body `chat` would send for a line, and how
its answers are read, so a batched line is translated exactly as an interactive one."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from babelgate.errors import UpstreamError, UpstreamProtocolError
from babelgate.http import UpstreamResponse
from babelgate.http.s3 import S3Bucket, S3Error
from babelgate.providers.batch import BatchLine, BatchOutcome, ProviderBatchStatus, checked_lines, jsonl_of
from babelgate.providers.bedrock import batches
from babelgate.providers.bedrock.batches import Invocation
from babelgate.providers.transport import ErrorMapper, read_json_object
from babelgate.schema.chat import ChatRequest, ChatResponse

JSONL_TYPE = "application/jsonl"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class JobWire:
    """What the provider lends its batch part: signed requests to the control plane, and its translators."""

    post: Callable[[str, bytes], Awaitable[UpstreamResponse]]
    get: Callable[[str], Awaitable[UpstreamResponse]]
    # The upstream model's invocation type: InvokeModel for Claude on its InvokeModel road, else Converse.
    invocation: Callable[[str], Invocation]
    # A line's `modelInput`: the body `chat` sends to the model, never streamed.
    body: Callable[[ChatRequest, str], dict[str, Any]]
    # How a record's `modelOutput` is read, by the job's invocation type and model.
    reader: Callable[[Invocation, str, int], Callable[[dict[str, Any]], ChatResponse]]
    map_error: ErrorMapper
    scrub: Callable[[str], str]


class BatchJobs:
    def __init__(
        self, provider: str, wire: JobWire, *, objects: S3Bucket, prefix: str, role_arn: str, control_url: str
    ) -> None:
        self._provider, self._wire, self._objects = provider, wire, objects
        self._prefix, self._role_arn, self._jobs_url = prefix, role_arn, control_url.rstrip("/")

    async def submit(self, model: str, lines: Sequence[BatchLine]) -> str:
        invocation = self._wire.invocation(model)
        records = bytearray()
        for line in checked_lines(lines):
            record = {"recordId": batches.record_id(line.custom_id), "modelInput": self._wire.body(line.request, model)}
            records += orjson.dumps(record) + b"\n"
        name = batches.job_name()
        folder = "/".join(part for part in (self._prefix, name) if part)
        input_key = f"{folder}/{batches.INPUT_NAME}"
        await self._bucket(self._objects.put(input_key, bytes(records), len(records), JSONL_TYPE))
        bucket = self._objects.bucket
        body = batches.create_body(
            name, self._role_arn, model, f"s3://{bucket}/{input_key}", f"s3://{bucket}/{folder}/output/", invocation
        )
        response = await self._wire.post(self._jobs_url + batches.JOBS_PATH, orjson.dumps(body))
        _, parsed = await read_json_object(response, self._provider)
        job_arn = parsed.get("jobArn")
        if not isinstance(job_arn, str):
            raise UpstreamProtocolError(provider=self._provider, detail="the body has no jobArn")
        batches.job_path(job_arn)  # an ARN the engine can hand back
        return job_arn

    async def _job(self, job_arn: str) -> dict[str, Any]:
        response = await self._wire.get(self._jobs_url + batches.job_path(job_arn))
        return (await read_json_object(response, self._provider))[1]

    async def status(self, job_arn: str) -> ProviderBatchStatus:
        job = await self._job(job_arn)
        manifest = None
        if "totalRecordCount" not in job and batches.STATES.get(str(job.get("status"))) == "ended":
            manifest = await self._manifest(job, job_arn)
        return batches.status_of(job, self._provider, manifest)

    async def _manifest(self, job: dict[str, Any], job_arn: str) -> dict[str, Any] | None:
        """The counts Bedrock wrote beside the results, when the job itself gives none."""
        bucket, _, manifest_key = batches.results_keys(job, job_arn, self._provider)
        if bucket != self._objects.bucket:
            return None
        try:
            parsed = orjson.loads(await self._bucket(self._objects.read(manifest_key)))
        except (FileNotFoundError, orjson.JSONDecodeError):
            return None
        return parsed if isinstance(parsed, dict) else None

    async def results(self, job_arn: str) -> AsyncIterator[BatchOutcome]:
        job = await self._job(job_arn)
        bucket, output_key, _ = batches.results_keys(job, job_arn, self._provider)
        if bucket != self._objects.bucket:
            raise UpstreamProtocolError(provider=self._provider, detail="the job's output is not in batch_bucket")
        invocation: Invocation = "Converse" if job.get("modelInvocationType") == "Converse" else "InvokeModel"
        read = self._wire.reader(invocation, str(job.get("modelId") or ""), int(time.time()))
        records = jsonl_of(self._objects.pieces(output_key), self._provider)
        try:
            async with contextlib.aclosing(records):
                async for record in records:
                    yield batches.outcome_of(
                        record,
                        from_wire=read,
                        map_error=self._wire.map_error,
                        provider=self._provider,
                        scrub=self._wire.scrub,
                    )
        except FileNotFoundError:
            return  # a job that ran no record (failed, stopped or expired before any) writes no output
        except S3Error as error:
            raise self._bucket_error(error) from None

    async def cancel(self, job_arn: str) -> None:
        response = await self._wire.post(self._jobs_url + batches.job_path(job_arn, "/stop"), b"")
        await read_json_object(response, self._provider)

    async def _bucket(self, operation: Awaitable[_T]) -> _T:
        """A bucket's failure as the upstream's (a 502 naming it), never as a crash of the batch."""
        try:
            return await operation
        except S3Error as error:
            raise self._bucket_error(error) from None

    def _bucket_error(self, error: Exception) -> UpstreamError:
        return UpstreamError(provider=self._provider, raw_message=f"batch_bucket: {error}")

    async def close(self) -> None:
        await self._objects.close()
