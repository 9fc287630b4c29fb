"""A fake Azure OpenAI / Microsoft Foundry resource on 127.0.0.1: the v1 API (`/openai/v1/chat/completions`,
`/responses`, `/embeddings`, `/models`, no `api-version`), the deployment-style API
(`/openai/deployments/{deployment}/chat/completions?api-version=…`, `/embeddings`, and
`/openai/responses?api-version=…`), and Claude in Foundry (`/anthropic/v1/messages`).

The OpenAI routes are `FakeOpenAI`'s (every body checked against OpenAI's spec), behind what Azure checks
first: the `api-key` header against the resource's keys, or an Entra ID bearer token the fake Entra issued
for `https://cognitiveservices.azure.com` (unexpired, unrevoked): else Azure's 401 bodies; a deployment the
resource has (the URL's in the deployment style, the body's `model` in the v1 API): else 404
`DeploymentNotFound`; an `api-version` on deployment-style calls, one Azure knows: else 404 / 400. Claude's
route is `FakeAnthropic`'s (the anthropic SDK's types), behind the same keys (Foundry takes Anthropic's
`x-api-key`) or tokens.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import orjson
from aiohttp import web

from tests.fakes import images, openai_audio
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.cloud_tokens import TokenRegistry
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.scripted import Reply

AUDIENCE = "https://cognitiveservices.azure.com"
# GA and preview data-plane versions Azure answers (a sample; an unknown one is a 400).
API_VERSIONS = frozenset({"2024-10-21", "2025-01-01-preview", "2025-03-01-preview", "2025-04-01-preview"})
DEPLOYMENTS = frozenset({"gpt-4o-mini-prod", "gpt-4o", "text-embedding-3-small", "Mistral-Large-2411"})
CLAUDE_DEPLOYMENTS = frozenset({"claude-sonnet-4-5"})
KEY_REFUSED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for "
    "an active subscription and use a correct regional API endpoint for your resource."
)
TOKEN_REFUSED = (
    "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), "
    "or have expired."
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _azure_error(status: int, code: str, message: str) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps({"error": {"code": code, "message": message}}), content_type="application/json"
    )


def content_filter_error() -> dict[str, Any]:
    """Azure's 400 for a prompt its content filter refused."""
    return {
        "error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management "
            "policy. Please modify your prompt and retry.",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": {
                    "hate": {"filtered": False, "severity": "safe"},
                    "self_harm": {"filtered": False, "severity": "safe"},
                    "sexual": {"filtered": False, "severity": "safe"},
                    "violence": {"filtered": True, "severity": "medium"},
                },
            },
        }
    }


_SAFE: dict[str, Any] = {
    category: {"filtered": False, "severity": "safe"} for category in ("hate", "self_harm", "sexual", "violence")
}


def prompt_filter_chunk() -> dict[str, Any]:
    """What an Azure stream begins with: the prompt's filter results, in a chunk with no choices and no id."""
    return {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": _SAFE}],
    }


def with_filter_results(answer: dict[str, Any]) -> dict[str, Any]:
    """A chat completion as Azure answers it: the prompt's and each choice's filter results."""
    choices = [{**choice, "content_filter_results": _SAFE} for choice in answer.get("choices") or ()]
    return {
        **answer,
        "choices": choices,
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": _SAFE}],
    }


class FakeAzure(FakeOpenAI):
    def __init__(self, registry: TokenRegistry) -> None:
        super().__init__()
        self.registry = registry
        self.api_keys: frozenset[str] = frozenset()
        self.deployments = set(DEPLOYMENTS)
        self.urls: list[str] = []  # every request's path and query, as it came (the handlers record the path)
        self.bearers: list[str] = []  # every request's bearer token, refused ones included
        self.claude = FakeAnthropic()  # its handlers serve /anthropic/v1/…; it is not started on its own
        self.batch_api.line_url = "/chat/completions"  # Azure's Batch names the endpoint without /v1

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def violations(self) -> list[str]:
        return [*self.spec_violations, *self.claude.violations]

    def reset(self) -> None:
        super().reset()
        self.claude.reset()
        self.api_keys = frozenset()
        self.deployments = set(DEPLOYMENTS)
        self.urls.clear()
        self.bearers.clear()

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        v1, deployment = self._v1, self._deployment
        app.router.add_post("/openai/v1/chat/completions", v1(self._chat))
        app.router.add_post("/openai/v1/responses", v1(self._responses))
        app.router.add_post("/openai/v1/embeddings", v1(self._embeddings))
        app.router.add_get("/openai/v1/models", self._guarded(self._models))
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", deployment(self._chat))
        app.router.add_post("/openai/deployments/{deployment}/embeddings", deployment(self._embeddings))
        # Images and audio: the OpenAI fake's own handlers, at both APIs' paths.
        for name, handler in (
            ("images/generations", partial(images.openai_generations, self)),
            ("audio/speech", partial(openai_audio.speech, self)),
            ("audio/transcriptions", partial(openai_audio.transcribe, self)),
        ):
            app.router.add_post(f"/openai/v1/{name}", self._guarded(handler))
            app.router.add_post(f"/openai/deployments/{{deployment}}/{name}", deployment(handler))
        app.router.add_post("/openai/responses", self._versioned(self._guarded(self._responses)))
        # Batch: the resource's files and batches, at both APIs' roots.
        self.batch_api.mount(app, "/openai/v1", self._guarded)
        self.batch_api.mount(app, "/openai", lambda handler: self._versioned(self._guarded(handler)))
        app.router.add_post("/anthropic/v1/messages", self._guarded(self.claude._messages, anthropic=True))
        app.router.add_post(
            "/anthropic/v1/messages/count_tokens", self._guarded(self.claude._count_tokens, anthropic=True)
        )
        await self.serve(app)

    def _guarded(self, handler: Handler, *, anthropic: bool = False) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            self.urls.append(request.path_qs)
            if request.headers.get("Authorization", "").startswith("Bearer "):
                self.bearers.append(request.headers["Authorization"][7:])
            key = request.headers.get("api-key") or (request.headers.get("x-api-key") if anthropic else None)
            bearer = request.headers.get("Authorization", "")
            if key is not None:
                if key not in self.api_keys:
                    return _azure_error(401, "401", KEY_REFUSED)
            elif not bearer.startswith("Bearer ") or self.registry.check(bearer[7:], AUDIENCE) is not None:
                return _azure_error(401, "401", TOKEN_REFUSED)
            return await handler(request)

        return guarded

    def _versioned(self, handler: Handler) -> Handler:
        async def versioned(request: web.Request) -> web.StreamResponse:
            version = request.query.get("api-version")
            if version is None:
                return _azure_error(404, "404", "Resource not found")
            if version not in API_VERSIONS:
                return _azure_error(400, "BadRequest", "API version not supported")
            return await handler(request)

        return versioned

    def _default(self, body: dict[str, Any]) -> Reply:
        """OpenAI's default answers with Azure's additions: filter results on the prompt and each choice."""
        reply = super()._default(body)
        if reply.stream is not None:
            return Reply(stream=[prompt_filter_chunk(), *reply.stream])
        return Reply(json=with_filter_results(reply.json))

    def _v1(self, handler: Handler) -> Handler:
        async def v1(request: web.Request) -> web.StreamResponse:
            body = await request.json()
            if body.get("model") not in self.deployments:
                return _deployment_not_found()
            return await handler(request)

        return self._guarded(v1)

    def _deployment(self, handler: Handler) -> Handler:
        async def deployment(request: web.Request) -> web.StreamResponse:
            if request.match_info["deployment"] not in self.deployments:
                return _deployment_not_found()
            return await handler(request)

        return self._versioned(self._guarded(deployment))


def _deployment_not_found() -> web.Response:
    return _azure_error(
        404,
        "DeploymentNotFound",
        "The API deployment for this resource does not exist. If you created the deployment within the last 5 "
        "minutes, please wait a moment and try again.",
    )
