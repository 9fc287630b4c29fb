"""A fake Google Vertex AI on 127.0.0.1: Gemini (`publishers/google`: generateContent, streamGenerateContent
with `alt=sse`, `:predict` for embeddings and Imagen), Claude (`publishers/anthropic`: rawPredict,
streamRawPredict, count-tokens) and the OpenAI-compatible endpoint (`endpoints/openapi/chat/completions`),
under `/v1/projects/{project}/locations/{location}/`, and express mode (`/v1/publishers/google/models/…`
with an API key).

It checks what it receives as Vertex does. The bearer token must be one the fake credential sources issued
(tests/fakes/cloud_tokens.py), for the cloud-platform scope, not expired, not revoked; else Google's 401
UNAUTHENTICATED. An express-mode key must be known; else 400 API_KEY_INVALID. The project and location
must be the fake's (else 403 PERMISSION_DENIED), the model one the project may use (else Vertex's 404
"Publisher Model … was not found or your project does not have access to it"). Bodies are validated with
the SDKs' own types: Gemini's by the google-genai types (tests/fakes/gemini_upstream.py's checks, plus what
Vertex refuses that the Gemini API takes: the `_*_to_vertex` converters' errors, contents without a role),
Claude's by the anthropic SDK's types (tests/fakes/anthropic_upstream.py) after Vertex's own rules (an
`anthropic_version` of `vertex-2023-10-16`, no `model`: the URL names it, `stream` as the method says),
OpenAI's by the OpenAI spec. What is refused is recorded in `violations`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import Any

import orjson
from aiohttp import web

from tests.fakes import anthropic_upstream as anthropic
from tests.fakes import gemini_upstream as gemini
from tests.fakes import images
from tests.fakes.cloud_tokens import TokenRegistry
from tests.fakes.google_credentials import CLOUD_PLATFORM
from tests.fakes.openai_spec import spec_violations
from tests.fakes.openai_upstream import completion, text_stream
from tests.fakes.scripted import Received, Reply, ScriptedStreams
from tests.fakes.vertex_batches import BatchPredictionJobs, FakeCloudStorage

PROJECT = "fake-project"
LOCATION = "us-east5"
ANTHROPIC_VERSION = "vertex-2023-10-16"  # Google's documented value, what the gateway sends
# ... and the API's dated versions, which the anthropic SDK's AnthropicVertex sends since 2.x.
ANTHROPIC_VERSIONS = frozenset({ANTHROPIC_VERSION, *anthropic.ANTHROPIC_VERSIONS})
GOOGLE_MODELS = (
    "gemini-2.5-flash",
    "gemini-2.5-pro",
    "gemini-3-pro-preview",
    "text-embedding-005",
    "gemini-embedding-001",
    "imagen-4.0-generate-001",
)
CLAUDE_MODELS = ("claude-sonnet-4-5@20250929", "claude-haiku-4-5@20251001", "claude-opus-4-1@20250805")
OPEN_MODELS = ("meta/llama-3.3-70b-instruct-maas", "qwen/qwen3-coder-480b-a35b-instruct-maas")
EMBEDDING_SIZES = {"text-embedding-005": 768, "gemini-embedding-001": 3072}
# "text-embedding-005 … up to 250 input texts per request"; gemini-embedding-001 takes one.
EMBEDDING_BATCH = {"text-embedding-005": 250, "gemini-embedding-001": 1}
UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
# Fields the Gemini API takes and Vertex refuses (google-genai `_*_to_vertex`: "… parameter is only
# supported in Gemini Developer API mode, not in Gemini Enterprise Agent Platform mode").
_GEMINI_API_ONLY = frozenset(
    {
        "toolCall",
        "tool_call",
        "toolResponse",
        "tool_response",
        "partMetadata",
        "part_metadata",
        "willContinue",
        "will_continue",
        "fileSearch",
        "file_search",
        "store",
        "enableEnhancedCivicAnswers",
        "enable_enhanced_civic_answers",
    }
)


def _google_error(code: int, message: str, status: str, **extra: Any) -> web.Response:
    payload = gemini.error_body(code, status, message, **extra)
    return web.Response(status=code, body=orjson.dumps(payload), content_type="application/json", charset="UTF-8")


def _found_keys(value: Any, names: frozenset[str], path: str = "") -> list[str]:
    out: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if key in names:
                out.append(where)
            out += _found_keys(item, names, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _found_keys(item, names, f"{path}[{index}]")
    return out


def vertex_gemini_violations(body: Any, model: str) -> list[str]:
    """What Vertex refuses in a generateContent body: the Gemini API's checks, minus nothing, plus Vertex's."""
    problems = gemini.request_violations(body, model)
    if problems or not isinstance(body, dict):
        return problems
    problems += [
        f"{where}: parameter is only supported in Gemini Developer API mode, not on Vertex AI"
        for where in _found_keys(body, _GEMINI_API_ONLY)
    ]
    for index, content in enumerate(body.get("contents") or ()):
        if isinstance(content, dict) and content.get("role") not in ("user", "model"):
            problems.append(f"contents[{index}].role: Please use a valid role: user, model.")
    return problems


def vertex_extras(payload: dict[str, Any]) -> dict[str, Any]:
    """A GenerateContentResponse as Vertex sends it: with its `createTime` and `responseId`, and the traffic
    type in the usage (fields the Gemini API does not send)."""
    out = {**payload, "createTime": "2026-11-23T10:00:00.123456Z", "responseId": "vtxFakeResponse01"}
    if isinstance(payload.get("usageMetadata"), dict):
        out["usageMetadata"] = {**payload["usageMetadata"], "trafficType": "ON_DEMAND"}
    return out


class FakeVertex(ScriptedStreams):
    def __init__(self, registry: TokenRegistry) -> None:
        self.registry = registry
        self.replies: deque[Reply] = deque()
        self.received: list[Received] = []
        self.violations: list[str] = []
        self.api_keys: frozenset[str] = frozenset()  # express mode's keys
        self.google_models: set[str] = set(GOOGLE_MODELS)
        self.claude_models: set[str] = set(CLAUDE_MODELS)
        self.open_models: set[str] = set(OPEN_MODELS)
        # Cloud Storage (its JSON API's own paths, on this server: `options.storage_url`) and batch prediction.
        self.storage = FakeCloudStorage(registry)
        self.batch_jobs = BatchPredictionJobs(self, self.storage)
        self.port = 0

    @property
    def spec_violations(self) -> list[str]:
        return self.violations

    def reset(self) -> None:
        self.replies.clear()
        self.responder = None
        self.received.clear()
        self.violations.clear()
        self.stream_closed_at = None
        self.api_keys = frozenset()
        self.google_models = set(GOOGLE_MODELS)
        self.claude_models = set(CLAUDE_MODELS)
        self.open_models = set(OPEN_MODELS)
        self.storage.reset()
        self.batch_jobs.reset()

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        # v1 (the gateway's), and v1beta1, google-genai's default for Vertex.
        scoped = r"/{version:v1|v1beta1}/projects/{project}/locations/{location}"
        app.router.add_post(scoped + r"/publishers/{publisher}/models/{model:[^/:]+}:{method}", self._publisher)
        app.router.add_post(scoped + "/endpoints/openapi/chat/completions", self._openapi)
        self.batch_jobs.mount(app, scoped)
        self.storage.mount(app)
        app.router.add_post(
            r"/{version:v1|v1beta1}/publishers/{publisher}/models/{model:[^/:]+}:{method}", self._express
        )
        # The Discovery Engine's Ranking API (another host in Google's cloud; the same fake here).
        app.router.add_post(
            "/v1/projects/{project}/locations/{location}/rankingConfigs/default_ranking_config:rank", self._rank
        )
        await self.serve(app)

    async def _rank(self, request: web.Request) -> web.Response:
        """RankRequest (`model`, `query`, `records` of `{id, content}`, `topN`): each record's score the share of the
        query's words it holds, best first, as RankResponse's `records`."""
        body = await self._read(request)
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or self.registry.check(header[7:], CLOUD_PLATFORM) is not None:
            return _google_error(401, UNAUTHENTICATED, "UNAUTHENTICATED")
        if (request.match_info["project"], request.match_info["location"]) != (PROJECT, "global"):
            return self._refuse(["the ranking config is the project's, in location global"], 403)
        known = {"model", "query", "records", "topN", "ignoreRecordDetailsInResponse", "userLabels"}
        problems = [f'Invalid JSON payload received. Unknown name "{key}"' for key in body if key not in known]
        records = body.get("records")
        if not isinstance(records, list) or not all(
            isinstance(r, dict) and isinstance(r.get("id"), str) and isinstance(r.get("content"), str) for r in records
        ):
            problems.append("records: each needs an id and content")
        if problems:
            return self._refuse(problems)
        words = set(str(body.get("query", "")).split())
        scored = [(r["id"], len(words & set(r["content"].split())) / max(1, len(words))) for r in records]
        scored.sort(key=lambda pair: -pair[1])
        kept = scored[: body.get("topN") or len(scored)]
        return web.json_response({"records": [{"id": key, "score": score} for key, score in kept]})

    # What every handler does first.

    async def _read(self, request: web.Request) -> Any:
        raw = await request.read()
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        self.received.append(Received(request.method, request.path_qs, dict(request.headers), body))
        return body

    def _refuse(self, problems: list[str], code: int = 400, **error: Any) -> web.Response:
        """Also what tests/fakes/images.py calls for Imagen's refusals."""
        self.violations += problems
        status = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND"}.get(code, "INVALID_ARGUMENT")
        return _google_error(code, "\n".join(problems), status, **error)

    def _bearer(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if request.headers.get("x-goog-api-key") or request.query.get("key"):
            # A project-scoped call with an API key: Vertex wants OAuth there.
            return _google_error(401, UNAUTHENTICATED, "UNAUTHENTICATED")
        if not header.startswith("Bearer "):
            return _google_error(401, UNAUTHENTICATED, "UNAUTHENTICATED")
        if self.registry.check(header[7:], CLOUD_PLATFORM) is not None:
            return _google_error(401, UNAUTHENTICATED, "UNAUTHENTICATED")
        project, location = request.match_info["project"], request.match_info["location"]
        if (project, location) != (PROJECT, LOCATION):
            return _google_error(
                403,
                f"Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/"
                f"projects/{project}/locations/{location}' (or it may not exist).",
                "PERMISSION_DENIED",
            )
        return None

    def _not_found(self, request: web.Request, publisher: str, model: str, known: Iterable[str]) -> web.Response | None:
        if model in known:
            return None
        where = f"projects/{PROJECT}/locations/{LOCATION}/publishers/{publisher}/models/{model}"
        return _google_error(
            404,
            f"Publisher Model `{where}` was not found or your project does not have access to it. Please ensure "
            "you are using a valid model version. For more information, see: "
            "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions",
            "NOT_FOUND",
        )

    # Routes.

    async def _express(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request)
        key = request.headers.get("x-goog-api-key") or request.query.get("key") or ""
        if request.match_info["publisher"] != "google":
            return _google_error(404, "Express mode serves Google's models only.", "NOT_FOUND")
        if key not in self.api_keys:
            return _google_error(
                400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT", reason="API_KEY_INVALID"
            )
        return await self._google(request, body)

    async def _publisher(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request)
        refused = self._bearer(request)
        if refused is not None:
            return refused
        publisher = request.match_info["publisher"]
        if publisher == "anthropic":
            return await self._claude(request, body)
        if publisher == "google":
            return await self._google(request, body)
        return _google_error(404, f"Publisher {publisher} not found.", "NOT_FOUND")

    async def _google(self, request: web.Request, body: Any) -> web.StreamResponse:
        model, method = request.match_info["model"], request.match_info["method"]
        missing = self._not_found(request, "google", model, self.google_models)
        if missing is not None:
            return missing
        if method == "predict":
            if model.startswith("imagen-"):
                return await images.gemini_predict(self, request, body, model)  # type: ignore[arg-type]
            return self._embed(body, model)
        if method == "countTokens":
            return self._count_google_tokens(body, model)
        if method not in ("generateContent", "streamGenerateContent"):
            return self._refuse([f"{request.path}: no method {method!r}"], 404)
        streaming = method == "streamGenerateContent"
        problems = gemini.query_violations(request.query, streaming=streaming)
        problems += vertex_gemini_violations(body, model) if body is not None else ["<body>: not JSON"]
        if problems:
            return self._refuse(problems)
        reply = self.next_reply(body, request.path)
        if reply is None:
            events: list[dict[str, Any] | bytes] = [
                vertex_extras(event) for event in gemini.text_chunks(["Hel", "lo", "!"], model_version=model)
            ]
            answer = vertex_extras(gemini.response("Hello!", model_version=model))
            reply = Reply(stream=events) if streaming else Reply(json=answer)
        return await self._send(request, reply, frame=gemini.sse_frame)

    def _count_google_tokens(self, body: Any, model: str) -> web.Response:
        """Vertex's CountTokensRequest (aiplatform v1): the generateContent fields at the top level
        (`contents`, `systemInstruction`, `tools`, `generationConfig`; no `generateContentRequest`, the
        Gemini API's wrapper), checked as a generateContent body is. The count is the words of the texts,
        so a test can predict it; the answer has Vertex's `totalBillableCharacters` too."""
        allowed = {"contents", "systemInstruction", "tools", "generationConfig", "model", "instances"}
        if not isinstance(body, dict) or set(body) - allowed:
            unknown = sorted(set(body) - allowed) if isinstance(body, dict) else "<body>"
            return self._refuse([f"Invalid JSON payload received. Unknown name {unknown} in CountTokensRequest."])
        problems = vertex_gemini_violations({key: value for key, value in body.items() if key != "model"}, model)
        if problems:
            return self._refuse(problems)
        system = body.get("systemInstruction")
        contents = [*body["contents"], *([system] if isinstance(system, dict) else [])]
        texts = [str(part.get("text", "")) for content in contents for part in content.get("parts", ())]
        words = sum(len(text.split()) for text in texts)
        return web.json_response({"totalTokens": words, "totalBillableCharacters": sum(map(len, texts))})

    def _embed(self, body: Any, model: str) -> web.Response:
        size = EMBEDDING_SIZES.get(model)
        if size is None:
            return self._refuse([f"{model} does not embed"], 400)
        problems: list[str] = []
        instances = body.get("instances") if isinstance(body, dict) else None
        if not isinstance(instances, list) or not instances:
            problems.append("instances: required, a non-empty list")
            instances = []
        if len(instances) > EMBEDDING_BATCH[model]:
            problems.append(f"instances: at most {EMBEDDING_BATCH[model]} instances per request for {model}")
        for index, instance in enumerate(instances):
            if not isinstance(instance, dict) or not isinstance(instance.get("content"), str):
                problems.append(f"instances[{index}].content: a string is required")
            elif set(instance) - {"content", "task_type", "title"}:
                problems.append(
                    f"instances[{index}]: unknown fields {sorted(set(instance) - {'content', 'task_type'})}"
                )
            elif "task_type" in instance and instance["task_type"] not in gemini.TASK_TYPES:
                problems.append(f"instances[{index}].task_type: unknown {instance['task_type']!r}")
        parameters = body.get("parameters", {}) if isinstance(body, dict) else {}
        if set(parameters) - {"outputDimensionality", "autoTruncate"}:
            problems.append(f"parameters: unknown fields {sorted(parameters)}")
        if problems:
            return self._refuse(problems)
        if self.replies:
            reply = self.replies.popleft()
            return web.Response(status=reply.status, body=orjson.dumps(reply.json), content_type="application/json")
        dimensions = parameters.get("outputDimensionality") or size
        predictions = [
            {
                "embeddings": {
                    "values": gemini.fake_vector(model, instance["content"], dimensions),
                    "statistics": {"token_count": max(1, len(instance["content"]) // 4), "truncated": False},
                }
            }
            for instance in instances
        ]
        return web.json_response({"predictions": predictions, "metadata": {"billableCharacterCount": 10}})

    async def _claude(self, request: web.Request, body: Any) -> web.StreamResponse:
        model, method = request.match_info["model"], request.match_info["method"]
        if model == "count-tokens" and method == "rawPredict":
            return self._count_tokens(body)
        missing = self._not_found(request, "anthropic", model, self.claude_models)
        if missing is not None:
            return missing
        if method not in ("rawPredict", "streamRawPredict"):
            return self._refuse([f"{request.path}: no method {method!r}"], 404)
        if not isinstance(body, dict):
            return self._refuse(["<body>: not a JSON object"])
        problems = []
        if body.get("anthropic_version") not in ANTHROPIC_VERSIONS:
            problems.append(f"anthropic_version: unknown version {body.get('anthropic_version')!r}")
        if "model" in body:
            problems.append("model: Extra inputs are not permitted (the URL names the model)")
        if (body.get("stream") is True) != (method == "streamRawPredict"):
            problems.append(f"stream: {body.get('stream')!r} on {method}")
        messages = {key: value for key, value in body.items() if key != "anthropic_version"}
        problems += anthropic.request_violations(
            {**messages, "model": model}, beta=bool(request.headers.get("anthropic-beta"))
        )
        if problems:
            return self._anthropic_refusal(problems)
        reply = self.next_reply(body, request.path)
        if reply is None:
            if body.get("stream"):
                reply = Reply(stream=list(anthropic.text_events(["Hel", "lo", "!"], model=model)))
            else:
                reply = Reply(json=anthropic.message("Hello!", model=model))
        return await self._send(request, reply, frame=anthropic.sse_frame)

    def _anthropic_refusal(self, problems: list[str]) -> web.Response:
        self.violations += problems
        return web.json_response(anthropic.error_body("invalid_request_error", "; ".join(problems)), status=400)

    def _count_tokens(self, body: Any) -> web.Response:
        if not isinstance(body, dict):
            return self._anthropic_refusal(["<body>: not a JSON object"])
        problems = [] if body.get("anthropic_version") in ANTHROPIC_VERSIONS else ["anthropic_version: missing"]
        if body.get("model") not in self.claude_models:
            problems.append(f"model: {body.get('model')!r} is not a Claude model of this project")
        counted = {key: value for key, value in body.items() if key != "anthropic_version"}
        problems += anthropic.count_tokens_violations(counted)
        if problems:
            return self._anthropic_refusal(problems)
        return web.json_response({"input_tokens": anthropic.count_tokens_estimate(counted)})

    async def _openapi(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request)
        refused = self._bearer(request)
        if refused is not None:
            return refused
        model = body.get("model") if isinstance(body, dict) else None
        if model not in self.open_models:
            return _google_error(
                404, f"Publisher Model `{model}` was not found or your project does not have access to it.", "NOT_FOUND"
            )
        problems = spec_violations(body)
        if problems:
            return self._refuse(problems)
        reply = self.next_reply(body, request.path)
        if reply is None:
            if body.get("stream"):
                include = bool((body.get("stream_options") or {}).get("include_usage"))
                reply = Reply(stream=text_stream(["Hel", "lo", "!"], include_usage=include))  # type: ignore[arg-type]
            else:
                reply = Reply(json=completion("Hello!", model=model))
        return await self._send(
            request, reply, frame=lambda event: b"data: " + orjson.dumps(event) + b"\n\n", done=b"data: [DONE]\n\n"
        )

    async def _send(
        self, request: web.Request, reply: Reply, *, frame: Any, done: bytes | None = None
    ) -> web.StreamResponse:
        if reply.first_byte_delay:
            await asyncio.sleep(reply.first_byte_delay)
        if reply.stream is None:
            data = reply.body if reply.body is not None else orjson.dumps(reply.json)
            return web.Response(
                status=reply.status,
                body=data,
                headers=reply.headers,
                content_type="application/json" if reply.body is None else None,
            )
        return await self.write_stream(
            request, reply, frame=frame, headers={"Content-Type": "text/event-stream"}, done_frame=done
        )
