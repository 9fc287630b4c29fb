"""Anthropic's Message Batches in memory, for the fake Anthropic upstream.

`POST /v1/messages/batches` checks the body against the SDK's `BatchCreateParams` (each `custom_id` 1 to 64 of
`[A-Za-z0-9_-]`, once) and each request's `params` as the fake's `/v1/messages` checks a body (`request_violations`,
never streamed); what it would refuse is a violation the test fails on. A batch is `in_progress` when made and
when first fetched, `ended` when fetched again (unless `hold`); its results (`GET …/{id}/results`, JSONL) answer
each line, or the error the test scripted for it (`failures`). Cancelling makes it `canceling`, then `ended` with
every line `canceled`. Every batch and result line is built and checked with the SDK's own types (`MessageBatch`,
`MessageBatchIndividualResponse`).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from anthropic.types.messages import BatchCreateParams, MessageBatch, MessageBatchIndividualResponse
from pydantic import TypeAdapter, ValidationError

from tests.fakes.scripted import Received

if TYPE_CHECKING:
    from tests.fakes.anthropic_upstream import FakeAnthropic

CREATED = "2025-01-01T00:00:00Z"
EXPIRES = "2025-01-02T00:00:00Z"
_CREATE = TypeAdapter(BatchCreateParams)
_CUSTOM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass
class FakeMessageBatch:
    batch: dict[str, Any]
    requests: list[dict[str, Any]]
    fetched: int = 0


@dataclass
class MessageBatches:
    fake: FakeAnthropic
    batches: dict[str, FakeMessageBatch] = field(default_factory=dict)
    # custom_id → (error type, message) of the lines that fail.
    failures: dict[str, tuple[str, str]] = field(default_factory=dict)
    hold: bool = False
    refuse_next: bool = False  # the next batch is refused as a whole (a 400, as for a malformed request)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def reset(self) -> None:
        self.batches.clear()
        self.failures.clear()
        self.hold = False
        self.refuse_next = False

    def mount(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages/batches", self.create)
        app.router.add_get("/v1/messages/batches/{batch_id}", self.get)
        app.router.add_get("/v1/messages/batches/{batch_id}/results", self.results)
        app.router.add_post("/v1/messages/batches/{batch_id}/cancel", self.cancel)

    def _answer(self, batch: dict[str, Any]) -> web.Response:
        checked = MessageBatch.model_validate(batch).model_dump(mode="json")
        return web.Response(body=orjson.dumps(checked), content_type="application/json")

    def _checked_headers(self, request: web.Request, *, has_body: bool) -> web.Response | None:
        from tests.fakes.anthropic_upstream import header_violations

        problems = header_violations(request.headers, has_body=has_body)
        return self.fake._refuse(problems, request.headers) if problems else None

    async def create(self, request: web.Request) -> web.Response:
        from tests.fakes.anthropic_upstream import request_violations

        body = await request.json()
        self.fake.received.append(Received(request.method, request.path, dict(request.headers), body))
        refused = self._checked_headers(request, has_body=True)
        if refused is not None:
            return refused
        try:
            _CREATE.validate_python(body)
        except ValidationError as error:
            return self.fake._refuse([f"batches: {error}"], request.headers)
        problems: list[str] = []
        seen: set[str] = set()
        beta = bool(request.headers.get("anthropic-beta"))
        for index, item in enumerate(body["requests"]):
            custom_id, params = item["custom_id"], item["params"]
            if not _CUSTOM_ID.fullmatch(custom_id) or custom_id in seen:
                problems.append(f"requests.{index}.custom_id: {custom_id!r} is not a unique [A-Za-z0-9_-]{{1,64}}")
            seen.add(custom_id)
            if params.get("stream"):
                problems.append(f"requests.{index}.params.stream: batches are never streamed")
            problems += [f"requests.{index}.params.{problem}" for problem in request_violations(params, beta=beta)]
        if problems:
            return self.fake._refuse(problems, request.headers)
        if self.refuse_next:
            self.refuse_next = False
            return self.fake._error(400, "invalid_request_error", "requests.0.params: the request is malformed")
        batch_id = f"msgbatch_fake{next(self._ids)}"
        batch = {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "in_progress",
            "request_counts": {
                "processing": len(body["requests"]),
                "succeeded": 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            },
            "created_at": CREATED,
            "expires_at": EXPIRES,
            "ended_at": None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": None,
        }
        self.batches[batch_id] = FakeMessageBatch(batch, list(body["requests"]))
        return self._answer(batch)

    def _found(self, request: web.Request) -> FakeMessageBatch | web.Response:
        found = self.batches.get(request.match_info["batch_id"])
        if found is None:
            return self.fake._error(404, "not_found_error", "Batch not found")
        return found

    async def get(self, request: web.Request) -> web.Response:
        self.fake.received.append(Received(request.method, request.path, dict(request.headers), None))
        refused = self._checked_headers(request, has_body=False)
        found = refused or self._found(request)
        if isinstance(found, web.Response):
            return found
        found.fetched += 1
        batch = found.batch
        if batch["processing_status"] == "canceling" or (found.fetched > 1 and not self.hold):
            self._end(found)
        return self._answer(batch)

    def _end(self, found: FakeMessageBatch) -> None:
        batch = found.batch
        if batch["processing_status"] == "ended":
            return
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        for item in found.requests:
            if batch["cancel_initiated_at"]:
                counts["canceled"] += 1
            elif item["custom_id"] in self.failures:
                counts["errored"] += 1
            else:
                counts["succeeded"] += 1
        batch.update(
            processing_status="ended",
            request_counts=counts,
            ended_at=CREATED,
            results_url=f"{self.fake.base_url}/v1/messages/batches/{batch['id']}/results",
        )

    def _result(self, found: FakeMessageBatch, item: dict[str, Any]) -> dict[str, Any]:
        from tests.fakes.anthropic_upstream import error_body, message

        custom_id = item["custom_id"]
        if found.batch["cancel_initiated_at"]:
            result: dict[str, Any] = {"type": "canceled"}
        elif custom_id in self.failures:
            kind, text = self.failures[custom_id]
            result = {"type": "errored", "error": error_body(kind, text)}
        else:
            answer = message(f"Answer to {custom_id}", model=item["params"]["model"], message_id=f"msg_{custom_id}")
            result = {"type": "succeeded", "message": answer}
        line = {"custom_id": custom_id, "result": result}
        return MessageBatchIndividualResponse.model_validate(line).model_dump(mode="json", exclude_none=True)

    async def results(self, request: web.Request) -> web.Response:
        self.fake.received.append(Received(request.method, request.path, dict(request.headers), None))
        refused = self._checked_headers(request, has_body=False)
        found = refused or self._found(request)
        if isinstance(found, web.Response):
            return found
        if found.batch["processing_status"] != "ended":
            return self.fake._error(400, "invalid_request_error", "Batch is still processing; results are not ready")
        data = b"".join(orjson.dumps(self._result(found, item)) + b"\n" for item in found.requests)
        return web.Response(body=data, content_type="application/binary")

    async def cancel(self, request: web.Request) -> web.Response:
        self.fake.received.append(Received(request.method, request.path, dict(request.headers), None))
        refused = self._checked_headers(request, has_body=False)
        found = refused or self._found(request)
        if isinstance(found, web.Response):
            return found
        if found.batch["processing_status"] == "in_progress":
            found.batch.update(processing_status="canceling", cancel_initiated_at=CREATED)
        return self._answer(found.batch)
