"""Azure's pure pieces: deployment-style URLs, its error bodies (the content filter as the refusal the
content-policy fallbacks key on), and an answer the filter stopped."""

from __future__ import annotations

import orjson

from babelgate.errors import UpstreamAuthFailed, UpstreamRejected
from babelgate.providers.azure import wire
from babelgate.providers.azure.errors import filtered_answer, map_error
from babelgate.routing.retry import Failure, classify
from tests.fakes.azure_upstream import content_filter_error


def test_deployment_style_urls() -> None:
    root = "https://res.openai.azure.com/openai"
    assert wire.deployment_url(root, "/chat/completions", "gpt 4o", "2024-10-21") == (
        root + "/deployments/gpt%204o/chat/completions?api-version=2024-10-21"
    )
    assert wire.deployment_url(root, "/responses", "gpt-4o", "2025-04-01-preview") == (
        root + "/responses?api-version=2025-04-01-preview"
    )
    assert wire.is_claude("claude-sonnet-4-5") and not wire.is_claude("gpt-4o")


def _map(status: int, body: object) -> object:
    return map_error(status, orjson.dumps(body), None, provider="az", scrub=str)


def test_a_content_filter_refusal_is_the_content_policy_failure() -> None:
    error = _map(400, content_filter_error())
    assert isinstance(error, UpstreamRejected) and error.code == "content_filter"
    assert classify(error) is Failure.CONTENT_POLICY
    older = {
        "error": {"code": "BadRequest", "message": "filtered", "innererror": {"code": "ResponsibleAIPolicyViolation"}}
    }
    assert classify(_map(400, older)) is Failure.CONTENT_POLICY  # type: ignore[arg-type]
    assert classify(_map(400, {"error": {"code": "BadRequest", "message": "no"}})) is Failure.FINAL  # type: ignore[arg-type]
    assert isinstance(_map(401, {"error": {"code": "401", "message": "Access denied"}}), UpstreamAuthFailed)


def test_an_answer_the_filter_emptied_is_refused_and_a_cut_one_is_not() -> None:
    emptied = {"choices": [{"index": 0, "finish_reason": "content_filter", "message": {"content": None}}]}
    refusal = filtered_answer(emptied, provider="az")
    assert refusal is not None and classify(refusal) is Failure.CONTENT_POLICY
    cut = {"choices": [{"index": 0, "finish_reason": "content_filter", "message": {"content": "Once upon"}}]}
    assert filtered_answer(cut, provider="az") is None
    assert filtered_answer({"choices": [{"finish_reason": "stop", "message": {}}]}, provider="az") is None
