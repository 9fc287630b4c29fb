"""Vertex AI batch prediction and the Cloud Storage it reads and writes, in memory, for the fake Vertex.

`FakeCloudStorage` is the JSON API's media upload (`POST /upload/storage/v1/b/{bucket}/o?uploadType=media&name=`),
listing (`GET /storage/v1/b/{bucket}/o?prefix=`) and download (`GET /storage/v1/b/{bucket}/o/{object}?alt=media`)
of one bucket, each call with a bearer token the fake credential sources issued for the cloud-platform scope (else
Cloud Storage's 401).

`BatchPredictionJobs` is `projects/{p}/locations/{l}/batchPredictionJobs`: a made job is checked as Vertex checks one
(the fields of a BatchPredictionJob for a Google or Anthropic model, `jsonl` in and out, an input file that exists in
the bucket) and so is every input line (Google's `{key, request}`, `request` a generateContent body as the fake's
generateContent checks one, with google-genai's types; Claude's `{custom_id, request}`, `request` a rawPredict body
checked with the anthropic SDK's types); what it would refuse is a violation the test fails on. A job is
`JOB_STATE_PENDING` when made, `RUNNING` when first fetched and `SUCCEEDED` when fetched again (unless `hold`), having
written `predictions.jsonl` under its output prefix: each input line with its `response`, or with the `status` of
the failure the test scripted (`failures`). `:cancel` makes it `CANCELLING`, then `CANCELLED`; `refuse_next` fails
the next job as a whole when it is first fetched (as Vertex fails a job whose input it cannot read). Every job is
read back through google-genai's own parser and type (`_BatchJob_from_vertex`, `types.BatchJob`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import orjson
from aiohttp import web
from google.genai import types
from google.genai.batches import _BatchJob_from_vertex

from tests.fakes import gemini_upstream as gemini
from tests.fakes.cloud_tokens import TokenRegistry
from tests.fakes.google_credentials import CLOUD_PLATFORM

if TYPE_CHECKING:
    from tests.fakes.vertex_upstream import FakeVertex

BUCKET = "fake-batch-bucket"
TIME = "2026-11-29T08:00:00.000000Z"
_JOB_FIELDS = {"displayName", "model", "inputConfig", "outputConfig"}


def _vertex() -> ModuleType:
    """The fake Vertex's module (which mounts this one: imported when first used)."""
    from tests.fakes import vertex_upstream

    return vertex_upstream


# The fake Vertex's model sets of each publisher, and the field of a publisher's lines that carries their id.
_MODELS = {"google": "google_models", "anthropic": "claude_models"}
_ID_FIELDS = {"google": "key", "anthropic": "custom_id"}


def _line_violations(publisher: str, request: Any, model: str) -> list[str]:
    """What Vertex refuses in a line's `request`: a generateContent body for Google's models; for Claude, a
    rawPredict body (`anthropic_version`, no `model`, never streamed) checked with the anthropic SDK's types."""
    vertex = _vertex()
    if publisher == "google":
        return vertex.vertex_gemini_violations(request, model)  # type: ignore[no-any-return]
    if not isinstance(request, dict):
        return ["<request>: not a JSON object"]
    problems = []
    if request.get("anthropic_version") not in vertex.ANTHROPIC_VERSIONS:
        problems.append(f"anthropic_version: unknown version {request.get('anthropic_version')!r}")
    if "model" in request:
        problems.append("model: Extra inputs are not permitted (the job names the model)")
    if "stream" in request:
        problems.append("stream: a batch line is never streamed")
    messages = {key: value for key, value in request.items() if key != "anthropic_version"}
    return problems + vertex.anthropic.request_violations({**messages, "model": model})  # type: ignore[no-any-return]


def _storage_error(code: int, message: str) -> web.Response:
    body = {"error": {"code": code, "message": message, "errors": [{"message": message, "reason": "required"}]}}
    return web.Response(status=code, body=orjson.dumps(body), content_type="application/json", charset="UTF-8")


@dataclass
class FakeCloudStorage:
    registry: TokenRegistry
    objects: dict[str, bytes] = field(default_factory=dict)  # object name → contents, in BUCKET
    calls: list[str] = field(default_factory=list)  # "METHOD path?query" of each call, in order

    def reset(self) -> None:
        self.objects.clear()
        self.calls.clear()

    def mount(self, app: web.Application) -> None:
        app.router.add_post("/upload/storage/v1/b/{bucket}/o", self.upload)
        app.router.add_get("/storage/v1/b/{bucket}/o", self.listing)
        app.router.add_get(r"/storage/v1/b/{bucket}/o/{object:.+}", self.download)

    def _refused(self, request: web.Request) -> web.Response | None:
        self.calls.append(f"{request.method} {request.path_qs}")
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or self.registry.check(header[7:], CLOUD_PLATFORM) is not None:
            return _storage_error(401, "Invalid Credentials")
        if request.match_info["bucket"] != BUCKET:
            return _storage_error(404, "The specified bucket does not exist.")
        return None

    async def upload(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        name = request.query.get("name")
        if request.query.get("uploadType") != "media" or not name:
            return _storage_error(400, "Upload requests must include an uploadType and a name.")
        data = await request.read()
        self.objects[name] = data
        return web.json_response({"kind": "storage#object", "bucket": BUCKET, "name": name, "size": str(len(data))})

    async def listing(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        prefix = request.query.get("prefix", "")
        names = sorted(name for name in self.objects if name.startswith(prefix))
        # One object a page, so that a reader that does not follow `nextPageToken` misses files.
        start = int(request.query.get("pageToken") or 0)
        page: dict[str, Any] = {"kind": "storage#objects"}
        if names[start : start + 1]:
            page["items"] = [{"kind": "storage#object", "name": names[start], "bucket": BUCKET}]
        if start + 1 < len(names):
            page["nextPageToken"] = str(start + 1)
        return web.json_response(page)

    async def download(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        name = unquote(request.match_info["object"])
        if request.query.get("alt") != "media":
            return _storage_error(400, "the fake serves contents only (alt=media)")
        data = self.objects.get(name)
        if data is None:
            return _storage_error(404, f"No such object: {BUCKET}/{name}")
        return web.Response(body=data, content_type="application/octet-stream")


@dataclass
class FakeJob:
    job: dict[str, Any]
    lines: list[dict[str, Any]]
    fetched: int = 0
    refused: bool = False


@dataclass
class BatchPredictionJobs:
    fake: FakeVertex
    storage: FakeCloudStorage
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    failures: dict[str, tuple[int, str, str]] = field(default_factory=dict)  # key → (code, status, message)
    hold: bool = False
    refuse_next: bool = False
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    def reset(self) -> None:
        self.jobs.clear()
        self.failures.clear()
        self.hold = False
        self.refuse_next = False

    def mount(self, app: web.Application, scoped: str) -> None:
        app.router.add_post(scoped + "/batchPredictionJobs", self.create)
        app.router.add_get(scoped + r"/batchPredictionJobs/{job:[0-9]+}", self.get)
        app.router.add_post(scoped + r"/batchPredictionJobs/{job:[0-9]+}:cancel", self.cancel)

    @staticmethod
    def _answer(job: dict[str, Any]) -> web.Response:
        types.BatchJob.model_validate(_BatchJob_from_vertex(orjson.loads(orjson.dumps(job))))
        return web.Response(body=orjson.dumps(job), content_type="application/json", charset="UTF-8")

    def _object_of(self, uri: Any) -> str | None:
        head = f"gs://{BUCKET}/"
        return uri[len(head) :] if isinstance(uri, str) and uri.startswith(head) else None

    async def create(self, request: web.Request) -> web.Response:
        body = await self.fake._read(request)
        refused = self.fake._bearer(request)
        if refused is not None:
            return refused
        if not isinstance(body, dict) or set(body) - _JOB_FIELDS or _JOB_FIELDS - set(body):
            return self.fake._refuse([f"BatchPredictionJob: expected exactly {sorted(_JOB_FIELDS)}"])
        problems: list[str] = []
        named = str(body["model"]).split("/")
        if len(named) != 4 or named[0] != "publishers" or named[2] != "models" or named[1] not in _MODELS:
            return self.fake._refuse([f"model: {body['model']!r} is not a Google or Anthropic publisher model"])
        publisher, model = named[1], named[3]
        known = getattr(self.fake, _MODELS[publisher])
        if model not in known:
            missing = self.fake._not_found(request, publisher, model, known)
            assert missing is not None
            return missing
        source = body["inputConfig"]
        uris = (source.get("gcsSource") or {}).get("uris") if isinstance(source, dict) else None
        if (
            not isinstance(source, dict)
            or source.get("instancesFormat") != "jsonl"
            or set(source)
            != {
                "instancesFormat",
                "gcsSource",
            }
        ):
            problems.append("inputConfig: instancesFormat jsonl with a gcsSource")
        names = [self._object_of(uri) for uri in uris] if isinstance(uris, list) and uris else [None]
        destination = body["outputConfig"]
        prefix = (
            (destination.get("gcsDestination") or {}).get("outputUriPrefix") if isinstance(destination, dict) else None
        )
        if not isinstance(destination, dict) or destination.get("predictionsFormat") != "jsonl":
            problems.append("outputConfig: predictionsFormat jsonl with a gcsDestination")
        if self._object_of(prefix) is None:
            problems.append(f"outputConfig.gcsDestination.outputUriPrefix: {prefix!r} is not in gs://{BUCKET}")
        lines: list[dict[str, Any]] = []
        for name in names:
            data = self.storage.objects.get(name) if name is not None else None
            if data is None:
                problems.append(f"inputConfig.gcsSource.uris: {name!r} does not exist in gs://{BUCKET}")
                continue
            for number, raw in enumerate(data.splitlines(), 1):
                line = orjson.loads(raw)
                where = f"{name} line {number}"
                field_name = _ID_FIELDS[publisher]
                if (
                    not isinstance(line, dict)
                    or set(line) != {field_name, "request"}
                    or not isinstance(line[field_name], str)
                ):
                    problems.append(f"{where}: expected {{{field_name}, request}} with a string {field_name}")
                    continue
                problems += [f"{where}.request.{p}" for p in _line_violations(publisher, line["request"], model)]
                lines.append(line)
        if not lines:
            problems.append("the input has no line")
        if problems:
            return self.fake._refuse(problems)
        number = str(next(self._ids))
        job = {
            "name": f"projects/{request.match_info['project']}/locations/{request.match_info['location']}"
            f"/batchPredictionJobs/{number}",
            "displayName": body["displayName"],
            "model": f"projects/{request.match_info['project']}/locations/{request.match_info['location']}"
            f"/publishers/{publisher}/models/{model}",
            "inputConfig": body["inputConfig"],
            "outputConfig": body["outputConfig"],
            "state": "JOB_STATE_PENDING",
            "createTime": TIME,
            "updateTime": TIME,
        }
        self.jobs[number] = FakeJob(job, lines, refused=self.refuse_next)
        self.refuse_next = False
        return self._answer(job)

    def _found(self, request: web.Request) -> FakeJob | web.Response:
        refused = self.fake._bearer(request)
        if refused is not None:
            return refused
        found = self.jobs.get(request.match_info["job"])
        if found is None:
            return _vertex()._google_error(404, "The BatchPredictionJob does not exist.", "NOT_FOUND")
        return found

    async def get(self, request: web.Request) -> web.Response:
        await self.fake._read(request)
        found = self._found(request)
        if isinstance(found, web.Response):
            return found
        found.fetched += 1
        job = found.job
        if job["state"] == "JOB_STATE_CANCELLING":
            job.update(state="JOB_STATE_CANCELLED", endTime=TIME)
        elif job["state"] == "JOB_STATE_PENDING":
            job["state"] = "JOB_STATE_RUNNING"
        elif job["state"] == "JOB_STATE_RUNNING" and found.refused:
            job.update(state="JOB_STATE_FAILED", endTime=TIME)
            job["error"] = {"code": 3, "message": "Failed to import data. Not found: the input file is unreadable."}
        elif job["state"] == "JOB_STATE_RUNNING" and not self.hold:
            self._succeed(found)
        return self._answer(job)

    def _succeed(self, found: FakeJob) -> None:
        job = found.job
        model = job["model"].rsplit("/", 1)[-1]
        directory = job["outputConfig"]["gcsDestination"]["outputUriPrefix"].rstrip("/") + (
            f"/prediction-model-{job['name'].rsplit('/', 1)[-1]}"
        )
        publisher = job["model"].split("/publishers/")[1].split("/")[0]
        written: list[bytes] = []
        failed = 0
        for line in found.lines:
            custom_id = line[_ID_FIELDS[publisher]]
            failure = self.failures.get(custom_id)
            out: dict[str, Any] = {**line, "processed_time": TIME}
            if failure is not None:  # the reason, and the upstream's error body as the publisher writes one
                code, status, message = failure
                error = (
                    _vertex().anthropic.error_body("invalid_request_error", message)
                    if publisher == "anthropic"
                    else gemini.error_body(code, status, message)
                )
                out["status"] = f"Bad Request: {orjson.dumps(error).decode()}"
                failed += 1
            elif publisher == "anthropic":
                out["status"] = ""
                out["response"] = _vertex().anthropic.message(f"Answer to {custom_id}", model=model)
            else:
                answer = gemini.response(f"Answer to {custom_id}", model_version=model)
                out["status"] = ""
                out["response"] = _vertex().vertex_extras(answer)
            written.append(orjson.dumps(out))
        name = self._object_of(directory)
        assert name is not None
        self.storage.objects[f"{name}/predictions.jsonl"] = b"\n".join(written) + b"\n"
        # What a job exports while it runs: never read as its results (the same lines, once more).
        self.storage.objects[f"{name}/incremental_predictions/predictions.jsonl"] = written[0] + b"\n"
        job.update(
            state="JOB_STATE_SUCCEEDED",
            endTime=TIME,
            completionStats={"successfulCount": str(len(written) - failed), "failedCount": str(failed)},
            outputInfo={"gcsOutputDirectory": directory},
        )

    async def cancel(self, request: web.Request) -> web.Response:
        await self.fake._read(request)
        found = self._found(request)
        if isinstance(found, web.Response):
            return found
        if found.job["state"] in ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"):
            return _vertex()._google_error(400, "The job is already in a final state.", "FAILED_PRECONDITION")
        found.job["state"] = "JOB_STATE_CANCELLING"
        return web.json_response({})
