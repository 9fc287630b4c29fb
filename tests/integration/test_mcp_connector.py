"""Anthropic's MCP connector (`mcp_servers`, beta `mcp-client-2025-04-04`) through the gateway, driven by
the official `anthropic` SDK: passed to Claude untouched, run by the gateway on Gemini, Mistral and
Bedrock (Nova), streamed and not, against a real MCP server (tests/fakes/mcp_server.py). Also: the
Responses `mcp` tool on Bedrock and on a server the operator configured, and the ledger's rows of a loop."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, MISTRAL_KEY, GatewayFactory
from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes import mistral_upstream as mis
from tests.fakes import openai_upstream as oai
from tests.fakes.aws_credentials import AwsKey
from tests.fakes.bedrock_upstream import FakeBedrock, converse_response, converse_text_events, converse_tool_events
from tests.fakes.mcp_server import URLS_ALLOWED, FakeMcp
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.scripted import Reply
from tests.fakes.servers import RunningApp
from tests.integration.responses_helpers import stream_raw, types

BETA = "mcp-client-2025-04-04"
GEMINI = "gemini-3-pro-preview"
MISTRAL = "mistral-small-latest"
CLAUDE = "claude-sonnet-4-6"
NOVA = "us.amazon.nova-pro-v1:0"
ACCESS_KEY = "AKIAFAKEBEDROCK0002"
SECRET_KEY = "fake/Secret+Key/For+Bedrock/mcp0123456789"
MASTER = "sk-master-mcp-tests-0123456789"


def servers(server: FakeMcp, **extra: Any) -> list[dict[str, Any]]:
    return [{"type": "url", "url": server.url, "name": "tools", "authorization_token": "tok-123", **extra}]


def _client(gateway: RunningApp) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0, timeout=20)


def _create(gateway: RunningApp, model: str, server: FakeMcp, **extra: Any) -> Any:
    with _client(gateway) as client:
        return client.beta.messages.create(
            model=model,
            max_tokens=256,
            messages=[{"role": "user", "content": "What is 2 + 3?"}],
            mcp_servers=servers(server),  # type: ignore[arg-type]
            betas=[BETA],
            **extra,
        )


def test_gemini_runs_the_connector(
    make_gateway: GatewayFactory, gemini_upstream: gem.FakeGemini, tools_server: FakeMcp
) -> None:
    gateway = make_gateway(
        URLS_ALLOWED, env={"GEMINI_API_KEY": GEMINI_KEY, "GEMINI_BASE_URL": gemini_upstream.base_url}
    )
    gemini_upstream.script(
        gem.Reply(json=gem.response([gem.function_call_part("tools__add", {"a": 2, "b": 3})])),
        gem.Reply(json=gem.response("It is 5.")),
    )
    message = _create(gateway, GEMINI, tools_server)
    assert [block.type for block in message.content] == ["mcp_tool_use", "mcp_tool_result", "text"]
    use, result, text = message.content
    assert (use.name, use.server_name, use.input) == ("add", "tools", {"a": 2, "b": 3})
    assert result.tool_use_id == use.id and result.is_error is False
    assert result.content[0].text == "5"
    assert text.text == "It is 5." and message.stop_reason == "end_turn"
    assert tools_server.calls == [("add", {"a": 2, "b": 3})]
    assert tools_server.authorizations == ["Bearer tok-123"]
    sent = [r.json for r in gemini_upstream.received if "generateContent" in r.path]
    assert len(sent) == 2
    declared = [d["name"] for tool in sent[0]["tools"] for d in tool.get("functionDeclarations", [])]
    assert {"tools__add", "tools__delete_file", "tools__fail", "tools__slow"} <= set(declared)


def test_mistral_streams_the_connector_with_allowed_tools(
    make_gateway: GatewayFactory, mistral_upstream: mis.FakeMistral, tools_server: FakeMcp
) -> None:
    gateway = make_gateway(
        URLS_ALLOWED, env={"MISTRAL_API_KEY": MISTRAL_KEY, "MISTRAL_BASE_URL": mistral_upstream.base_url}
    )
    mistral_upstream.script(
        mis.Reply(stream=mis.tool_call_stream([("abcDEF123", "tools__add", '{"a": 7, "b": 1}')])),
        mis.Reply(stream=mis.text_stream(["Eight", "."])),
    )
    with (
        _client(gateway) as client,
        client.beta.messages.stream(
            model=MISTRAL,
            max_tokens=256,
            messages=[{"role": "user", "content": "7 + 1?"}],
            mcp_servers=servers(tools_server, tool_configuration={"enabled": True, "allowed_tools": ["add"]}),  # type: ignore[arg-type]
            betas=[BETA],
        ) as stream,
    ):
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert "content_block_start" in kinds and kinds[-1] == "message_stop"
    assert [block.type for block in final.content] == ["mcp_tool_use", "mcp_tool_result", "text"]
    assert final.content[0].input == {"a": 7, "b": 1}
    assert final.content[1].content[0].text == "8"
    assert final.content[2].text == "Eight."
    first = next(r.json for r in mistral_upstream.received if "chat/completions" in r.path)
    assert [tool["function"]["name"] for tool in first["tools"]] == ["tools__add"]


def test_claude_gets_the_connector_natively(
    make_gateway: GatewayFactory, anthropic_upstream: ant.FakeAnthropic, tools_server: FakeMcp
) -> None:
    gateway = make_gateway(
        URLS_ALLOWED, env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url}
    )
    anthropic_upstream.script(
        ant.Reply(
            json=ant.message(
                [
                    {
                        "type": "mcp_tool_use",
                        "id": "mcptoolu_01",
                        "name": "add",
                        "server_name": "tools",
                        "input": {"a": 2, "b": 3},
                    },
                    {
                        "type": "mcp_tool_result",
                        "tool_use_id": "mcptoolu_01",
                        "is_error": False,
                        "content": [{"type": "text", "text": "5"}],
                    },
                    ant.text_block("5."),
                ]
            )
        )
    )
    message = _create(gateway, CLAUDE, tools_server)
    assert [block.type for block in message.content] == ["mcp_tool_use", "mcp_tool_result", "text"]
    request = anthropic_upstream.received[-1]
    assert request.json["mcp_servers"] == servers(tools_server)
    assert BETA in request.headers.get("anthropic-beta", "")
    assert tools_server.calls == [], "Anthropic runs the connector itself"


def test_an_unreachable_server_is_a_clear_400(make_gateway: GatewayFactory, gemini_upstream: gem.FakeGemini) -> None:
    gateway = make_gateway(
        URLS_ALLOWED, env={"GEMINI_API_KEY": GEMINI_KEY, "GEMINI_BASE_URL": gemini_upstream.base_url}
    )
    with _client(gateway) as client, pytest.raises(anthropic.BadRequestError) as caught:
        client.beta.messages.create(
            model=GEMINI,
            max_tokens=64,
            messages=[{"role": "user", "content": "Hi"}],
            mcp_servers=[{"type": "url", "url": "http://127.0.0.1:9/mcp", "name": "gone"}],
            betas=[BETA],
        )
    assert "gone" in str(caught.value) and caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert not [r for r in gemini_upstream.received if "generateContent" in r.path], "no model turn without the tools"


# -- a cloud: Bedrock --------------------------------------------------------------------------------


@pytest.fixture
def bedrock_gateway(make_gateway: GatewayFactory, bedrock_upstream: FakeBedrock) -> RunningApp:
    bedrock_upstream.iam[ACCESS_KEY] = AwsKey(SECRET_KEY)
    config = f"""
providers:
  aws:
    type: bedrock
    region: us-east-1
    base_url: {bedrock_upstream.base_url}
    aws_access_key_id: env:BEDROCK_KEY_ID
    aws_secret_access_key: env:BEDROCK_SECRET
models:
  nova:
    provider: aws
    model: {NOVA}
"""
    return make_gateway(config + URLS_ALLOWED, env={"BEDROCK_KEY_ID": ACCESS_KEY, "BEDROCK_SECRET": SECRET_KEY})


def test_bedrock_runs_the_connector(
    bedrock_gateway: RunningApp, bedrock_upstream: FakeBedrock, tools_server: FakeMcp
) -> None:
    bedrock_upstream.script(
        Reply(
            json=converse_response(
                [{"toolUse": {"toolUseId": "tooluse_1", "name": "tools__add", "input": {"a": 2, "b": 3}}}]
            )
        ),
        Reply(json=converse_response("Five.")),
    )
    message = _create(bedrock_gateway, "nova", tools_server)
    assert [block.type for block in message.content] == ["mcp_tool_use", "mcp_tool_result", "text"]
    assert message.content[1].content[0].text == "5"


def test_bedrock_streams_the_responses_mcp_tool(
    bedrock_gateway: RunningApp, bedrock_upstream: FakeBedrock, tools_server: FakeMcp
) -> None:
    bedrock_upstream.script(
        Reply(stream=converse_tool_events([("tooluse_1", "tools__add", ['{"a": 1,', ' "b": 1}'])])),
        Reply(stream=converse_text_events(["Two."])),
    )
    tool = {"type": "mcp", "server_label": "tools", "server_url": tools_server.url, "require_approval": "never"}
    events = stream_raw(bedrock_gateway.url, {"model": "nova", "input": "1 + 1?", "tools": [tool]})
    assert "response.mcp_call.completed" in types(events)
    final = events[-1]["response"]
    assert [item["type"] for item in final["output"]] == ["mcp_list_tools", "mcp_call", "message"]
    assert final["output"][1]["output"] == "2" and final["status"] == "completed"


# -- a configured server, and the ledger -------------------------------------------------------------


def test_a_configured_server_by_name_and_the_ledger_rows(
    make_gateway: GatewayFactory, anthropic_upstream: ant.FakeAnthropic, tools_server: FakeMcp, tmp_path: Path
) -> None:
    config = f"mcp_servers:\n  - name: tools\n    url: {tools_server.url}\nledger: {{content: true}}\n"
    gateway = make_gateway(
        config,
        env={
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "ANTHROPIC_BASE_URL": anthropic_upstream.base_url,
            "BABELGATE_MASTER_KEY": MASTER,
            "BABELGATE_STORE_URL": f"sqlite:{tmp_path / 'ledger.db'}",
        },
    )
    anthropic_upstream.script(
        ant.Reply(json=ant.message([ant.tool_use_block("toolu_01", "tools__add", {"a": 20, "b": 22})])),
        ant.Reply(json=ant.message("42", usage=ant.usage(40, 2))),
    )
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=MASTER, max_retries=0, timeout=20) as client:
        raw = client.responses.with_raw_response.create(
            model=CLAUDE,
            input="20 + 22?",
            tools=[{"type": "mcp", "server_label": "tools", "require_approval": "never"}],  # type: ignore[list-item]
        )
    response = raw.parse()
    assert response.output_text == "42" and response.output[1].type == "mcp_call"
    assert tools_server.calls == [("add", {"a": 20, "b": 22})]
    request_id = raw.headers["x-request-id"]
    # The admin API's usage query writes what the ledger holds before it reads.
    usage = httpx.get(gateway.url + "/admin/usage?group_by=server,tool", headers={"Authorization": f"Bearer {MASTER}"})
    assert usage.status_code == 200, usage.text
    database = sqlite3.connect(tmp_path / "ledger.db")
    database.row_factory = sqlite3.Row
    query = "SELECT * FROM babelgate_ledger WHERE request_id = ?"
    rows = [dict(row) for row in database.execute(query, (request_id,))]
    database.close()
    routes = sorted(row["route"] for row in rows)
    assert routes == ["mcp.tool_call", "responses.create", "responses.create.turn", "responses.create.turn"], routes
    call = next(row for row in rows if row["route"] == "mcp.tool_call")
    assert (call["server"], call["tool"], call["status"]) == ("tools", "add", 200)
    assert call["bytes_out"] == 2
    assert json.loads(call["content"]) == {"arguments": '{"a":20,"b":22}', "result": "42"}  # `ledger.content`
    assert all(row["content"] is None for row in rows if row["route"] != "mcp.tool_call")
    main = next(row for row in rows if row["route"] == "responses.create")
    assert main["prompt_tokens"] >= 40, "the request's row counts every turn's tokens"
    assert all(row["prompt_tokens"] in (0, None) for row in rows if row["route"].endswith(".turn"))


def test_an_openai_model_runs_the_connector_streamed(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, tools_server: FakeMcp
) -> None:
    gateway = make_gateway(URLS_ALLOWED)
    upstream.script(
        Reply(stream=oai.tool_call_stream([("call_1", "tools__add", ['{"a": 5,', ' "b": 5}'])])),
        Reply(stream=oai.text_stream(["Ten."])),
    )
    with (
        _client(gateway) as client,
        client.beta.messages.stream(
            model="gpt-4o-mini",
            max_tokens=64,
            messages=[{"role": "user", "content": "5 + 5?"}],
            mcp_servers=servers(tools_server),  # type: ignore[arg-type]
            betas=[BETA],
        ) as stream,
    ):
        final = stream.get_final_message()
    assert [block.type for block in final.content] == ["mcp_tool_use", "mcp_tool_result", "text"]
    assert final.content[1].content[0].text == "10" and final.content[2].text == "Ten."
    second = [r.json for r in upstream.received if r.path.endswith("/chat/completions")][-1]
    assert second["messages"][-1] == {"role": "tool", "tool_call_id": "call_1", "content": "10"}
