"""The Gemini API's batch mode in memory, for the fake Gemini upstream.

`models/{model}:batchGenerateContent` takes inlined requests (`{batch: {displayName, inputConfig: {requests:
{requests: [{request, metadata: {key}}]}}}}`, the shape GEM's `_CreateBatchJobParameters_to_mldev` sends), each
`request` checked as the fake's generateContent checks a body; what it would refuse is a violation the test fails
on. The answer and `GET /v1beta/batches/{id}` are the batch's operation (`name`, `metadata` with `state`,
`batchStats` and, when done, `output.inlinedResponses`): `BATCH_STATE_PENDING` when made, `RUNNING` when first
fetched, `SUCCEEDED` when fetched again (unless `hold`), each line answered or refused as the test scripted
(`failures`). `:cancel` makes the next fetch `CANCELLED`. Every operation is read back through the SDK's own
parser and type (`_BatchJob_from_mldev`, `types.BatchJob`), so a shape the SDK cannot read fails here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from google.genai import types
from google.genai.batches import _BatchJob_from_mldev

if TYPE_CHECKING:
    from tests.fakes.gemini_upstream import FakeGemini

TIME = "2025-01-01T00:00:00.000000Z"
_BATCH_FIELDS = {"displayName", "inputConfig", "priority"}


@dataclass
class FakeBatchJob:
    operation: dict[str, Any]
    requests: list[dict[str, Any]]
    fetched: int = 0
    cancelling: bool = False


@dataclass
class BatchMode:
    fake: FakeGemini
    jobs: dict[str, FakeBatchJob] = field(default_factory=dict)
    # metadata.key → (code, message) of the lines that fail.
    failures: dict[str, tuple[int, str]] = field(default_factory=dict)
    hold: bool = False
    refuse_next: bool = False  # the next batch is refused when made (a 400 INVALID_ARGUMENT)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def reset(self) -> None:
        self.jobs.clear()
        self.failures.clear()
        self.hold = False
        self.refuse_next = False

    def mount(self, app: web.Application) -> None:
        app.router.add_get(r"/{version:v1beta|v1}/batches/{batch:[^/:]+}", self.get)
        app.router.add_post(r"/{version:v1beta|v1}/batches/{batch:[^/:]+}:cancel", self.cancel)

    def _answer(self, operation: dict[str, Any]) -> web.Response:
        types.BatchJob.model_validate(_BatchJob_from_mldev(orjson.loads(orjson.dumps(operation))))
        return web.Response(body=orjson.dumps(operation), content_type="application/json", charset="UTF-8")

    async def create(self, request: web.Request, body: Any, model: str) -> web.Response:
        from tests.fakes.gemini_upstream import _error_response, request_violations

        problems: list[str] = []
        batch = body.get("batch") if isinstance(body, dict) and set(body) == {"batch"} else None
        if not isinstance(batch, dict) or set(batch) - _BATCH_FIELDS:
            problems.append("<body>: Invalid JSON payload received. Unknown name in batch.")
        config = batch.get("inputConfig") if isinstance(batch, dict) else None
        inlined = config.get("requests") if isinstance(config, dict) and set(config) == {"requests"} else None
        items = inlined.get("requests") if isinstance(inlined, dict) and set(inlined) == {"requests"} else None
        if not isinstance(items, list) or not items:
            problems.append("batch.inputConfig.requests.requests: at least one inlined request is required")
            items = []
        for index, item in enumerate(items):
            where = f"batch.inputConfig.requests.requests[{index}]"
            if not isinstance(item, dict) or set(item) - {"request", "metadata"}:
                problems.append(f"{where}: Unknown name (an InlinedRequest is request and metadata)")
                continue
            problems += [f"{where}.request.{problem}" for problem in request_violations(item.get("request"), model)]
            if not isinstance((item.get("metadata") or {}).get("key"), str):
                problems.append(f"{where}.metadata.key: the gateway matches answers by it")
        if problems:
            return self.fake._refuse(problems)
        if self.refuse_next:
            self.refuse_next = False
            return _error_response(400, "Request contains an invalid argument.", status="INVALID_ARGUMENT")
        name = f"batches/fake{next(self._ids)}"
        operation = {
            "name": name,
            "metadata": {
                "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
                "model": f"models/{model}",
                "displayName": batch.get("displayName") or name,  # type: ignore[union-attr]  # optional
                "createTime": TIME,
                "updateTime": TIME,
                "state": "BATCH_STATE_PENDING",
                "batchStats": {"requestCount": str(len(items)), "pendingRequestCount": str(len(items))},
                "name": name,
            },
        }
        self.jobs[name] = FakeBatchJob(operation, items)
        return self._answer(operation)

    def _found(self, request: web.Request) -> FakeBatchJob | web.Response:
        from tests.fakes.gemini_upstream import _error_response

        self.fake._record(request, None)
        refused = self.fake._auth(request)
        if refused is not None:
            return refused
        job = self.jobs.get(f"batches/{request.match_info['batch']}")
        if job is None:
            return _error_response(404, "Requested entity was not found.", status="NOT_FOUND")
        return job

    async def get(self, request: web.Request) -> web.Response:
        job = self._found(request)
        if isinstance(job, web.Response):
            return job
        job.fetched += 1
        metadata = job.operation["metadata"]
        if job.cancelling:
            metadata["state"] = "BATCH_STATE_CANCELLED"
            job.operation["done"] = True
        elif metadata["state"] == "BATCH_STATE_PENDING":
            metadata["state"] = "BATCH_STATE_RUNNING"
        elif metadata["state"] == "BATCH_STATE_RUNNING" and not self.hold:
            self._succeed(job)
        return self._answer(job.operation)

    def _succeed(self, job: FakeBatchJob) -> None:
        from tests.fakes.gemini_upstream import response

        metadata = job.operation["metadata"]
        model = metadata["model"].removeprefix("models/")
        answers: list[dict[str, Any]] = []
        for item in job.requests:
            key = item["metadata"]["key"]
            failure = self.failures.get(key)
            if failure is not None:  # a `google.rpc.Status` as the SDK's JobError reads it: code, message, details
                error = {"code": failure[0], "message": failure[1], "details": []}
                answers.append({"error": error, "metadata": {"key": key}})
            else:
                answer = response(f"Answer to {key}", model_version=model)
                answers.append({"response": answer, "metadata": {"key": key}})
        failed = sum(1 for answer in answers if "error" in answer)
        metadata.update(
            state="BATCH_STATE_SUCCEEDED",
            endTime=TIME,
            batchStats={
                "requestCount": str(len(answers)),
                "successfulRequestCount": str(len(answers) - failed),
                "failedRequestCount": str(failed),
            },
            output={"inlinedResponses": {"inlinedResponses": answers}},
        )
        job.operation["done"] = True
        job.operation["response"] = {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput",
            "inlinedResponses": {"inlinedResponses": answers},
        }

    async def cancel(self, request: web.Request) -> web.Response:
        job = self._found(request)
        if isinstance(job, web.Response):
            return job
        job.cancelling = True
        return web.Response(body=b"{}", content_type="application/json", charset="UTF-8")
