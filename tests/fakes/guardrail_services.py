"""The services external guardrails ask, on 127.0.0.1, each checking what it receives against its real wire format
and keeping what it received (`received`) and what was wrong with it (`violations`, which the tests' fixtures
require empty):

- `FakeModeration`: OpenAI's `POST /v1/moderations` (the body against the openai SDK's `ModerationCreateParams`,
  the answer built and parsed as its `ModerationCreateResponse`), behind a bearer key;
- `FakeContentSafety`: Azure AI Content Safety's `POST /contentsafety/text:analyze` (api-version 2024-09-01, the
  `Ocp-Apim-Subscription-Key` header, `{"text", "outputType"}`, at most 10,000 characters a text);
- `FakePresidio`: Presidio's analyzer (`POST /analyze`, `{"text", "language"}`, answering RecognizerResults for
  e-mail addresses) and anonymizer (`POST /anonymize`, `{"text", "analyzer_results"}`, replacing each with
  `<ENTITY_TYPE>` as Presidio's default `replace` operator does).

Bedrock's ApplyGuardrail is served by the fake Bedrock (bedrock_upstream.py), SigV4 checked there.

Each answers by its `behaviour`: `allow` (nothing found), `flag` (what holds "forbidden" is found), `slow`
(answers once the gateway hung up), `broken` (a 500).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.scripted import ScriptedStreams

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


async def until_gone(request: web.Request) -> None:
    """Waits until the client hangs up (bounded): a service that never answers in time."""
    async with asyncio.timeout(60):
        # aiohttp signals no hang-up to a handler: its transport says.
        while request.transport is not None and not request.transport.is_closing():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


class _Service(ScriptedStreams):
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self.behaviour = "allow"

    async def _body(self, request: web.Request) -> Any:
        if request.content_type != "application/json":
            self.violations.append(f"{request.path}: content type {request.content_type}")
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            self.violations.append(f"{request.path}: not JSON")
            body = None
        self.received.append({"path": request.path, "body": body, "headers": dict(request.headers)})
        return body

    async def _misbehave(self, request: web.Request) -> web.Response | None:
        if self.behaviour == "slow":
            await until_gone(request)
            return web.json_response({"error": "too late"}, status=504)
        if self.behaviour == "broken":
            return web.json_response({"error": {"message": "service down"}}, status=500)
        return None


class FakeModeration(_Service):
    """An OpenAI-compatible upstream's `/v1/moderations`, for the key `key`."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    @property
    def api_base(self) -> str:
        return self.base_url + "/v1"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/moderations", self._moderate)
        await self.serve(app)

    async def _moderate(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            self.violations.append("moderations: not the upstream's bearer key")
            return web.json_response({"error": {"message": "Incorrect API key provided"}}, status=401)
        self.violations += moderation_violations(body)
        refused = await self._misbehave(request)
        if refused is not None:
            return refused
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        if inputs and isinstance(inputs[0], dict):  # multimodal parts: one result for them all, as OpenAI answers
            inputs = [" ".join(str(part.get("text", "")) for part in inputs)]
        return web.json_response(moderation_answer(body["model"], [self._flagged(text) for text in inputs]))

    def _flagged(self, text: str) -> bool:
        return self.behaviour == "flag" and "forbidden" in text


def moderation_violations(body: Any) -> list[str]:
    """The body against the openai SDK's `ModerationCreateParams` (text inputs: the gateway sends no images)."""
    from openai.types import ModerationCreateParams

    if not isinstance(body, dict):
        return ["moderations: the body is not an object"]
    problems = [
        f"moderations: unknown field {key}" for key in body if key not in ModerationCreateParams.__annotations__
    ]
    given = body.get("input")
    if not (
        isinstance(given, str)
        or (isinstance(given, list) and all(isinstance(item, str) for item in given))
        or (isinstance(given, list) and all(_multimodal(item) for item in given))
    ):
        problems.append("moderations: input is not a string, a list of strings or of multimodal parts")
    if "model" in body and not isinstance(body["model"], str):
        problems.append("moderations: model is not a string")
    return problems


def _multimodal(item: Any) -> bool:
    """One of OpenAI's multimodal moderation parts (`ModerationMultiModalInputParam`)."""
    if not isinstance(item, dict):
        return False
    if item.get("type") == "text":
        return isinstance(item.get("text"), str) and set(item) == {"type", "text"}
    image = item.get("image_url")
    return item.get("type") == "image_url" and isinstance(image, dict) and isinstance(image.get("url"), str)


def moderation_answer(model: str, flags: list[bool]) -> dict[str, Any]:
    """A `ModerationCreateResponse`, one result a text: a flagged one is flagged for violence and harassment."""
    from openai.types import ModerationCreateResponse
    from openai.types.moderation import Categories

    names = [field.alias or name for name, field in Categories.model_fields.items()]
    results = []
    for flagged in flags:
        hits = {"violence", "harassment"} if flagged else set()
        results.append(
            {
                "flagged": flagged,
                "categories": {name: name in hits for name in names},
                "category_scores": {name: 0.9 if name in hits else 0.001 for name in names},
                "category_applied_input_types": {name: ["text"] for name in names},
            }
        )
    payload = {"id": "modr-fake", "model": model, "results": results}
    ModerationCreateResponse.model_validate(payload)  # what the SDK reads
    return payload


class FakeContentSafety(_Service):
    """Azure AI Content Safety's text analysis, for the key `key`. A flagged text is Violence at severity 4; a text
    holding "mild" is Hate at severity 2."""

    API_VERSION = "2024-09-01"

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/contentsafety/text:analyze", self._analyze)
        await self.serve(app)

    async def _analyze(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if request.query.get("api-version") != self.API_VERSION:
            self.violations.append(f"analyze: api-version {request.query.get('api-version')!r}")
        if request.headers.get("Ocp-Apim-Subscription-Key") != self.key:
            self.violations.append("analyze: not the resource's key")
            return web.json_response({"error": {"code": "401", "message": "Access denied"}}, status=401)
        if not isinstance(body, dict) or set(body) != {"text", "outputType"} or not isinstance(body["text"], str):
            self.violations.append(f"analyze: not AnalyzeTextOptions: {body!r}"[:200])
            return web.json_response({"error": {"code": "InvalidRequestBody"}}, status=400)
        if body["outputType"] != "FourSeverityLevels":
            self.violations.append(f"analyze: outputType {body['outputType']!r}")
        if len(body["text"]) > 10_000:
            self.violations.append(f"analyze: a text of {len(body['text'])} characters")
            return web.json_response({"error": {"code": "InvalidRequestBody", "message": "too long"}}, status=400)
        refused = await self._misbehave(request)
        if refused is not None:
            return refused
        text = body["text"]
        severities = {"Hate": 0, "SelfHarm": 0, "Sexual": 0, "Violence": 0}
        if self.behaviour == "flag" and "forbidden" in text:
            severities["Violence"] = 4
        if self.behaviour == "flag" and "mild" in text:
            severities["Hate"] = 2
        return web.json_response(
            {
                "blocklistsMatch": [],
                "categoriesAnalysis": [{"category": name, "severity": value} for name, value in severities.items()],
            }
        )


class FakePresidio(_Service):
    """Presidio's analyzer and anonymizer on one port; the analyzer finds e-mail addresses (`flag`: and the word
    "forbidden", as a custom recognizer's DENY_LIST entity would)."""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/analyze", self._analyze)
        app.router.add_post("/anonymize", self._anonymize)
        await self.serve(app)

    def found(self, text: str) -> list[dict[str, Any]]:
        results = [
            {"entity_type": "EMAIL_ADDRESS", "start": m.start(), "end": m.end(), "score": 1.0}
            for m in EMAIL.finditer(text)
        ]
        if self.behaviour == "flag":
            results += [
                {"entity_type": "DENY_LIST", "start": m.start(), "end": m.end(), "score": 1.0}
                for m in re.finditer("forbidden", text)
            ]
        return results

    async def _analyze(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if not isinstance(body, dict) or set(body) != {"text", "language"} or not isinstance(body["text"], str):
            self.violations.append(f"analyze: not an AnalyzerRequest: {body!r}"[:200])
            return web.json_response({"error": "bad request"}, status=400)
        if body["language"] != "en":
            self.violations.append(f"analyze: language {body['language']!r}")
        refused = await self._misbehave(request)
        if refused is not None:
            return refused
        return web.json_response(self.found(body["text"]))

    async def _anonymize(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if not isinstance(body, dict) or set(body) != {"text", "analyzer_results"} or not isinstance(body["text"], str):
            self.violations.append(f"anonymize: not an AnonymizeRequest: {body!r}"[:200])
            return web.json_response({"error": "bad request"}, status=400)
        results = body["analyzer_results"]
        if not isinstance(results, list) or results != self.found(body["text"]):
            self.violations.append("anonymize: analyzer_results are not the analyzer's answer for this text")
            return web.json_response({"error": "bad request"}, status=400)
        text = body["text"]
        for result in sorted(results, key=lambda r: r["start"], reverse=True):
            text = text[: result["start"]] + f"<{result['entity_type']}>" + text[result["end"] :]
        items = [{"operator": "replace", "entity_type": r["entity_type"]} for r in results]
        return web.json_response({"text": text, "items": items})
