"""Hosted tools (golden): kept where the provider maps them, else dropped and reported or refused
(hosted_tools.py), and each mapping to a provider's own equivalent (Anthropic, Gemini)."""

from __future__ import annotations

from typing import Any

import pytest

from babelgate.errors import InvalidRequest
from babelgate.frontends.openai_chat import decode_request
from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.hosted_tools import keep_supported
from babelgate.i18n import render_message
from babelgate.providers.anthropic.profiles import ModelProfile as AnthropicProfile
from babelgate.providers.anthropic.translate import to_wire as anthropic_to_wire
from babelgate.providers.gemini.profiles import ModelProfile as GeminiProfile
from babelgate.providers.gemini.translate import to_wire as gemini_to_wire
from babelgate.schema.chat import ChatRequest, Tool

JSON = dict[str, Any]
FUNCTION = {"type": "function", "function": {"name": "run", "parameters": {"type": "object", "properties": {}}}}
SEARCH = {"type": "web_search", "user_location": {"type": "approximate", "city": "Paris", "country": "FR"},
          "filters": {"allowed_domains": ["example.org"]}, "search_context_size": "low"}


def request(*tools: JSON, **fields: Any) -> ChatRequest:
    body = {"model": "m", "messages": [{"role": "user", "content": "News?"}], "tools": list(tools), **fields}
    validate_chat_body(body)
    return decode_request(body)


def test_a_hosted_tool_is_decoded_with_its_options() -> None:
    assert request(SEARCH).tools == [Tool("web_search", type="web_search", extra={
        key: value for key, value in SEARCH.items() if key != "type"})]


def test_supported_hosted_tools_stay_and_nothing_is_copied() -> None:
    original = request(FUNCTION, SEARCH)
    adjusted: list[str] = []
    assert keep_supported(original, frozenset({"web_search"}), adjusted, refuse=False) is original
    assert adjusted == []


def test_unsupported_hosted_tools_are_dropped_and_reported() -> None:
    adjusted: list[str] = []
    kept = keep_supported(request(FUNCTION, {"type": "file_search"}, SEARCH), frozenset(), adjusted, refuse=False)
    assert [tool.name for tool in kept.tools or ()] == ["run"]
    assert adjusted == ["tools[1]=dropped", "tools[2]=dropped"]


def test_with_no_tool_left_the_tool_settings_go_too() -> None:
    adjusted: list[str] = []
    kept = keep_supported(request(SEARCH, tool_choice="auto", parallel_tool_calls=True), frozenset(), adjusted,
                          refuse=False)
    assert (kept.tools, kept.tool_choice, kept.parallel_tool_calls) == (None, None, None)
    assert adjusted == ["tools[0]=dropped", "tool_choice=dropped", "parallel_tool_calls=dropped"]


def test_an_operator_may_refuse_them_with_a_message_that_says_what_to_change() -> None:
    with pytest.raises(InvalidRequest) as caught:
        keep_supported(request(FUNCTION, {"type": "code_interpreter"}), frozenset(), [], refuse=True)
    assert caught.value.param == "tools[1]"
    message = render_message(caught.value, "en")
    assert "code_interpreter" in message and "Remove the tool" in message


def test_anthropic_takes_its_web_search_server_tool() -> None:
    adjusted: list[str] = []
    body = anthropic_to_wire(request(FUNCTION, SEARCH), "claude-x", AnthropicProfile(), adjusted).body
    assert body["tools"][1] == {"type": "web_search_20250305", "name": "web_search",
                                "user_location": {"type": "approximate", "city": "Paris", "country": "FR"},
                                "allowed_domains": ["example.org"]}
    assert adjusted == ["tools[1].search_context_size=dropped"]


def test_gemini_3_takes_google_search_beside_functions_and_gemini_2_does_not() -> None:
    adjusted: list[str] = []
    wire = gemini_to_wire(request(FUNCTION, {"type": "web_search"}), GeminiProfile(search_with_functions=True),
                          adjusted, inline={})
    assert wire["tools"] == [{"functionDeclarations": [{"name": "run", "parametersJsonSchema": {
        "type": "object", "properties": {}}}]}, {"googleSearch": {}}]
    assert adjusted == []
    wire = gemini_to_wire(request(FUNCTION, SEARCH), GeminiProfile(thinking="budget"), adjusted, inline={})
    assert len(wire["tools"]) == 1 and adjusted == ["tools[1]=dropped"]
    adjusted.clear()
    wire = gemini_to_wire(request(SEARCH), GeminiProfile(thinking="budget"), adjusted, inline={})
    assert wire["tools"] == [{"googleSearch": {}}]  # alone, every Gemini searches
    assert adjusted == ["tools[0].user_location=dropped", "tools[0].filters=dropped",
                        "tools[0].search_context_size=dropped"]
