"""What an OpenAI SDK client holds a realtime server to, checked over a whole stream of events: every event
valid, event ids unique, deltas only for the response, item and content part announced before them, and each
response, item and part closed once."""

from __future__ import annotations

from typing import Any

from tests.unit.realtime.live_checks import openai_server_event


def check_stream(events: list[dict[str, Any]], *, beta: bool = False) -> None:
    seen_ids: set[str] = set()
    response: str | None = None
    items: dict[str, str] = {}  # item id → "open" | "done"
    parts: set[tuple[str, int]] = set()
    for event in events:
        openai_server_event(event, beta=beta)
        assert event["event_id"] not in seen_ids
        seen_ids.add(event["event_id"])
        kind = event["type"]
        if kind == "response.created":
            assert response is None, "a response opened inside another"
            response = event["response"]["id"]
        elif kind == "response.done":
            assert event["response"]["id"] == response
            assert not parts, f"parts left open: {parts}"
            assert all(state == "done" for item, state in items.items() if item in _outputs(event)), items
            response = None
        elif kind == "response.output_item.added":
            assert event["response_id"] == response
            items[event["item"]["id"]] = "open"
        elif kind == "response.output_item.done":
            assert items.get(event["item"]["id"]) == "open"
            items[event["item"]["id"]] = "done"
        elif kind == "response.content_part.added":
            assert items.get(event["item_id"]) == "open"
            parts.add((event["item_id"], event["content_index"]))
        elif kind == "response.content_part.done":
            parts.remove((event["item_id"], event["content_index"]))
        elif kind.endswith(".delta") and kind.startswith("response."):
            assert event["response_id"] == response, f"{kind} outside its response"
            assert items.get(event["item_id"]) == "open"
            if "content_index" in event:
                assert (event["item_id"], event["content_index"]) in parts
    assert response is None, "a response was left open"


def _outputs(event: dict[str, Any]) -> set[str]:
    return {item["id"] for item in event["response"].get("output", [])}


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]
