"""Hosted tools (golden): read by the chat validation and decoding, then kept where the provider maps
them, else dropped and reported or refused (hosted_tools.py, the one place that decides)."""

from __future__ import annotations

from typing import Any

import pytest

from babelgate.errors import InvalidRequest
from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.i18n import render_message
from babelgate.providers.base import CallNotes
from babelgate.providers.hosted_tools import keep_supported, tool_path
from babelgate.providers.openai.translate import request_from_wire
from babelgate.schema.chat import ChatRequest, Tool

JSON = dict[str, Any]
FUNCTION = {"type": "function", "function": {"name": "run", "parameters": {"type": "object", "properties": {}}}}
SEARCH = {
    "type": "web_search",
    "user_location": {"type": "approximate", "city": "Paris", "country": "FR"},
    "filters": {"allowed_domains": ["example.org"]},
    "search_context_size": "low",
}
WEB_SEARCH = frozenset({"web_search"})


def request(*tools: JSON, **fields: Any) -> ChatRequest:
    body = {"model": "m", "messages": [{"role": "user", "content": "News?"}], "tools": list(tools), **fields}
    validate_chat_body(body)
    return request_from_wire(body)


def test_a_hosted_tool_is_decoded_with_its_options() -> None:
    assert request(SEARCH).tools == [
        Tool("web_search", type="web_search", extra={key: value for key, value in SEARCH.items() if key != "type"})
    ]


@pytest.mark.parametrize(
    "tool",
    [
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
        {"type": "mcp"},
        {"type": "code_interpreter", "container": {"type": "auto"}},
        {"type": "local_shell"},
        {"type": "image_generation"},
        {"type": "computer_use_preview"},
    ],
)
def test_chat_validation_accepts_every_hosted_tool(tool: JSON) -> None:
    decoded = request(FUNCTION, tool).tools or []
    assert (decoded[1].type, decoded[1].extra) == (tool["type"], {k: v for k, v in tool.items() if k != "type"})


@pytest.mark.parametrize(
    ("tool", "param"),
    [
        ({"type": "function"}, "tools[0].function"),
        ({"type": "function", "function": {"parameters": {}}}, "tools[0].function.name"),
        ({"function": {"name": "run"}}, "tools[0].type"),
        ({"type": 3}, "tools[0].type"),
        ({"type": ""}, "tools[0].type"),
    ],
)
def test_malformed_function_tools_are_still_refused(tool: JSON, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        request(tool)
    assert caught.value.param == param


def test_supported_hosted_tools_stay_and_nothing_is_copied() -> None:
    original = request(FUNCTION, SEARCH)
    notes = CallNotes()
    assert keep_supported(original, WEB_SEARCH, notes, refuse=False) is original
    assert (notes.adjusted, notes.tool_positions) == ([], None)


def test_a_request_without_hosted_tools_is_returned_as_it_is() -> None:
    original = request(FUNCTION)
    notes = CallNotes()
    assert keep_supported(original, frozenset(), notes, refuse=True) is original
    assert notes == CallNotes()


def test_unsupported_hosted_tools_are_dropped_and_reported() -> None:
    notes = CallNotes()
    kept = keep_supported(request(FUNCTION, {"type": "file_search"}, SEARCH), frozenset(), notes, refuse=False)
    assert [tool.name for tool in kept.tools or ()] == ["run"]
    assert notes.adjusted == ["tools[1]=dropped", "tools[2]=dropped"]


def test_what_stays_keeps_the_clients_numbering_for_later_reports() -> None:
    """A translator that reports on the third tool after the first was dropped still says tools[2]."""
    notes = CallNotes()
    kept = keep_supported(request({"type": "code_interpreter"}, FUNCTION, SEARCH), WEB_SEARCH, notes, refuse=False)
    assert [tool.type for tool in kept.tools or ()] == ["function", "web_search"]
    assert notes.tool_positions == (1, 2)
    assert [tool_path(index, notes.tool_positions) for index in range(2)] == ["tools[1]", "tools[2]"]
    assert tool_path(1, None) == "tools[1]"


@pytest.mark.parametrize("kind", ["web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11"])
def test_dated_and_preview_web_search_types_are_the_same_tool(kind: str) -> None:
    notes = CallNotes()
    kept = keep_supported(request({"type": kind, "search_context_size": "low"}), WEB_SEARCH, notes, refuse=False)
    assert kept.tools == [Tool("web_search", type="web_search", extra={"search_context_size": "low"})]
    assert notes.adjusted == []
    assert keep_supported(request({"type": kind}), frozenset(), notes, refuse=False).tools is None
    assert notes.adjusted == ["tools[0]=dropped"]


def test_with_no_tool_left_the_tool_settings_go_too() -> None:
    notes = CallNotes()
    kept = keep_supported(
        request(SEARCH, tool_choice="auto", parallel_tool_calls=True), frozenset(), notes, refuse=False
    )
    assert (kept.tools, kept.tool_choice, kept.parallel_tool_calls) == (None, None, None)
    assert notes.adjusted == ["tools[0]=dropped", "tool_choice=dropped", "parallel_tool_calls=dropped"]
    assert notes.tool_positions is None


def test_a_tool_choice_naming_a_function_stays_beside_a_dropped_hosted_tool() -> None:
    notes = CallNotes()
    kept = keep_supported(
        request(SEARCH, FUNCTION, tool_choice={"type": "function", "function": {"name": "run"}}),
        frozenset(),
        notes,
        refuse=False,
    )
    assert kept.tool_choice is not None and [tool.name for tool in kept.tools or ()] == ["run"]
    assert notes.adjusted == ["tools[0]=dropped"]


@pytest.mark.parametrize("language", ["en", "de"])
def test_an_operator_may_refuse_them_with_a_message_that_says_what_to_change(language: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        keep_supported(request(FUNCTION, {"type": "code_interpreter"}), frozenset(), CallNotes(), refuse=True)
    assert (caught.value.status, caught.value.param) == (400, "tools[1]")
    message = render_message(caught.value, language)
    assert "code_interpreter" in message and "unsupported_tools: refuse" in message
    assert ("Remove the tool" if language == "en" else "Entfernen Sie das Werkzeug") in message


def test_refusing_still_keeps_what_the_provider_maps() -> None:
    original = request(FUNCTION, {"type": "web_search_preview"})
    assert keep_supported(original, WEB_SEARCH, CallNotes(), refuse=True).tools == [
        original.tools[0],
        Tool("web_search", type="web_search"),
    ]  # type: ignore[index]
