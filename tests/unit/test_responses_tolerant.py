"""The tolerant reader on the Responses frontend (golden): what Codex CLI sends — a `namespace` of
function tools, hosted tools, client metadata and cache keys, reasoning items with sealed state — is
translated, approximated or dropped, and every change is reported (docs/api.md)."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from babelgate.frontends.responses.reasoning import ReasoningSeal, ReasoningState, open_items
from babelgate.frontends.responses.resource import ResponseShell
from babelgate.frontends.responses.stream import ResponsesStreamEncoder
from babelgate.frontends.responses.tools import ToolNames, flat_name
from babelgate.frontends.responses.translate import normalize_input, output_items
from babelgate.frontends.responses.validate import validate_create_body, validate_translatable
from babelgate.frontends.responses.wire import usage_to_wire
from babelgate.schema.chat import AssistantMessage, ChatResponse, Choice, ToolCall, Usage
from babelgate.schema.chunks import ChatChunk, ChunkChoice, Delta, ToolCallDelta
from tests.responses_chat import chat_body
from tests.responses_spec import response_violations

JSON = dict[str, Any]
PARAMS = {"type": "object", "properties": {"target": {"type": "string"}}, "required": ["target"]}
NAMESPACE = {
    "type": "namespace",
    "name": "multi_agent_v1",
    "description": "Sub-agents",
    "tools": [
        {"type": "function", "name": "close_agent", "description": "Close one", "parameters": PARAMS, "strict": False}
    ],
}
EXEC = {"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {}}}
WEB_SEARCH = {"type": "web_search", "external_web_access": True}
FLAT = "multi_agent_v1__close_agent"
# Codex CLI 0.169's request, less its prompts.
CODEX: JSON = {
    "model": "gpt-test",
    "instructions": "",
    "input": "Make hello.txt",
    "tools": [EXEC, NAMESPACE, WEB_SEARCH],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "reasoning": {"summary": "auto"},
    "store": False,
    "stream": True,
    "include": ["reasoning.encrypted_content"],
    "prompt_cache_key": "0193-session",
    "client_metadata": {"session_id": "0193"},
    "text": {"verbosity": "low"},
}


class PlainSealer:
    """A stand-in for sealing.Sealer: readable, but only tokens it made open."""

    def seal(self, payload: dict[str, Any]) -> str:
        return "T." + base64.urlsafe_b64encode(orjson.dumps(payload)).decode()

    def open(self, token: str) -> dict[str, Any] | None:
        if not token.startswith("T."):
            return None
        payload: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(token[2:]))
        return payload


SEAL = ReasoningSeal(PlainSealer(), "anthropic")
SIGNED = [{"type": "reasoning.text", "text": "Think.", "signature": "sig-1", "format": "anthropic-claude-v1"}]


def fold(body: JSON, conversation: list[JSON] | None = None) -> tuple[JSON, ToolNames, list[str]]:
    validate_create_body(body)
    validate_translatable(body)
    adjusted: list[str] = []
    items = normalize_input(body.get("input"))
    everything = [*(conversation or []), *items]
    reasoning = open_items(everything, SEAL, adjusted, first_reported=len(conversation or []))
    chat, names = chat_body(body, conversation or [], items, adjusted, reasoning=reasoning)
    return chat, names, adjusted


def test_codex_request_folds_with_every_change_reported() -> None:
    chat, names, adjusted = fold(CODEX)
    assert chat["tools"] == [
        {"type": "function", "function": {"name": "exec_command", "parameters": {"type": "object", "properties": {}}}},
        {
            "type": "function",
            "function": {"name": FLAT, "description": "Close one", "parameters": PARAMS, "strict": False},
        },
        WEB_SEARCH,  # hosted: the one call path maps it to the provider's own search or drops it
    ]
    assert names.client_name(FLAT) == ("close_agent", "multi_agent_v1")
    assert names.client_name("exec_command") == ("exec_command", None)
    assert chat["prompt_cache_key"] == "0193-session"
    assert chat["parallel_tool_calls"] is True
    assert adjusted == ["tools[1]=namespace-flattened", "client_metadata=dropped"]


def test_unknown_fields_and_includes_are_dropped_and_reported() -> None:
    _, _, adjusted = fold(
        {
            "model": "gpt-test",
            "input": "Hi",
            "context_management": [{"type": "compaction"}],
            "truncation": "auto",
            "max_tool_calls": 3,
            "brand_new_field": {"x": 1},
            "include": ["reasoning.encrypted_content", "message.output_text.logprobs"],
        }
    )
    assert adjusted == [
        "context_management=dropped",
        "truncation=dropped",
        "max_tool_calls=dropped",
        "brand_new_field=dropped",
        "include[1]=dropped",
    ]
    assert fold({"model": "gpt-test", "input": "Hi", "truncation": "disabled"})[2] == []


def test_a_replayed_namespaced_call_is_flattened_again() -> None:
    history = [
        {"type": "message", "role": "user", "content": "Close it"},
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "close_agent",
            "namespace": "multi_agent_v1",
            "arguments": '{"target":"a"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "closed"},
    ]
    chat, _, _ = fold({**CODEX, "input": history})
    assert chat["messages"][1]["tool_calls"][0]["function"]["name"] == FLAT


def test_flat_names_stay_within_64_characters_and_apart() -> None:
    long_a, long_b = flat_name("n" * 40, "a" * 40), flat_name("n" * 40, "a" * 39 + "b")
    assert len(long_a) == len(long_b) == 64 and long_a != long_b


def test_calls_come_back_under_the_names_the_client_declared() -> None:
    _, names, _ = fold(CODEX)
    message = AssistantMessage(
        tool_calls=[ToolCall("call_9", FLAT, '{"target":"a"}'), ToolCall("call_8", "exec_command", "{}")]
    )
    response = ChatResponse("c", 1, "gpt-test", [Choice(0, message, "tool_calls")], Usage(1, 1, 2))
    items = output_items(response, names)
    assert [(item["name"], item.get("namespace")) for item in items] == [
        ("close_agent", "multi_agent_v1"),
        ("exec_command", None),
    ]
    shell = ResponseShell.for_request("resp_1", "gpt-test", CODEX, store=False)
    resource = shell.resource("completed", items, usage=usage_to_wire(response.usage))
    assert resource["tools"][1] == NAMESPACE and resource["tools"][2] == WEB_SEARCH  # echoed as sent
    # Open Responses knows only function tools; OpenAI's schema takes what Codex sent.
    assert [line for line in response_violations(resource) if not line.startswith("ORS ResponseResource: tools/")] == []


def test_streamed_calls_come_back_under_the_declared_names() -> None:
    _, names, _ = fold(CODEX)
    encoder = ResponsesStreamEncoder(ResponseShell.for_request("resp_1", "gpt-test", CODEX, store=False), names)
    encoder.start_events()
    chunk = ChatChunk(
        "c",
        1,
        "gpt-test",
        [
            ChunkChoice(
                0,
                Delta(tool_calls=[ToolCallDelta(0, id="call_9", name=FLAT, arguments='{"target":"a"}')]),
                "tool_calls",
            )
        ],
    )
    events = encoder.events(chunk) + encoder.finish_events()
    done = [event["item"] for event in events if event["type"] == "response.output_item.done"]
    assert done[0]["name"] == "close_agent" and done[0]["namespace"] == "multi_agent_v1"
    arguments_done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert arguments_done["name"] == "close_agent"


# -- reasoning carried by the client -----------------------------------------------------------------------


def test_reasoning_state_is_sealed_into_the_reasoning_item() -> None:
    message = AssistantMessage(
        reasoning_content="Think.",
        tool_calls=[ToolCall("call_1", "exec_command", "{}")],
        extra={"reasoning_details": SIGNED},
    )
    response = ChatResponse("c", 1, "gpt-test", [Choice(0, message, "tool_calls")], Usage(1, 1, 2))
    reasoning = output_items(response, seal=SEAL)[0]
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Think."}]
    assert SEAL.open(reasoning["encrypted_content"]) == ReasoningState("Think.", SIGNED)
    assert "encrypted_content" not in output_items(response)[0]  # not asked for: not sealed


def test_streamed_reasoning_state_is_sealed_even_without_text() -> None:
    encoder = ResponsesStreamEncoder(ResponseShell.for_request("resp_1", "gpt-test", CODEX, store=False), seal=SEAL)
    encoder.start_events()
    chunks = [Delta(extra={"reasoning_details": SIGNED}), Delta(content="Done.")]
    events = [event for delta in chunks for event in encoder.events(ChatChunk("c", 1, "m", [ChunkChoice(0, delta)]))]
    events += encoder.finish_events()
    kinds = [event["type"] for event in events]
    assert "response.reasoning_summary_part.added" not in kinds  # no text: no summary part
    reasoning = next(e["item"] for e in events if e["type"] == "response.output_item.done")
    assert reasoning["summary"] == []
    assert SEAL.open(reasoning["encrypted_content"]) == ReasoningState(None, SIGNED)


def test_sealed_reasoning_goes_back_onto_the_assistant_turn_it_belongs_to() -> None:
    token = SEAL.seal("Think.", SIGNED)
    history = [
        {"type": "message", "role": "user", "content": "Make hello.txt"},
        {"type": "reasoning", "summary": [], "encrypted_content": token},
        {"type": "function_call", "call_id": "call_1", "name": "exec_command", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "ok"},
    ]
    chat, _, adjusted = fold({**CODEX, "input": history})
    assert chat["messages"][1] == {
        "role": "assistant",
        "content": None,
        "reasoning_content": "Think.",
        "reasoning_details": SIGNED,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "exec_command", "arguments": "{}"}}],
    }
    assert adjusted == ["tools[1]=namespace-flattened", "client_metadata=dropped"]


def test_a_token_that_does_not_open_or_belongs_to_another_provider_is_dropped_and_reported() -> None:
    other = ReasoningSeal(PlainSealer(), "gemini").seal("Hmm.", [])
    history = [
        {"type": "message", "role": "user", "content": "Go"},
        {"type": "reasoning", "summary": [], "encrypted_content": "gAAAA-forged"},
        {"type": "message", "role": "assistant", "content": "Went."},
        {"type": "reasoning", "summary": [], "encrypted_content": other},
        {"type": "message", "role": "assistant", "content": "Again."},
    ]
    chat, _, adjusted = fold({"model": "gpt-test", "input": history})
    assert "input[1].encrypted_content=dropped" in adjusted and "input[3].encrypted_content=dropped" in adjusted
    assert all("reasoning_content" not in message for message in chat["messages"])
