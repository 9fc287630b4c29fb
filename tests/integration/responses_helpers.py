"""What the Responses integration tests share: raw SSE reading and spec checks of what the
gateway sent, with the two divergences between the specs and real OpenAI that we accept."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai

from tests.responses_spec import event_violations, parse_sse, response_violations

# Real OpenAI sends `usage: null` in in-progress snapshots, which its own spec does not allow;
# Open Responses' spec only allows `schema: null` in an echoed json_schema format (a spec bug).
ACCEPTED = ("usage: None is not of type 'object'", "response/usage: None is not of type 'object'", "text/format/schema")


def sdk_client(base_url: str) -> Iterator[openai.OpenAI]:
    """The official client on the gateway's `/v1`, no retries (a test sees every answer), closed after."""
    with openai.OpenAI(base_url=base_url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        yield client


def accepted(violations: list[str]) -> list[str]:
    return [v for v in violations if not any(known in v for known in ACCEPTED)]


def assert_valid_resource(resource: dict[str, Any]) -> None:
    problems = accepted(response_violations(resource))
    assert problems == [], problems


def assert_valid_stream(events: list[dict[str, Any]]) -> None:
    problems = [
        f"#{i} {event.get('type')}: {v}" for i, event in enumerate(events) for v in accepted(event_violations(event))
    ]
    assert problems == [], problems
    assert [event["sequence_number"] for event in events] == list(range(len(events)))


def stream_raw(base_url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """POST a streaming create and parse the SSE body as strictly as the compliance suite does."""
    with httpx.Client(timeout=10) as client:
        response = client.post(
            base_url + "/v1/responses",
            json={**body, "stream": True},
            headers={"Authorization": "Bearer x", **(headers or {})},
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_sse(response.text)


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


TEXT_SEQUENCE = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def weather_tool(name: str = "get_weather") -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
