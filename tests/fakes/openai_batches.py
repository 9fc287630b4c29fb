"""OpenAI's Files and Batch API in memory, for the fake OpenAI upstream and the fake Azure resource.

`POST /files` takes a multipart upload (purpose `batch`) and answers a `FileObject`; `POST /batches` takes
`BatchCreateParams` and checks the input file as OpenAI's validation does (every line JSON with `custom_id`,
`method: POST`, the batch's `url`, a body naming one model, each `custom_id` once): a file that fails makes the
batch `failed`, with its errors. Each line's body is checked as the fake's `/chat/completions` checks one (the
spec's `CreateChatCompletionRequest`, fields OpenAI refuses); what it would refuse is a violation the test fails
on. A batch is `validating` when made, `in_progress` when first fetched and `completed` when fetched again (unless
`hold` keeps it running): then its output file holds an answer per line and its error file the lines the test
said fail (`failures`). Cancelling makes it `cancelling`, then `cancelled` with nothing run. Every object it answers
is built and checked with the openai SDK's own types (`FileObject`, `Batch`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from openai.types import Batch, BatchCreateParams, FileObject
from pydantic import TypeAdapter, ValidationError

from tests.fakes.openai_spec import spec_violations
from tests.fakes.scripted import Received

if TYPE_CHECKING:
    from tests.fakes.openai_upstream import FakeOpenAI

CREATED = 1_700_000_000
_BATCH_CREATE = TypeAdapter(BatchCreateParams)


def _error(status: int, message: str, *, code: str | None = None) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
    return web.json_response(body, status=status)


@dataclass
class FakeBatch:
    batch: dict[str, Any]
    lines: list[dict[str, Any]]
    fetched: int = 0


@dataclass
class BatchApi:
    """The fake's files and batches; `line_url` is what each line's `url` and the batch's `endpoint` must be."""

    fake: FakeOpenAI
    line_url: str = "/v1/chat/completions"
    files: dict[str, bytes] = field(default_factory=dict)
    batches: dict[str, FakeBatch] = field(default_factory=dict)
    # custom_id → (status, error body) of the lines that fail (in the error file).
    failures: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    hold: bool = False  # batches stay in_progress
    refuse_next: bool = False  # the next batch's input file fails validation (its first line, as not JSON)
    refuse_create: int | None = None  # the next `POST /batches` answers this status (a rate limit, an outage)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def reset(self) -> None:
        self.files.clear()
        self.batches.clear()
        self.failures.clear()
        self.hold = False
        self.refuse_next = False
        self.refuse_create = None

    def mount(self, app: web.Application, root: str, wrap: Callable[[Any], Any] = lambda handler: handler) -> None:
        app.router.add_post(f"{root}/files", wrap(self.upload))
        app.router.add_get(f"{root}/files/{{file_id}}/content", wrap(self.content))
        app.router.add_delete(f"{root}/files/{{file_id}}", wrap(self.delete))
        app.router.add_post(f"{root}/batches", wrap(self.create))
        app.router.add_get(f"{root}/batches/{{batch_id}}", wrap(self.get))
        app.router.add_post(f"{root}/batches/{{batch_id}}/cancel", wrap(self.cancel))

    def _file(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        file_id = f"file-fake{next(self._ids)}"
        self.files[file_id] = data
        obj = {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": CREATED,
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
        }
        return FileObject.model_validate(obj).model_dump(exclude_none=True)

    async def upload(self, request: web.Request) -> web.Response:
        fields: dict[str, Any] = {}
        reader = await request.multipart()
        async for part in reader:
            if part.name == "file":
                fields["file"] = (await part.read(), part.filename or "")
            elif part.name is not None:
                fields[part.name] = await part.text()
        self.fake.received.append(Received(request.method, request.path, dict(request.headers), dict(fields)))
        if fields.get("purpose") != "batch" or "file" not in fields:
            self.fake.spec_violations.append(f"files: expected purpose batch and a file, got {sorted(fields)}")
            return _error(400, "'purpose' and 'file' are required")
        data, filename = fields["file"]
        return web.json_response(self._file(data, filename, "batch"))

    async def content(self, request: web.Request) -> web.Response:
        self.fake.received.append(Received(request.method, request.path, dict(request.headers), None))
        data = self.files.get(request.match_info["file_id"])
        if data is None:
            return _error(404, f"No such File object: {request.match_info['file_id']}")
        return web.Response(body=data, content_type="application/octet-stream")

    async def delete(self, request: web.Request) -> web.Response:
        self.fake.received.append(Received(request.method, request.path, dict(request.headers), None))
        file_id = request.match_info["file_id"]
        if self.files.pop(file_id, None) is None:
            return _error(404, f"No such File object: {file_id}")
        return web.json_response({"id": file_id, "object": "file", "deleted": True})

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.fake.received.append(Received(request.method, request.path, dict(request.headers), body))
        if self.refuse_create is not None:
            status, self.refuse_create = self.refuse_create, None
            return _error(status, "The server had an error while processing your request.")
        # Azure names the endpoint without `/v1` (its docs pass `endpoint="/chat/completions"` to the same SDK types).
        checked = {**body, "endpoint": "/v1/chat/completions"} if body.get("endpoint") == self.line_url else body
        try:
            _BATCH_CREATE.validate_python(checked)
        except ValidationError as error:
            self.fake.spec_violations.append(f"batches: {error}")
            return _error(400, str(error))
        unknown = set(body) - set(BatchCreateParams.__annotations__)
        if unknown or body["endpoint"] != self.line_url:
            self.fake.spec_violations.append(f"batches: unknown fields {unknown} or endpoint {body['endpoint']}")
            return _error(400, "invalid batch")
        data = self.files.get(body["input_file_id"])
        if data is None:
            return _error(404, f"No such File object: {body['input_file_id']}")
        batch_id = f"batch_fake{next(self._ids)}"
        lines, problem = self._lines(data)
        if self.refuse_next:
            self.refuse_next = False
            lines, problem = (
                [],
                {"code": "invalid_json_line", "message": "This line is not parseable as valid JSON.", "line": 1},
            )
        batch = {
            "id": batch_id,
            "object": "batch",
            "endpoint": body["endpoint"],
            "input_file_id": body["input_file_id"],
            "completion_window": body["completion_window"],
            "status": "validating",
            "created_at": CREATED,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
        }
        if problem is not None:
            batch["status"] = "failed"
            batch["errors"] = {"object": "list", "data": [problem]}
        else:
            batch["model"] = lines[0]["body"]["model"]
            batch["request_counts"]["total"] = len(lines)
        self.batches[batch_id] = FakeBatch(batch, lines)
        return web.json_response(Batch.model_validate(batch).model_dump(exclude_none=True))

    def _lines(self, data: bytes) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """The input file's lines, or the first problem OpenAI's validation reports (`BatchError`)."""
        lines: list[dict[str, Any]] = []
        seen: set[str] = set()
        for number, raw in enumerate(data.decode().splitlines(), start=1):
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return [], {
                    "code": "invalid_json_line",
                    "message": "This line is not parseable as valid JSON.",
                    "line": number,
                }
            if (
                not isinstance(line, dict)
                or set(line) != {"custom_id", "method", "url", "body"}
                or line["method"] != "POST"
                or line["url"] != self.line_url
                or not isinstance(line["body"], dict)
            ):
                return [], {
                    "code": "invalid_request",
                    "message": f"Line {number} is not a valid request.",
                    "line": number,
                }
            if line["custom_id"] in seen:
                return [], {"code": "duplicate_custom_id", "message": "The custom_id is not unique.", "line": number}
            if lines and line["body"].get("model") != lines[0]["body"].get("model"):
                return [], {
                    "code": "mismatched_model",
                    "message": "All lines must name the same model.",
                    "line": number,
                }
            seen.add(line["custom_id"])
            self.fake.spec_violations += [f"line {number}: {problem}" for problem in spec_violations(line["body"])]
            lines.append(line)
        if not lines:
            return [], {"code": "empty_file", "message": "The input file is empty."}
        return lines, None

    def _missing(self, batch_id: str) -> web.Response:
        return _error(404, f"No batch found with id '{batch_id}'.")

    async def get(self, request: web.Request) -> web.Response:
        self.fake.received.append(Received(request.method, request.path, dict(request.headers), None))
        found = self.batches.get(request.match_info["batch_id"])
        if found is None:
            return self._missing(request.match_info["batch_id"])
        batch = found.batch
        found.fetched += 1
        if batch["status"] == "validating":
            batch["status"] = "in_progress"
        elif batch["status"] == "in_progress" and not self.hold:
            self._complete(found)
        elif batch["status"] == "cancelling":
            batch["status"] = "cancelled"
        return web.json_response(Batch.model_validate(batch).model_dump(exclude_none=True))

    def _complete(self, found: FakeBatch) -> None:
        from tests.fakes.openai_upstream import completion

        output, errors = bytearray(), bytearray()
        for number, line in enumerate(found.lines, start=1):
            custom_id = line["custom_id"]
            failure = self.failures.get(custom_id)
            if failure is not None:
                response = {"status_code": failure[0], "request_id": f"req_{number}", "body": failure[1]}
            else:
                answer = completion(f"Answer to {custom_id}", model=line["body"]["model"])
                response = {"status_code": 200, "request_id": f"req_{number}", "body": answer}
            result = {"id": f"batch_req_{number}", "custom_id": custom_id, "response": response, "error": None}
            (errors if failure is not None else output).extend(orjson.dumps(result) + b"\n")
        batch = found.batch
        batch["status"] = "completed"
        batch["request_counts"] = {"total": len(found.lines), "completed": len(found.lines), "failed": 0}
        if output:
            batch["output_file_id"] = self._file(bytes(output), "batch_output.jsonl", "batch_output")["id"]
        if errors:
            batch["error_file_id"] = self._file(bytes(errors), "batch_errors.jsonl", "batch_output")["id"]
            batch["request_counts"]["failed"] = errors.count(b"\n")

    async def cancel(self, request: web.Request) -> web.Response:
        self.fake.received.append(Received(request.method, request.path, dict(request.headers), None))
        found = self.batches.get(request.match_info["batch_id"])
        if found is None:
            return self._missing(request.match_info["batch_id"])
        if found.batch["status"] not in ("validating", "in_progress"):
            return _error(409, f"Cannot cancel a batch with status '{found.batch['status']}'.")
        found.batch["status"] = "cancelling"
        return web.json_response(Batch.model_validate(found.batch).model_dump(exclude_none=True))
