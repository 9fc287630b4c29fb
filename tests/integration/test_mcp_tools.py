"""MCP tools inside model requests: the Responses `mcp` tool on providers that do not run
MCP themselves. The gateway lists the tools of a real MCP server (the SDK's, tests/fakes/mcp_server.py),
offers them to the model, calls them when the scripted upstream asks, feeds the result back and answers
with OpenAI's items and events; the caller is the official `openai` SDK, the native OpenAI road passes
the tool through untouched."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, MISTRAL_KEY, GatewayFactory
from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes import mistral_upstream as mis
from tests.fakes.mcp_server import SERVER_URLS, URLS_ALLOWED, FakeMcp
from tests.fakes.openai_upstream import FakeOpenAI, Reply
from tests.fakes.servers import RunningApp
from tests.integration.responses_helpers import accepted, stream_raw, types
from tests.responses_spec import event_violations, response_violations

CLAUDE = "claude-sonnet-4-6"
GEMINI = "gemini-3-pro-preview"
MISTRAL = "mistral-small-latest"


def mcp_tool(server: FakeMcp, **extra: Any) -> dict[str, Any]:
    return {"type": "mcp", "server_label": "tools", "server_url": server.url, "require_approval": "never", **extra}


@pytest.fixture
def claude_gateway(make_gateway: GatewayFactory, anthropic_upstream: ant.FakeAnthropic) -> RunningApp:
    return make_gateway(
        URLS_ALLOWED, env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url}
    )


@pytest.fixture
def gemini_gateway(make_gateway: GatewayFactory, gemini_upstream: gem.FakeGemini) -> RunningApp:
    return make_gateway(URLS_ALLOWED, env={"GEMINI_API_KEY": GEMINI_KEY, "GEMINI_BASE_URL": gemini_upstream.base_url})


@pytest.fixture
def mistral_gateway(make_gateway: GatewayFactory, mistral_upstream: mis.FakeMistral) -> RunningApp:
    return make_gateway(
        URLS_ALLOWED, env={"MISTRAL_API_KEY": MISTRAL_KEY, "MISTRAL_BASE_URL": mistral_upstream.base_url}
    )


_CLIENTS: list[openai.OpenAI] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


def _client(gateway: RunningApp) -> openai.OpenAI:
    """The official client on the gateway (closed after the test)."""
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=20)
    _CLIENTS.append(client)
    return client


def openai_violations(violations: list[str]) -> list[str]:
    """What OpenAI's spec says of an answer; Open Responses has no MCP items or events at all."""
    return [v for v in accepted(violations) if not v.startswith("ORS")]


def _sent(fake: Any, path_part: str) -> list[dict[str, Any]]:
    return [r.json for r in fake.received if path_part in r.path]


# -- the loop, not streamed ----------------------------------------------------------------------


def test_claude_calls_an_mcp_tool_and_answers(
    claude_gateway: RunningApp, anthropic_upstream: ant.FakeAnthropic, tools_server: FakeMcp
) -> None:
    anthropic_upstream.script(
        ant.Reply(json=ant.message([ant.tool_use_block("toolu_01", "tools__add", {"a": 2, "b": 3})])),
        ant.Reply(json=ant.message("2 + 3 = 5", usage=ant.usage(30, 6))),
    )
    client = _client(claude_gateway)
    response = client.responses.create(
        model=CLAUDE,
        input="What is 2 + 3?",
        tools=[mcp_tool(tools_server, allowed_tools=["add", "fail"], authorization="sekrit-token")],  # type: ignore[list-item]
    )
    assert [item.type for item in response.output] == ["mcp_list_tools", "mcp_call", "message"]
    assert openai_violations(response_violations(response.model_dump(mode="json", exclude_unset=True))) == []
    listing, call = response.output[0], response.output[1]
    assert listing.type == "mcp_list_tools" and sorted(tool.name for tool in listing.tools) == ["add", "fail"]
    assert call.type == "mcp_call" and call.name == "add" and call.server_label == "tools"
    assert call.output == "5" and call.error is None
    assert response.output_text == "2 + 3 = 5" and response.status == "completed"
    assert tools_server.calls == [("add", {"a": 2, "b": 3})]
    assert tools_server.authorizations == ["Bearer sekrit-token"]
    first, second = _sent(anthropic_upstream, "/v1/messages")
    assert sorted(tool["name"] for tool in first["tools"]) == ["tools__add", "tools__fail"]
    result = second["messages"][-1]["content"][0]
    assert result["type"] == "tool_result" and result["tool_use_id"] == "toolu_01"
    assert "5" in str(result["content"])
    # usage of both turns
    assert response.usage is not None and response.usage.input_tokens >= 30


def test_a_failing_tool_is_reported_and_the_model_still_answers(
    mistral_gateway: RunningApp, mistral_upstream: mis.FakeMistral, tools_server: FakeMcp
) -> None:
    mistral_upstream.script(
        mis.Reply(json=mis.completion(None, tool_calls=[mis.tool_call("abcDEF123", "tools__fail", "{}")])),
        mis.Reply(json=mis.completion("The tool failed.")),
    )
    response = _client(mistral_gateway).responses.create(
        model=MISTRAL,
        input="Blow up",
        tools=[mcp_tool(tools_server)],  # type: ignore[list-item]
    )
    call = response.output[1]
    assert call.type == "mcp_call" and call.status == "failed" and call.error is not None
    assert response.output_text == "The tool failed."
    last = _sent(mistral_upstream, "/chat/completions")[-1]["messages"][-1]
    assert last["role"] == "tool" and "Error executing tool fail" in str(last["content"])


def test_a_slow_tool_times_out_and_the_loop_bound_ends_incomplete(
    make_gateway: GatewayFactory, anthropic_upstream: ant.FakeAnthropic, tools_server: FakeMcp
) -> None:
    gateway = make_gateway(
        "tool_loop:\n  call_timeout: 0.5\n  max_calls: 1\n" + SERVER_URLS,
        env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url},
    )
    anthropic_upstream.script(
        ant.Reply(json=ant.message([ant.tool_use_block("toolu_01", "tools__slow", {"seconds": 3})])),
        ant.Reply(json=ant.message([ant.tool_use_block("toolu_02", "tools__add", {"a": 1, "b": 1})])),
    )
    response = _client(gateway).responses.create(
        model=CLAUDE,
        input="Sleep",
        tools=[mcp_tool(tools_server)],  # type: ignore[list-item]
    )
    call = response.output[1]
    assert call.type == "mcp_call" and call.status == "failed"
    assert call.error is not None and "longer than 0.5" in str(call.error)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == "max_tool_calls"
    assert [c[0] for c in tools_server.calls] == ["slow"], "the second call passes the bound and is not run"


def test_a_server_that_speaks_only_sse_is_reached_by_the_fallback(
    mistral_gateway: RunningApp, mistral_upstream: mis.FakeMistral, tools_server: FakeMcp
) -> None:
    mistral_upstream.script(
        mis.Reply(json=mis.completion(None, tool_calls=[mis.tool_call("abcDEF123", "old__add", '{"a": 3, "b": 4}')])),
        mis.Reply(json=mis.completion("Seven.")),
    )
    tool = {"type": "mcp", "server_label": "old", "server_url": tools_server.sse_url, "require_approval": "never"}
    response = _client(mistral_gateway).responses.create(model=MISTRAL, input="3 + 4?", tools=[tool])  # type: ignore[list-item]
    assert [item.type for item in response.output] == ["mcp_list_tools", "mcp_call", "message"]
    assert response.output[1].output == "7" and tools_server.calls == [("add", {"a": 3, "b": 4})]


# -- streamed --------------------------------------------------------------------------------------


def test_gemini_streams_the_mcp_events(
    gemini_gateway: RunningApp, gemini_upstream: gem.FakeGemini, tools_server: FakeMcp
) -> None:
    gemini_upstream.script(
        gem.Reply(stream=gem.function_call_chunks([("tools__add", {"a": 4, "b": 5}, None, None)])),
        gem.Reply(stream=gem.text_chunks(["It is ", "9."])),
    )
    events = stream_raw(gemini_gateway.url, {"model": GEMINI, "input": "4 + 5?", "tools": [mcp_tool(tools_server)]})
    kinds = types(events)
    assert kinds[:7] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.mcp_list_tools.in_progress",
        "response.mcp_list_tools.completed",
        "response.output_item.done",
        "response.output_item.added",
    ]
    for expected in (
        "response.mcp_call.in_progress",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.completed",
        "response.output_text.delta",
        "response.completed",
    ):
        assert expected in kinds
    assert "response.function_call_arguments.delta" not in kinds, "MCP calls are not shown as function calls"
    assert [v for event in events for v in openai_violations(event_violations(event))] == []
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    final = events[-1]["response"]
    assert [item["type"] for item in final["output"]] == ["mcp_list_tools", "mcp_call", "message"]
    assert final["output"][1]["output"] == "9"
    assert tools_server.calls == [("add", {"a": 4, "b": 5})]
    assert final["usage"]["input_tokens"] == 18, "both turns' usage (9 prompt tokens each)"


def test_the_sdk_reads_the_stream(
    claude_gateway: RunningApp, anthropic_upstream: ant.FakeAnthropic, tools_server: FakeMcp
) -> None:
    anthropic_upstream.script(
        ant.Reply(stream=ant.tool_events([("toolu_01", "tools__add", ['{"a": 1,', ' "b": 2}'])])),
        ant.Reply(stream=ant.text_events(["Three", "."])),
    )
    client = _client(claude_gateway)
    with client.responses.stream(
        model=CLAUDE,
        input="1 + 2?",
        tools=[mcp_tool(tools_server)],  # type: ignore[list-item]
    ) as stream:
        seen = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.mcp_call.completed" in seen
    assert final.output_text == "Three."
    assert [item.type for item in final.output] == ["mcp_list_tools", "mcp_call", "message"]


# -- approvals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True])
def test_an_approval_round_trip(
    mistral_gateway: RunningApp, mistral_upstream: mis.FakeMistral, tools_server: FakeMcp, streamed: bool
) -> None:
    tool = mcp_tool(tools_server, require_approval={"always": {"tool_names": ["delete_file"]}})
    mistral_upstream.script(
        mis.Reply(
            json=mis.completion(None, tool_calls=[mis.tool_call("abcDEF123", "tools__delete_file", {"path": "/tmp/x"})])
        ),
    )
    client = _client(mistral_gateway)
    first = client.responses.create(model=MISTRAL, input="Delete /tmp/x", tools=[tool])  # type: ignore[list-item]
    assert [item.type for item in first.output] == ["mcp_list_tools", "mcp_approval_request"]
    assert openai_violations(response_violations(first.model_dump(mode="json", exclude_unset=True))) == []
    request = first.output[1]
    assert request.type == "mcp_approval_request" and request.name == "delete_file"
    assert tools_server.calls == [], "nothing runs before the client approves"
    mistral_upstream.script(
        mis.Reply(stream=mis.text_stream(["Deleted."])) if streamed else mis.Reply(json=mis.completion("Deleted."))
    )
    follow_up = {
        "model": MISTRAL,
        "previous_response_id": first.id,
        "tools": [tool],
        "input": [{"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}],
    }
    if streamed:
        events = stream_raw(mistral_gateway.url, follow_up)
        second = events[-1]["response"]
        assert "response.mcp_call.completed" in types(events)
        assert [v for event in events for v in openai_violations(event_violations(event))] == []
    else:
        second = client.responses.create(**follow_up).model_dump()  # type: ignore[call-overload]
    assert [item["type"] for item in second["output"]] == ["mcp_call", "message"]
    assert second["output"][0]["approval_request_id"] == request.id
    assert second["output"][0]["output"] == "deleted /tmp/x"
    assert tools_server.calls == [("delete_file", {"path": "/tmp/x"})]
    sent = _sent(mistral_upstream, "/chat/completions")[-1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert "tools" in _sent(mistral_upstream, "/chat/completions")[-1]


# -- the native road -------------------------------------------------------------------------------


def test_the_native_openai_road_passes_the_mcp_tool_through(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, tools_server: FakeMcp
) -> None:
    gateway = make_gateway(
        "models:\n  gpt-native:\n    provider: openai\n    model: gpt-5\n    native_responses: true\n"
    )
    tool = mcp_tool(tools_server)
    call = {
        "id": "mcp_upstream",
        "type": "mcp_call",
        "server_label": "tools",
        "name": "add",
        "arguments": '{"a":1,"b":2}',
        "output": "3",
        "error": None,
        "status": "completed",
    }
    upstream.script(Reply(json=_openai_resource([call], [tool])))
    answer = _client(gateway).responses.create(model="gpt-native", input="Hi", tools=[tool])  # type: ignore[list-item]
    assert answer.id == "resp_upstream" and answer.output[0].type == "mcp_call"
    sent = [r.json for r in upstream.received if r.path.endswith("/responses")][-1]
    assert sent["tools"] == [tool]
    assert tools_server.calls == [], "OpenAI runs the tool itself"


def _openai_resource(output: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "resp_upstream",
        "object": "response",
        "created_at": 1,
        "status": "completed",
        "model": "gpt-5",
        "output": output,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "parallel_tool_calls": True,
        "temperature": 1.0,
        "tool_choice": "auto",
        "tools": tools,
        "top_p": 1.0,
        "usage": {
            "input_tokens": 5,
            "output_tokens": 2,
            "total_tokens": 7,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def test_credentials_are_not_echoed_and_urls_are_off_by_default(
    make_gateway: GatewayFactory, anthropic_upstream: ant.FakeAnthropic, tools_server: FakeMcp
) -> None:
    env = {"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url}
    anthropic_upstream.script(ant.Reply(json=ant.message("Hi.")))
    tool = mcp_tool(tools_server, authorization="sekrit-token", headers={"X-Api-Key": "another-secret"})
    raw = _client(make_gateway(URLS_ALLOWED, env=env)).responses.with_raw_response.create(
        model=CLAUDE, input="Hi", tools=[tool]
    )  # type: ignore[list-item]
    assert "sekrit-token" not in raw.http_response.text and "another-secret" not in raw.http_response.text
    assert raw.parse().tools[0].type == "mcp"
    closed = make_gateway(env=env)  # the default: configured servers only
    with pytest.raises(openai.BadRequestError) as caught:
        _client(closed).responses.create(model=CLAUDE, input="Hi", tools=[tool])  # type: ignore[list-item]
    assert caught.value.body["param"] == "tools[0].server_url"  # type: ignore[index]
    assert tools_server.calls == []
