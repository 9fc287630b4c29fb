"""Messages ⇄ chat (frontends/anthropic_messages/translate*.py), golden: a Messages request in → the
exact chat request out (written as a chat body by the OpenAI codec, so that a golden reads as JSON); a
canonical answer in → a Message the SDK's own type accepts; errors in Anthropic's shape; and the native
road's body edits (native.py)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from anthropic.types import Message, MessageTokensCount
from anthropic.types.shared import ErrorResponse
from pydantic import TypeAdapter

from babelgate import tool_ids
from babelgate.errors import (
    AuthenticationFailed,
    GatewayError,
    InvalidRequest,
    MethodNotAllowed,
    ModelNotFound,
    RequestTooLarge,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from babelgate.frontends.anthropic_messages import native
from babelgate.frontends.anthropic_messages.translate import (
    decode_request,
    encode_error,
    encode_response,
    encode_stream_error,
)
from babelgate.frontends.token_estimate import estimate_tokens
from babelgate.providers.openai.translate import request_from_wire as decode_chat
from babelgate.routing.registry import Deployment
from babelgate.schema.chat import (
    AssistantMessage,
    ChatResponse,
    Choice,
    FinishReason,
    Tool,
    ToolCall,
    Usage,
)
from babelgate.schema.chat import Message as ChatMessage
from tests.chat_wire import written

JSON = dict[str, Any]
USER = [{"role": "user", "content": "Hi"}]
PNG = "iVBORw0KGgo="
PDF = "JVBERi0xLjQK"


def decode(**body: Any) -> tuple[JSON, list[str]]:
    """The chat request for a Messages body (`max_tokens` 100 and one user turn unless given) as a chat
    body, after checking that the chat validation accepts that body and reads it back as the same request
    (what the frontend checked is at least what the chat road checks)."""
    adjusted: list[str] = []
    request = decode_request({"model": "gpt-test", "max_tokens": 100, "messages": USER, **body}, adjusted=adjusted)
    return written(request), adjusted


def messages(*turns: JSON, **body: Any) -> list[JSON]:
    return decode(messages=list(turns), **body)[0]["messages"]  # type: ignore[no-any-return]


def refused(key: str, param: str, **body: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        decode(**body)
    assert (caught.value.message_key, caught.value.param) == (key, param)
    return caught.value


# -- requests ----------------------------------------------------------------------------------


def test_plain_request() -> None:
    chat, adjusted = decode(
        system="Be brief.",
        temperature=0.3,
        top_p=0.9,
        top_k=40,
        stop_sequences=["END"],
        metadata={"user_id": "u-1"},
        stream=True,
    )
    assert chat == {
        "model": "gpt-test",
        "messages": [{"role": "system", "content": "Be brief."}, *USER],
        "temperature": 0.3,
        "top_p": 0.9,
        "top_k": 40,
        "stop": ["END"],
        "user": "u-1",
        "max_tokens": 100,
    }
    assert adjusted == []


def test_system_blocks_drop_cache_markers() -> None:
    chat, adjusted = decode(
        system=[{"type": "text", "text": "A"}, {"type": "text", "text": "B", "cache_control": {"type": "ephemeral"}}]
    )
    assert chat["messages"][0] == {
        "role": "system",
        "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
    }
    assert adjusted == ["cache_control=dropped"]


def test_user_media_blocks() -> None:
    content = [
        {"type": "text", "text": "Look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
        {
            "type": "document",
            "title": "Report",
            "context": "Q3 figures",
            "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
        },
        {"type": "document", "source": {"type": "url", "url": "https://example.com/b.pdf"}},
        {"type": "document", "title": "Notes", "source": {"type": "text", "media_type": "text/plain", "data": "n1"}},
        {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "c1"}]}},
        {"type": "search_result", "title": "T", "source": "https://s", "content": [{"type": "text", "text": "p1"}]},
    ]
    assert messages({"role": "user", "content": content}) == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                {"type": "text", "text": "Q3 figures"},
                {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}", "filename": "Report.pdf"}},
                {"type": "file", "file": {"file_id": "https://example.com/b.pdf", "filename": "document.pdf"}},
                {"type": "text", "text": "Notes\n\nn1"},
                {"type": "text", "text": "c1"},
                {"type": "text", "text": "T\nhttps://s\n\np1"},
            ],
        }
    ]


def test_tool_loop_turns() -> None:
    call = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    assert messages(
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "Checking."}, call, {**call, "id": "toolu_2", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "21C"}, image]},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "no such city", "is_error": True},
                {"type": "text", "text": "Thanks"},
            ],
        },
    ) == [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {"id": "toolu_2", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "toolu_1",
            "content": "21C\n(The attachments of this result follow in the next user message.)",
        },
        {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: no such city"},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                {"type": "text", "text": "Thanks"},
            ],
        },
    ]


def test_empty_tool_result_and_empty_assistant_turn() -> None:
    assert messages(
        {"role": "user", "content": "Go"},
        {"role": "assistant", "content": ""},
        {"role": "assistant", "content": [{"type": "text", "text": ""}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]},
    )[2:] == [{"role": "tool", "tool_call_id": "t", "content": ""}]


def test_thinking_blocks_become_reasoning_content() -> None:
    """Signatures and redacted thinking only Claude can read, and Claude takes the native road."""
    assistant = {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "Hmm.", "signature": "sig-1"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "thinking", "thinking": " More.", "signature": ""},
            {"type": "text", "text": "Answer."},
        ],
    }
    chat, adjusted = decode(messages=[{"role": "user", "content": "Q"}, assistant, {"role": "user", "content": "N"}])
    assert chat["messages"][1] == {"role": "assistant", "content": "Answer.", "reasoning_content": "Hmm. More."}
    assert adjusted == []


def test_tools_and_tool_choice() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    tools = [
        {
            "name": "get_weather",
            "description": "Weather",
            "input_schema": schema,
            "strict": True,
            "cache_control": {"type": "ephemeral"},
        },
        {"type": "custom", "name": "noop", "input_schema": {"type": "object"}},
    ]
    chat, adjusted = decode(
        tools=tools, tool_choice={"type": "tool", "name": "noop", "disable_parallel_tool_use": True}
    )
    assert chat["tools"] == [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "Weather", "parameters": schema, "strict": True},
        },
        {"type": "function", "function": {"name": "noop", "parameters": {"type": "object"}}},
    ]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "noop"}}
    assert chat["parallel_tool_calls"] is False
    assert adjusted == ["cache_control=dropped"]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "none", "disable_parallel_tool_use": True}, "none"),
    ],
)
def test_tool_choice_kinds(choice: JSON, expected: str) -> None:
    chat, _ = decode(tools=[{"name": "f", "input_schema": {"type": "object"}}], tool_choice=choice)
    assert chat["tool_choice"] == expected and "parallel_tool_calls" not in chat


def test_tool_choice_without_tools() -> None:
    assert "tool_choice" not in decode(tool_choice={"type": "auto"})[0]
    refused("invalid_value", "tool_choice", tool_choice={"type": "any"})


@pytest.mark.parametrize(
    ("thinking", "config", "effort"),
    [
        ({"type": "enabled", "budget_tokens": 1024}, None, "low"),
        ({"type": "enabled", "budget_tokens": 2048}, None, "low"),
        ({"type": "enabled", "budget_tokens": 4000}, None, "medium"),
        ({"type": "enabled", "budget_tokens": 8192}, None, "medium"),
        ({"type": "enabled", "budget_tokens": 31999}, None, "high"),
        ({"type": "adaptive"}, None, None),
        ({"type": "adaptive"}, {"effort": "low"}, "low"),
        ({"type": "adaptive"}, {"effort": "max"}, "high"),
        (None, {"effort": "medium"}, "medium"),
        ({"type": "disabled"}, None, None),
    ],
)
def test_thinking_to_reasoning_effort(thinking: JSON | None, config: JSON | None, effort: str | None) -> None:
    body: dict[str, Any] = {name: value for name, value in (("thinking", thinking), ("output_config", config)) if value}
    assert decode(max_tokens=40000, **body)[0].get("reasoning_effort") == effort


def test_structured_output_and_dropped_fields() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}
    chat, adjusted = decode(
        output_config={"format": {"type": "json_schema", "schema": schema}},
        thinking={"type": "disabled"},
        service_tier="auto",
        inference_geo="us",
        speed=None,
        cache_control={"type": "ephemeral"},
        context_management={"edits": [{"type": "clear_tool_uses_20250919"}]},
    )
    assert chat["response_format"] == {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}
    assert adjusted == [
        "service_tier=dropped",
        "inference_geo=dropped",
        "cache_control=dropped",
        "context_management=dropped",
    ]


def test_missing_and_mistyped_fields_are_named() -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_request({"model": "m", "messages": USER}, adjusted=[])
    assert (caught.value.message_key, caught.value.param) == ("missing_field", "max_tokens")
    refused("wrong_type", "max_tokens", max_tokens="100")
    refused("empty_messages", "messages", messages=[])
    refused("invalid_value", "messages[0].role", messages=[{"role": "tool", "content": "x"}])
    refused("wrong_type", "messages[1].content[0]", messages=[*USER, {"role": "system", "content": ["x"]}])
    refused("missing_field", "messages[0].content", messages=[{"role": "user"}])
    refused("wrong_type", "stop_sequences", stop_sequences="END")
    refused("wrong_type", "stream", stream="yes")
    refused("invalid_value", "thinking.type", thinking={"type": "sometimes"})
    refused("missing_field", "tools[0].input_schema", tools=[{"name": "f"}])
    refused(
        "missing_field",
        "messages[0].content[0].source.data",
        messages=[
            {"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png"}}]}
        ],
    )


@pytest.mark.parametrize(
    ("content", "role", "param"),
    [
        ([{"type": "tool_use", "id": "t", "name": "f", "input": {}}], "user", "messages[0].content[0].type"),
        ([{"type": "thinking", "thinking": "x", "signature": "s"}], "user", "messages[0].content[0].type"),
        ([{"type": "tool_result", "tool_use_id": "t"}], "assistant", "messages[0].content[0].type"),
        (
            [{"type": "image", "source": {"type": "url", "url": "https://a"}}],
            "assistant",
            "messages[0].content[0].type",
        ),
    ],
)
def test_blocks_in_the_wrong_turn(content: list[JSON], role: str, param: str) -> None:
    refused("invalid_value", param, messages=[{"role": role, "content": content}])


def test_what_needs_anthropic_is_refused_by_name() -> None:
    refused(
        "messages_unsupported",
        "messages[0].content[0].source.file_id",
        messages=[{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "file_1"}}]}],
    )
    error = refused("messages_unsupported", "tools[0].type", tools=[{"type": "bash_20250124", "name": "bash"}])
    assert error.params["feature"] == "Anthropic's 'bash_20250124' tool"
    # The MCP connector is the gateway's to run (frontends/anthropic_messages/mcp.py): no chat field, no refusal.
    chat, _ = decode(
        mcp_servers=[{"type": "url", "url": "https://m", "name": "m"}],
        tools=[{"type": "mcp_toolset", "mcp_server_name": "m"}],
    )
    assert "mcp_servers" not in chat and "tools" not in chat
    refused(
        "messages_unsupported",
        "messages[0].content[0].type",
        messages=[{"role": "user", "content": [{"type": "container_upload", "file_id": "f"}]}],
    )


# -- answers -----------------------------------------------------------------------------------

MESSAGE: TypeAdapter[Message] = TypeAdapter(Message)


def answer(message: AssistantMessage, finish: FinishReason | None = "stop", usage: Usage | None = None) -> JSON:
    response = ChatResponse(id="c1", created=1, model="up", choices=[Choice(0, message, finish)], usage=usage)
    wire = encode_response(response, message_id="msg_1", model="public", provider="openai")
    MESSAGE.validate_python(wire)
    return wire


def test_text_answer_with_usage() -> None:
    usage = Usage(
        prompt_tokens=30,
        completion_tokens=7,
        total_tokens=37,
        cached_tokens=10,
        cache_write_tokens=5,
        reasoning_tokens=2,
    )
    assert answer(AssistantMessage(content="Hi!"), usage=usage) == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "public",
        "content": [{"type": "text", "text": "Hi!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 15,
            "cache_creation_input_tokens": 5,
            "cache_read_input_tokens": 10,
            "output_tokens": 7,
            "output_tokens_details": {"thinking_tokens": 2},
        },
    }


def test_thinking_text_and_tool_calls_in_order() -> None:
    message = AssistantMessage(
        content="Let me check.",
        reasoning_content="Hmm.",
        tool_calls=[ToolCall("call_1", "get_weather", '{"city":"Paris"}'), ToolCall("call_2", "noop", "")],
    )
    wire = answer(message, "tool_calls")
    assert wire["content"] == [
        {"type": "thinking", "thinking": "Hmm.", "signature": ""},
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "noop", "input": {}},
    ]
    assert wire["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    ("finish", "message", "stop"),
    [
        ("stop", AssistantMessage(content="x"), "end_turn"),
        ("length", AssistantMessage(content="x"), "max_tokens"),
        ("content_filter", AssistantMessage(content="x"), "refusal"),
        ("stop", AssistantMessage(refusal="I can't."), "refusal"),
        ("stop", AssistantMessage(tool_calls=[ToolCall("c", "f", "{}")]), "tool_use"),
        (None, AssistantMessage(content="x"), "end_turn"),
    ],
)
def test_stop_reasons(finish: FinishReason | None, message: AssistantMessage, stop: str) -> None:
    assert answer(message, finish)["stop_reason"] == stop


def test_broken_tool_arguments_are_the_upstreams_fault() -> None:
    with pytest.raises(UpstreamProtocolError):
        answer(AssistantMessage(tool_calls=[ToolCall("c", "f", '{"city": ')]))


def test_estimate() -> None:
    chat = decode_chat(
        {
            "model": "m",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "abcd" * 10},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 100_000}},
                    ],
                }
            ],
        }
    )
    text = orjson.dumps(
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "abcd" * 10}]}], "tools": []}
    ).decode()
    assert estimate_tokens(chat) == -(-len(text) // 4) + 1600
    MessageTokensCount(input_tokens=estimate_tokens(chat))


# -- errors ------------------------------------------------------------------------------------

ERROR: TypeAdapter[ErrorResponse] = TypeAdapter(ErrorResponse)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (InvalidRequest("missing_field", param="max_tokens"), "invalid_request_error"),
        (AuthenticationFailed(), "authentication_error"),
        (UpstreamAuthFailed(provider="openai", status=403), "permission_error"),
        (ModelNotFound(model="m", providers="openai", reason="unknown model"), "not_found_error"),
        (MethodNotAllowed(method="GET", path="/v1/messages"), "invalid_request_error"),
        (UpstreamRateLimited(provider="openai", retry_after=3), "rate_limit_error"),
        (GatewayError(), "api_error"),
        (UpstreamError(provider="openai", upstream_status=500), "api_error"),
        (UpstreamUnavailable(provider="openai"), "overloaded_error"),
        (UpstreamTimeout(provider="openai", phase="first byte"), "timeout_error"),
    ],
)
def test_error_types_by_status(error: GatewayError, kind: str) -> None:
    body = orjson.loads(encode_error(error, "en"))
    ERROR.validate_python(body)
    assert body["error"]["type"] == kind and set(body) == {"type", "error"}


def test_too_large_and_auth_messages() -> None:
    body = orjson.loads(encode_error(RequestTooLarge(limit=1024), "en"))
    assert body["error"]["type"] == "request_too_large" and "1024" in body["error"]["message"]
    assert "x-api-key" in orjson.loads(encode_error(AuthenticationFailed(), "en"))["error"]["message"]
    assert "x-api-key" in orjson.loads(encode_error(AuthenticationFailed(), "de"))["error"]["message"]


def test_stream_error_event() -> None:
    frame = encode_stream_error(UpstreamUnavailable(provider="gemini"), "en")
    name, data = frame.decode().split("\n", 1)
    assert name == "event: error" and frame.endswith(b"\n\n")
    assert ERROR.validate_json(data.removeprefix("data: ")).error.type == "overloaded_error"


# -- the native road's edits -------------------------------------------------------------------


def _deployment(defaults: JSON, overrides: JSON) -> Deployment:
    return Deployment("claude", None, "claude-up", defaults, overrides)  # type: ignore[arg-type]


def test_native_parameters_and_betas() -> None:
    body: JSON = {"model": "claude", "messages": USER, "max_tokens": 10, "betas": ["b2"]}
    native.prepare(
        body,
        _deployment({"max_completion_tokens": 99, "top_k": 5, "seed": 1}, {"temperature": 0.2}),
        raw=b"",
        beta=b"b1, b2",
    )
    assert body == {
        "model": "claude",
        "messages": USER,
        "max_tokens": 10,
        "betas": ["b1", "b2"],
        "top_k": 5,
        "temperature": 0.2,
    }
    with pytest.raises(InvalidRequest):
        native.prepare({"betas": "b1"}, _deployment({}, {}), raw=b"", beta=None)


def test_native_strips_state_claude_cannot_read() -> None:
    signed = tool_ids.join("fc_1", "U0lH")
    body: JSON = {
        "messages": [
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "x", "signature": ""}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "y", "signature": "s"},
                    {"type": "tool_use", "id": signed, "name": "f", "input": {}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": signed}]},
        ]
    }
    native.prepare(body, _deployment({}, {}), raw=orjson.dumps(body), beta=None)
    assert body["messages"] == [
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "y", "signature": "s"},
                {"type": "tool_use", "id": "fc_1", "name": "f", "input": {}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "fc_1"}]},
    ]


def test_a_system_message_inside_the_conversation_stays_where_it_was_sent() -> None:
    """Claude Code (beta mid-conversation-system) sends its environment as a system message after
    the first user turn: chat says the same with a system message at that point."""
    chat, adjusted = decode(
        system="Be brief.",
        messages=[
            {"role": "user", "content": "Hi"},
            {
                "role": "system",
                "content": [{"type": "text", "text": "# Environment", "cache_control": {"type": "ephemeral"}}],
            },
        ],
    )
    assert chat["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "system", "content": [{"type": "text", "text": "# Environment"}]},
    ]
    assert adjusted == ["cache_control=dropped"]


def test_server_tools_become_hosted_tools_and_their_past_work_is_dropped() -> None:
    """Anthropic's web search becomes the hosted `web_search` the call path maps (Gemini's Google Search)
    or drops; the blocks a server tool left in an earlier assistant turn were Claude's own work."""
    adjusted: list[str] = []
    request = decode_request(
        {
            "model": "m",
            "max_tokens": 10,
            "messages": [
                {"role": "user", "content": "News?"},
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "server_tool_use",
                            "id": "srvtoolu_1",
                            "name": "web_search",
                            "input": {"query": "news"},
                        },
                        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
                        {"type": "text", "text": "Nothing new."},
                    ],
                },
                {"role": "user", "content": "Thanks"},
            ],
            "tools": [
                {
                    "type": "web_search_20250305",
                    "name": "web_search",
                    "max_uses": 3,
                    "allowed_domains": ["a.test"],
                    "user_location": {"type": "approximate", "city": "Paris"},
                }
            ],
        },
        adjusted=adjusted,
    )
    assert request.tools == [
        Tool(
            "web_search",
            type="web_search",
            extra={
                "user_location": {"type": "approximate", "city": "Paris"},
                "filters": {"allowed_domains": ["a.test"]},
            },
        )
    ]
    assert request.messages[1] == ChatMessage("assistant", "Nothing new.")
    assert adjusted == ["messages[1].content[0]=dropped", "messages[1].content[1]=dropped"]


# The conversation's paths are made only where an error names one (translate_messages.py): each is still exact.
_CALL = {"type": "tool_use", "id": "t", "name": "f", "input": {}}


@pytest.mark.parametrize(
    ("role", "blocks", "key", "param"),
    [
        ("user", [{"type": "text", "text": "a"}, {"type": "text"}], "missing_field", "messages[1].content[1].text"),
        ("user", [{"type": "text", "text": 3}], "wrong_type", "messages[1].content[0].text"),
        ("user", [{"text": "a"}], "missing_field", "messages[1].content[0].type"),
        ("user", ["a"], "wrong_type", "messages[1].content[0]"),
        ("user", [{"type": "tool_result"}], "missing_field", "messages[1].content[0].tool_use_id"),
        (
            "user",
            [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "a"}, 5]}],
            "wrong_type",
            "messages[1].content[0].content[1]",
        ),
        (
            "user",
            [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": 1}]}],
            "wrong_type",
            "messages[1].content[0].content[0].text",
        ),
        (
            "user",
            [{"type": "tool_result", "tool_use_id": "t", "content": 7}],
            "wrong_type",
            "messages[1].content[0].content",
        ),
        (
            "user",
            [{"type": "tool_result", "tool_use_id": "t", "is_error": "no"}],
            "wrong_type",
            "messages[1].content[0].is_error",
        ),
        (
            "assistant",
            [{"type": "text", "text": "a"}, {**_CALL, "id": None}],
            "missing_field",
            "messages[1].content[1].id",
        ),
        ("assistant", [{**_CALL, "name": 4}], "wrong_type", "messages[1].content[0].name"),
        ("assistant", [{**_CALL, "input": "{}"}], "wrong_type", "messages[1].content[0].input"),
        ("assistant", [{"type": "thinking", "thinking": None}], "missing_field", "messages[1].content[0].thinking"),
        ("assistant", [{"type": "redacted_thinking"}], "missing_field", "messages[1].content[0].data"),
        ("assistant", [{"type": 3}], "wrong_type", "messages[1].content[0].type"),
    ],
)
def test_each_block_error_names_its_exact_path(role: str, blocks: list[Any], key: str, param: str) -> None:
    refused(key, param, messages=[*USER, {"role": role, "content": blocks}])


def test_a_tool_results_text_blocks_and_settings_read_as_before() -> None:
    content = [
        {"type": "text", "text": "one"},
        {"type": "text", "text": "two", "cache_control": {"type": "ephemeral"}},
    ]
    chat, adjusted = decode(
        messages=[
            *USER,
            {"role": "assistant", "content": [_CALL]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t", "content": content, "citations": {"enabled": True}}
                ],
            },
        ]
    )
    assert chat["messages"][-1] == {"role": "tool", "content": "one\ntwo", "tool_call_id": "t"}
    assert adjusted == ["citations=dropped", "cache_control=dropped"]
