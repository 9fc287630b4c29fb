"""Golden tests of the hosted `web_search` on Gemini: Google Search grounding in the request
(providers/gemini/translate.py, per-model in profiles.py) and grounded answers (from_wire and
GeminiStreamTranslator), where the search Gemini runs itself is never a client tool call.

Every request body is checked by the Gemini fake's rules for the model it goes to (the SDK's request
types plus the API's semantic checks); every answer goes through the SDK's GenerateContentResponse.
"""

from __future__ import annotations

import warnings
from typing import Any

import orjson
import pytest
from google.genai import types
from openai.types.chat import ChatCompletion

from babelgate.frontends.openai_validation import validate_chat_body
from babelgate.observability.logging import Scrubber
from babelgate.providers.gemini.profiles import build_profiles
from babelgate.providers.gemini.stream import GeminiStreamTranslator
from babelgate.providers.gemini.translate import from_wire, to_wire
from babelgate.providers.openai.translate import request_from_wire, response_to_wire
from babelgate.schema.chunks import ChatChunk
from babelgate.streaming import SSEEvent
from tests.fakes import gemini_upstream as gem

JSON = dict[str, Any]
GEMINI_3 = "gemini-3-pro-preview"
GEMINI_2 = "gemini-2.5-flash"
FUNCTION = {
    "type": "function",
    "function": {"name": "run", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}},
}
DECLARATIONS = {
    "functionDeclarations": [
        {"name": "run", "parametersJsonSchema": {"type": "object", "properties": {"a": {"type": "integer"}}}}
    ]
}
SEARCH = {"type": "web_search", "user_location": {"type": "approximate", "city": "Paris"}}
PROFILES = build_profiles({})
METADATA = gem.grounding_metadata(
    ["weather Paris"],
    [("https://vertexaisearch.cloud.google.com/grounding-api-redirect/1", "meteo.fr")],
    cited=("Rain in Paris.", 0),
)


def wire(model: str, *tools: JSON, positions: tuple[int, ...] | None = None, **fields: Any) -> tuple[JSON, list[str]]:
    body = {"model": "m", "messages": [{"role": "user", "content": "Weather?"}], "tools": list(tools), **fields}
    validate_chat_body(body)
    adjusted: list[str] = []
    sent = to_wire(request_from_wire(body), PROFILES.for_model(model), adjusted, inline={}, tool_positions=positions)
    assert gem.request_violations(sent, model) == [], f"Gemini would refuse this body for {model}"
    return sent, adjusted


# --- the request -------------------------------------------------------------------------------


def test_gemini_3_searches_beside_functions_with_server_side_invocations_on() -> None:
    sent, adjusted = wire(GEMINI_3, FUNCTION, SEARCH)
    assert sent["tools"] == [DECLARATIONS, {"googleSearch": {}}]
    assert sent["toolConfig"] == {"includeServerSideToolInvocations": True}
    assert adjusted == ["tools[1].user_location=dropped"]  # Google Search takes no options


def test_a_named_tool_choice_stays_beside_google_search() -> None:
    sent, _ = wire(GEMINI_3, FUNCTION, SEARCH, tool_choice={"type": "function", "function": {"name": "run"}})
    assert sent["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["run"]},
        "includeServerSideToolInvocations": True,
    }


def test_gemini_2_drops_search_beside_functions_and_reports_it() -> None:
    sent, adjusted = wire(GEMINI_2, FUNCTION, SEARCH, tool_choice="auto")
    assert sent["tools"] == [DECLARATIONS]
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    assert adjusted == ["tools[1]=dropped"]


@pytest.mark.parametrize("model", [GEMINI_2, GEMINI_3])
def test_search_alone_is_grounding_on_every_gemini(model: str) -> None:
    sent, adjusted = wire(model, {"type": "web_search"})
    assert sent["tools"] == [{"googleSearch": {}}] and "toolConfig" not in sent and adjusted == []


def test_with_only_search_left_a_function_calling_mode_is_dropped() -> None:
    """Gemini refuses a function-calling config without function declarations."""
    sent, adjusted = wire(GEMINI_2, SEARCH, tool_choice="required")
    assert "toolConfig" not in sent
    assert adjusted == ["tools[0].user_location=dropped", "tool_choice=dropped"]


def test_two_search_tools_are_one_google_search() -> None:
    sent, _ = wire(GEMINI_3, {"type": "web_search"}, {"type": "web_search"})
    assert sent["tools"] == [{"googleSearch": {}}]


def test_reports_name_tools_as_the_client_numbered_them() -> None:
    _, adjusted = wire(GEMINI_2, FUNCTION, SEARCH, positions=(2, 5))
    assert adjusted == ["tools[5]=dropped"]


def test_the_fake_refuses_what_the_api_refuses() -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "x"}]}], "tools": [DECLARATIONS, {"googleSearch": {}}]}
    assert gem.request_violations(body, GEMINI_3)  # both kinds, without includeServerSideToolInvocations
    flagged = {**body, "toolConfig": {"includeServerSideToolInvocations": True}}
    assert gem.request_violations(flagged, GEMINI_3) == []
    assert gem.request_violations(flagged, GEMINI_2)  # "Tool call context circulation is not enabled"
    lone = {
        "contents": body["contents"],
        "tools": [{"googleSearch": {}}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
    }
    assert gem.request_violations(lone, GEMINI_2)
    assert gem.request_violations({**body, "tools": [{"googleSearch": {"excludeDomains": ["a.org"]}}]}, GEMINI_2)


# --- the answer ---------------------------------------------------------------------------------


def sdk_checked(payload: JSON) -> JSON:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the SDK only warns about unknown enum values
        types.GenerateContentResponse.model_validate_json(orjson.dumps(payload))
    return payload


def test_a_grounded_answer_keeps_its_text() -> None:
    payload = sdk_checked(gem.grounded(gem.response("Rain in Paris.", model_version=GEMINI_2), METADATA))
    answer = from_wire(payload, created=1, model=GEMINI_2)
    message = answer.choices[0].message
    assert (message.content, message.tool_calls, answer.choices[0].finish_reason) == ("Rain in Paris.", None, "stop")
    ChatCompletion.model_validate(response_to_wire(answer))


def test_gemini_3s_own_search_calls_are_not_tool_calls() -> None:
    parts = [
        *gem.search_tool_parts("s1", ["weather Paris"], thought_signature="c2ln"),
        gem.text_part("Checking. "),
        gem.function_call_part("run", {"a": 1}, id="fc1"),
    ]
    payload = sdk_checked(gem.grounded(gem.response(parts, model_version=GEMINI_3), METADATA))
    message = from_wire(payload, created=1, model=GEMINI_3).choices[0].message
    assert message.content == "Checking. "
    assert [(call.name, call.arguments) for call in message.tool_calls or ()] == [("run", '{"a":1}')]


def run(payloads: list[JSON], model: str) -> list[ChatChunk]:
    stream = GeminiStreamTranslator("gemini", created=1, model=model, scrub=Scrubber([]))
    chunks = [
        chunk
        for payload in payloads
        for chunk in stream.feed(SSEEvent(data=orjson.dumps(sdk_checked(payload)).decode()))
    ]
    return chunks + stream.finish()


def test_a_grounded_stream_gives_the_text_and_its_finish() -> None:
    payloads = gem.text_chunks(["Rain ", "in Paris."], model_version=GEMINI_2)
    gem.grounded(payloads[-1], METADATA)
    chunks = run(payloads, GEMINI_2)
    deltas = [choice.delta for chunk in chunks for choice in chunk.choices]
    assert "".join(delta.content or "" for delta in deltas) == "Rain in Paris."
    assert [choice.finish_reason for chunk in chunks for choice in chunk.choices if choice.finish_reason] == ["stop"]
    assert chunks[-1].usage is not None


def test_a_stream_with_gemini_3s_own_search_numbers_only_the_client_call() -> None:
    payloads = [
        gem.chunk(gem.search_tool_parts("s1", ["weather Paris"]), model_version=GEMINI_3),
        gem.grounded(
            gem.chunk(
                [gem.function_call_part("run", {"a": 1}, id="fc1")],
                finish_reason="STOP",
                usage=gem.usage(9, 5),
                model_version=GEMINI_3,
            ),
            METADATA,
        ),
    ]
    chunks = run(payloads, GEMINI_3)
    calls = [call for chunk in chunks for choice in chunk.choices for call in choice.delta.tool_calls or ()]
    assert [(call.index, call.name) for call in calls] == [(0, "run")]
    assert [choice.finish_reason for chunk in chunks for choice in chunk.choices if choice.finish_reason] == [
        "tool_calls"
    ]
