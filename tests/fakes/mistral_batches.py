"""Mistral's files and batch jobs in memory, for the fake Mistral upstream.

`POST /v1/files` takes a multipart upload (purpose `batch`); `POST /v1/batch/jobs` takes `CreateBatchJobRequest`
(the mistralai SDK's type, no unknown field) naming uploaded files, whose lines must be `{custom_id, body}` (each
`custom_id` once), each `body` checked as the fake's `/v1/chat/completions` checks one, with the job's model:
what it would refuse is a violation the test fails on. A job is `QUEUED` when made, `RUNNING` when first fetched,
`SUCCESS` when fetched again (unless `hold`), with an output file of answers and an error file of the lines the
test said fail (`failures`), in the result lines' format (`{id, custom_id, response: {status_code, body}, error}`).
A file the test marks bad (`refuse_next`) makes the job `FAILED` with its errors. Cancelling makes the next fetch
`CANCELLED`. Files and jobs are built and checked with the SDK's `CreateFileResponse` and `BatchJob`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from mistralai.client.models import BatchJob, CreateBatchJobRequest, CreateFileResponse
from pydantic import ValidationError

from tests.fakes.scripted import Received

if TYPE_CHECKING:
    from tests.fakes.mistral_upstream import FakeMistral

CREATED = 1_700_000_000


@dataclass
class FakeJob:
    job: dict[str, Any]
    lines: list[dict[str, Any]]
    cancelling: bool = False


@dataclass
class BatchJobs:
    fake: FakeMistral
    files: dict[str, bytes] = field(default_factory=dict)
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    # custom_id → the error body of the lines that fail (a 400).
    failures: dict[str, dict[str, Any]] = field(default_factory=dict)
    hold: bool = False
    refuse_next: bool = False  # the next job's input fails validation: the job FAILED, with the reason
    refuse_create: int | None = None  # the next `POST /v1/batch/jobs` answers this status
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def reset(self) -> None:
        self.files.clear()
        self.jobs.clear()
        self.failures.clear()
        self.hold = False
        self.refuse_next = False
        self.refuse_create = None

    def mount(self, app: web.Application) -> None:
        app.router.add_post("/v1/files", self.upload)
        app.router.add_get("/v1/files/{file_id}/content", self.content)
        app.router.add_delete("/v1/files/{file_id}", self.delete)
        app.router.add_post("/v1/batch/jobs", self.create)
        app.router.add_get("/v1/batch/jobs/{job_id}", self.get)
        app.router.add_post("/v1/batch/jobs/{job_id}/cancel", self.cancel)

    def _guarded(self, request: web.Request, body: Any) -> web.Response | None:
        from tests.fakes.mistral_upstream import _auth_problem

        self.fake.received.append(Received(request.method, request.path, dict(request.headers), body))
        problem = _auth_problem(request.headers, self.fake.api_keys)
        return self.fake._unauthorized(problem) if problem is not None else None

    def _error(self, status: int, message: str) -> web.Response:
        from tests.fakes.mistral_upstream import _json, error_body

        return _json(status, error_body(message, type="invalid_request_error" if status < 500 else "api_error"))

    def _file(self, data: bytes, filename: str, sample_type: str) -> dict[str, Any]:
        file_id = f"00000000-0000-4000-8000-{next(self._ids):012d}"
        self.files[file_id] = data
        obj = {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": CREATED,
            "filename": filename,
            "purpose": "batch",
            "sample_type": sample_type,
            "source": "upload" if sample_type == "batch_request" else "mistral",
            "num_lines": data.count(b"\n"),
        }
        return CreateFileResponse.model_validate(obj).model_dump(mode="json", by_alias=True)

    def _job(self, job: dict[str, Any]) -> web.Response:
        from tests.fakes.mistral_upstream import _json

        return _json(200, BatchJob.model_validate(job).model_dump(mode="json", by_alias=True))

    async def upload(self, request: web.Request) -> web.Response:
        fields: dict[str, Any] = {}
        async for part in await request.multipart():
            if part.name == "file":
                fields["file"] = (await part.read(), part.filename or "")
            elif part.name is not None:
                fields[part.name] = await part.text()
        refused = self._guarded(request, dict(fields))
        if refused is not None:
            return refused
        if fields.get("purpose") != "batch" or "file" not in fields:
            self.fake.violations.append(f"files: expected purpose batch and a file, got {sorted(fields)}")
            return self._error(422, "purpose and file are required")
        data, filename = fields["file"]
        return web.Response(
            body=orjson.dumps(self._file(data, filename, "batch_request")), content_type="application/json"
        )

    async def content(self, request: web.Request) -> web.Response:
        refused = self._guarded(request, None)
        if refused is not None:
            return refused
        data = self.files.get(request.match_info["file_id"])
        if data is None:
            return self._error(404, "File not found")
        return web.Response(body=data, content_type="application/octet-stream")

    async def delete(self, request: web.Request) -> web.Response:
        refused = self._guarded(request, None)
        if refused is not None:
            return refused
        file_id = request.match_info["file_id"]
        if self.files.pop(file_id, None) is None:
            return self._error(404, "File not found")
        return web.json_response({"id": file_id, "object": "file", "deleted": True})

    async def create(self, request: web.Request) -> web.Response:
        from tests.fakes.mistral_upstream import request_violations

        body = await request.json()
        refused = self._guarded(request, body)
        if refused is not None:
            return refused
        if self.refuse_create is not None:
            status, self.refuse_create = self.refuse_create, None
            return self._error(status, "Service unavailable")
        try:
            CreateBatchJobRequest.model_validate(body)
        except ValidationError as error:
            self.fake.violations.append(f"batch/jobs: {error}")
            return self._error(422, str(error))
        unknown = set(body) - set(CreateBatchJobRequest.model_fields)
        if unknown or body.get("endpoint") != "/v1/chat/completions" or not body.get("model"):
            self.fake.violations.append(f"batch/jobs: unknown fields {unknown}, or no chat endpoint and model")
            return self._error(422, "invalid batch job")
        lines: list[dict[str, Any]] = []
        for file_id in body.get("input_files") or ():
            data = self.files.get(file_id)
            if data is None:
                return self._error(404, f"File {file_id} not found")
            for number, raw in enumerate(data.decode().splitlines(), start=1):
                line = orjson.loads(raw)
                if set(line) != {"custom_id", "body"} or any(seen["custom_id"] == line["custom_id"] for seen in lines):
                    self.fake.violations.append(f"line {number}: expected a unique custom_id and a body")
                checked = {**line["body"], "model": body["model"]}  # the job's model, as the API runs each line
                self.fake.violations += [f"line {number}: {problem}" for problem in request_violations(checked)]
                lines.append(line)
        job_id = f"00000000-0000-4000-9000-{next(self._ids):012d}"
        job: dict[str, Any] = {
            "id": job_id,
            "object": "batch",
            "input_files": body["input_files"],
            "endpoint": body["endpoint"],
            "model": body["model"],
            "errors": [],
            "status": "QUEUED",
            "created_at": CREATED,
            "total_requests": len(lines),
            "completed_requests": 0,
            "succeeded_requests": 0,
            "failed_requests": 0,
        }
        if self.refuse_next:
            self.refuse_next = False
            job.update(status="FAILED", errors=[{"message": "Line 1: the body is not a valid request", "count": 1}])
        self.jobs[job_id] = FakeJob(job, lines)
        return self._job(job)

    def _found(self, request: web.Request) -> FakeJob | web.Response:
        refused = self._guarded(request, None)
        if refused is not None:
            return refused
        found = self.jobs.get(request.match_info["job_id"])
        return found if found is not None else self._error(404, "Batch job not found")

    async def get(self, request: web.Request) -> web.Response:
        found = self._found(request)
        if isinstance(found, web.Response):
            return found
        job = found.job
        if found.cancelling:
            job["status"] = "CANCELLED"
        elif job["status"] == "QUEUED":
            job["status"] = "RUNNING"
        elif job["status"] == "RUNNING" and not self.hold:
            self._succeed(found)
        return self._job(job)

    def _succeed(self, found: FakeJob) -> None:
        from tests.fakes.mistral_upstream import completion

        output, errors = bytearray(), bytearray()
        for number, line in enumerate(found.lines, start=1):
            custom_id = line["custom_id"]
            failure = self.failures.get(custom_id)
            if failure is not None:
                response = {"status_code": 400, "body": failure}
            else:
                answer = completion(f"Answer to {custom_id}", model=found.job["model"])
                response = {"status_code": 200, "body": answer}
            result = {"id": f"batch-{number}", "custom_id": custom_id, "response": response, "error": None}
            (errors if failure is not None else output).extend(orjson.dumps(result) + b"\n")
        failed = errors.count(b"\n")
        found.job.update(
            status="SUCCESS",
            completed_requests=len(found.lines),
            succeeded_requests=len(found.lines) - failed,
            failed_requests=failed,
        )
        if output:
            found.job["output_file"] = self._file(bytes(output), "output.jsonl", "batch_result")["id"]
        if errors:
            found.job["error_file"] = self._file(bytes(errors), "error.jsonl", "batch_error")["id"]

    async def cancel(self, request: web.Request) -> web.Response:
        found = self._found(request)
        if isinstance(found, web.Response):
            return found
        if found.job["status"] in ("QUEUED", "RUNNING"):
            found.cancelling = True
            found.job["status"] = "CANCELLATION_REQUESTED"
        return self._job(found.job)
