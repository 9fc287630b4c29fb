"""Golden tests of the hosted `web_search` on Anthropic: the request side (providers/anthropic/
translate_tools.py → Anthropic's web search server tool), and the answer side (translate.from_wire,
stream.AnthropicStreamTranslator), where Claude's own search calls and results are not tool calls.

Every request body is checked by the Anthropic fake's rules (the SDK's strict request types plus the
API's semantic checks); every answer goes through the SDK's `Message` / `RawMessageStreamEvent` first.
"""

from __future__ import annotations

from typing import Any

import orjson
import pydantic
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from babelgate.frontends.openai_chat.stream import OpenAIChatStreamEncoder
from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.observability.logging import Scrubber
from babelgate.providers.anthropic.profiles import ModelProfile
from babelgate.providers.anthropic.stream import AnthropicStreamTranslator
from babelgate.providers.anthropic.translate import from_wire, to_wire
from babelgate.providers.openai.translate import request_from_wire, response_to_wire
from babelgate.schema.chat import ChatRequest, Usage
from babelgate.schema.chunks import ChatChunk
from babelgate.streaming import SSEEvent
from tests.fakes import anthropic_upstream as ant

JSON = dict[str, Any]
MODEL = "claude-sonnet-4-5"
FUNCTION = {"type": "function", "function": {"name": "run", "parameters": {"type": "object", "properties": {}}}}
SEARCH_TOOL = {"type": "web_search_20250305", "name": "web_search"}
RESULTS = [
    ant.web_search_result("https://example.org/news", "News of the day"),
    ant.web_search_result("https://example.com/more", "More news", page_age=None),
]
_EVENTS: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RawMessageStreamEvent)


def wire(*tools: JSON, positions: tuple[int, ...] | None = None, **fields: Any) -> tuple[JSON, list[str]]:
    body = {"model": "m", "messages": [{"role": "user", "content": "News?"}], "tools": list(tools), **fields}
    validate_chat_body(body)
    request: ChatRequest = request_from_wire(body)
    adjusted: list[str] = []
    sent = to_wire(request, MODEL, ModelProfile(), adjusted, tool_positions=positions).body
    assert ant.request_violations(sent) == [], "Anthropic would refuse this body"
    return sent, adjusted


# --- the request -------------------------------------------------------------------------------


def test_web_search_becomes_the_server_tool_with_its_location_and_domains() -> None:
    sent, adjusted = wire(
        FUNCTION,
        {
            "type": "web_search",
            "search_context_size": "low",
            "user_location": {"type": "approximate", "city": "Paris", "country": "FR"},
            "filters": {"allowed_domains": ["example.org"]},
        },
    )
    location = {"type": "approximate", "city": "Paris", "country": "FR"}
    assert sent["tools"][1] == {**SEARCH_TOOL, "user_location": location, "allowed_domains": ["example.org"]}
    assert adjusted == ["tools[1].search_context_size=dropped"]


def test_a_location_without_its_type_gets_the_one_anthropic_requires() -> None:
    """OpenAI's web_search leaves `user_location.type` optional; Anthropic requires "approximate"."""
    sent, adjusted = wire({"type": "web_search", "user_location": {"city": "Lyon", "region": None, "zip": "69001"}})
    assert sent["tools"] == [{**SEARCH_TOOL, "user_location": {"type": "approximate", "city": "Lyon", "region": None}}]
    assert adjusted == ["tools[0].user_location.zip=dropped"]


def test_options_claude_has_no_field_for_are_reported_and_empty_ones_are_not() -> None:
    sent, adjusted = wire(
        {
            "type": "web_search",
            "external_web_access": True,
            "filters": {"allowed_domains": []},
            "user_location": None,
            "search_context_size": None,
        }
    )
    assert sent["tools"] == [SEARCH_TOOL]
    assert adjusted == ["tools[0].external_web_access=dropped"]


def test_reports_name_tools_as_the_client_numbered_them() -> None:
    """The call path dropped the client's tools[0] (a hosted tool Claude lacks) before this translator."""
    _, adjusted = wire(FUNCTION, {"type": "web_search", "search_context_size": "high"}, positions=(1, 2))
    assert adjusted == ["tools[2].search_context_size=dropped"]


def test_one_search_tool_and_none_beside_a_function_of_its_name() -> None:
    """Anthropic refuses two tools of one name: the client's own `web_search` function wins."""
    sent, adjusted = wire({"type": "web_search"}, {"type": "web_search", "user_location": {"city": "Rome"}})
    assert sent["tools"] == [SEARCH_TOOL] and adjusted == ["tools[1]=dropped"]
    own = {"type": "function", "function": {"name": "web_search", "parameters": {"type": "object"}}}
    sent, adjusted = wire({"type": "web_search"}, own)
    assert [tool.get("type") for tool in sent["tools"]] == [None] and adjusted == ["tools[0]=dropped"]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "function", "function": {"name": "run"}}, {"type": "tool", "name": "run"}),
        ("required", {"type": "any"}),
        ("auto", {"type": "auto"}),
    ],
)
def test_a_tool_choice_still_works_beside_the_server_tool(choice: Any, expected: JSON) -> None:
    sent, adjusted = wire(FUNCTION, {"type": "web_search"}, tool_choice=choice)
    assert sent["tool_choice"] == expected and adjusted == []
    assert [tool["name"] for tool in sent["tools"]] == ["run", "web_search"]


def test_the_fake_refuses_what_the_api_refuses_in_a_search_tool() -> None:
    """The checks that keep the gateway honest: the SDK's shape, and both domain lists at once."""
    body = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}
    assert ant.request_violations({**body, "tools": [{**SEARCH_TOOL, "user_location": {"city": "Paris"}}]})
    assert ant.request_violations({**body, "tools": [{**SEARCH_TOOL, "search_context_size": "low"}]})
    assert ant.request_violations(
        {**body, "tools": [{**SEARCH_TOOL, "allowed_domains": ["a.org"], "blocked_domains": ["b.org"]}]}
    )
    assert (
        ant.request_violations({**body, "tools": [{**SEARCH_TOOL, "allowed_domains": ["a.org"], "max_uses": 3}]}) == []
    )


# --- the answer ---------------------------------------------------------------------------------


def searched_message(*, stop_reason: str = "end_turn") -> JSON:
    cited = {
        **ant.text_block("Rain is expected today."),
        "citations": [
            {
                "type": "web_search_result_location",
                "url": RESULTS[0]["url"],
                "title": RESULTS[0]["title"],
                "encrypted_index": "Eo8BCioIAhgB",
                "cited_text": "Rain expected.",
            }
        ],
    }
    content = [
        ant.text_block("Let me search."),
        ant.server_tool_use_block("srvtoolu_01", "weather Paris"),
        ant.web_search_tool_result_block("srvtoolu_01", RESULTS),
        ant.text_block("In Paris, "),
        cited,
    ]
    usage = {**ant.usage(120, 40), "server_tool_use": {"web_search_requests": 1, "web_fetch_requests": 0}}
    body = ant.message(content, model=MODEL, stop_reason=stop_reason, usage=usage)
    Message.model_validate(body)
    return body


def test_a_searched_answer_keeps_its_text_and_has_no_tool_call() -> None:
    answer = from_wire(searched_message(), created=1, json_tool=None)
    message = answer.choices[0].message
    assert (message.content, message.tool_calls) == ("Let me search.In Paris, Rain is expected today.", None)
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage == Usage(prompt_tokens=120, completion_tokens=40, total_tokens=160, cached_tokens=0)
    ChatCompletion.model_validate(response_to_wire(answer))


def test_a_failed_search_and_a_paused_turn_still_answer() -> None:
    body = searched_message(stop_reason="pause_turn")
    body["content"][2] = ant.web_search_tool_result_block("srvtoolu_01", error_code="max_uses_exceeded")
    Message.model_validate(body)
    answer = from_wire(body, created=1, json_tool=None)
    assert answer.choices[0].finish_reason == "stop" and answer.choices[0].message.tool_calls is None


def run(events: list[JSON]) -> list[ChatChunk]:
    stream = AnthropicStreamTranslator("anthropic", created=1, json_tool=None, scrub=Scrubber([]))
    chunks: list[ChatChunk] = []
    for event in events:
        _EVENTS.validate_python(event)  # the fixture has the API's shape
        chunks += stream.feed(SSEEvent(data=orjson.dumps(event).decode(), event=event["type"]))
    assert stream.done
    return chunks


def test_a_searched_stream_gives_the_text_and_no_tool_call() -> None:
    chunks = run(ant.web_search_events("weather Paris", RESULTS, ["In Paris, ", "rain is expected."]))
    deltas = [choice.delta for chunk in chunks for choice in chunk.choices]
    assert "".join(delta.content or "" for delta in deltas) == "In Paris, rain is expected."
    assert not any(delta.tool_calls for delta in deltas)
    assert [choice.finish_reason for chunk in chunks for choice in chunk.choices if choice.finish_reason] == ["stop"]
    assert chunks[-1].usage == Usage(prompt_tokens=9, completion_tokens=30, total_tokens=39, cached_tokens=0)
    encoder = OpenAIChatStreamEncoder(include_usage=True)
    frames = b"".join(encoder.feed(chunk) for chunk in chunks).split(b"\n\n")
    for frame in frames[:-1]:
        ChatCompletionChunk.model_validate(orjson.loads(frame.removeprefix(b"data: ")))


def test_a_client_tool_call_after_a_search_is_tool_call_zero() -> None:
    search = ant.web_search_events("weather Paris", RESULTS[:1], ["Checking."])
    call = ant.tool_events([("toolu_01", "run", ['{"a"', ": 1}"])])
    # The search's blocks (0 to 2), then the client tool's block as block 3, in one message.
    tool_blocks = [{**event, "index": 3} if "index" in event else event for event in call[1:-2]]
    chunks = run([*search[:-2], *tool_blocks, *call[-2:]])
    calls = [call for chunk in chunks for choice in chunk.choices for call in choice.delta.tool_calls or ()]
    assert [(call.index, call.id, call.name, call.arguments) for call in calls] == [
        (0, "toolu_01", "run", ""),
        (0, None, None, '{"a"'),
        (0, None, None, ": 1}"),
    ]
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
