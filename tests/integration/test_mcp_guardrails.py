"""Guardrails on tool calls through `/mcp`, with the official MCP client: a call's arguments are checked before
the tool server sees them (masked or blocked), its result before the client reads it; a reversible mask hides a
value from the server and gives it back to the client; the server's, the team's and the key's guardrails apply;
each decision is in the call's ledger row and the metrics."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer

from tests.conftest import GatewayFactory
from tests.fakes.mcp_servers import streamable_app
from tests.fakes.servers import LoopThread, RunningApp
from tests.integration.test_virtual_keys import MASTER, _create
from tests.waiting import eventually

EMAIL = "ada@example.com"
CARD = "4111 1111 1111 1111"  # a Visa test number: Luhn-valid


class Notes:
    """A tool server that keeps what each call was sent and answers what it was told to."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.server: MCPServer[Any] = MCPServer("notes")

        @self.server.tool()
        def save(text: str) -> str:
            """Saves a note and says it back."""
            self.received.append(text)
            return f"saved: {text}"

        @self.server.tool()
        def leak() -> str:
            """Answers with a card number."""
            return f"the card is {CARD}"


@pytest.fixture
def notes(loop_thread: LoopThread) -> Iterator[tuple[Notes, RunningApp]]:
    made = Notes()
    app = RunningApp(streamable_app(made.server))
    loop_thread.run(app.start())
    yield made, app
    loop_thread.run(app.stop())


def config(url: str) -> str:
    return f"""
mcp_servers:
  - name: notes
    url: {url}/mcp
guardrails:
  - {{name: emails, kind: pii, entities: [email], action: mask, mask_style: reversible, stage: input}}
  - {{name: cards, kind: pii, entities: [credit_card], action: block, stage: output}}
  - {{name: codename, kind: words, words: [bluebird], action: block, stage: input}}
server:
  guardrails: [emails, cards]
"""


def call(url: str, key: str, tool: str, arguments: dict[str, Any]) -> Any:
    async def go() -> Any:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30)
        async with http, Client(streamable_http_client(url + "/mcp", http_client=http)) as client:
            return await client.call_tool(tool, arguments)

    return asyncio.run(asyncio.wait_for(go(), 60))


def test_arguments_are_masked_for_the_server_and_given_back_in_the_result(
    make_gateway: GatewayFactory, notes: tuple[Notes, RunningApp]
) -> None:
    server, app = notes
    gateway = make_gateway(config(app.url), env={"BABELGATE_MASTER_KEY": MASTER})
    key = _create(gateway, mcp=["notes"])["key"]
    result = call(gateway.url, key, "notes__save", {"text": f"write to {EMAIL}"})
    assert not result.is_error
    assert server.received == ["write to <EMAIL_1>"]  # the tool server never saw the address
    assert result.content[0].text == f"saved: write to {EMAIL}"  # the client gets it back


def test_a_blocked_argument_never_reaches_the_server_and_a_blocked_result_never_reaches_the_client(
    make_gateway: GatewayFactory, notes: tuple[Notes, RunningApp], loop_thread: LoopThread
) -> None:
    server, app = notes
    gateway = make_gateway(config(app.url), env={"BABELGATE_MASTER_KEY": MASTER})
    guarded = _create(gateway, guardrails=["codename"], mcp=["notes"])["key"]
    plain = _create(gateway, mcp=["notes"])["key"]

    blocked = call(gateway.url, guarded, "notes__save", {"text": "Project bluebird ships."})
    assert blocked.is_error and "codename" in blocked.content[0].text
    assert server.received == []
    allowed = call(gateway.url, plain, "notes__save", {"text": "Project bluebird ships."})  # not this key's
    assert not allowed.is_error and server.received == ["Project bluebird ships."]

    leaked = call(gateway.url, plain, "notes__leak", {})
    assert leaked.is_error and "cards" in leaked.content[0].text
    assert CARD not in str(leaked.model_dump())

    with httpx.Client(base_url=gateway.url, headers={"authorization": f"Bearer {plain}"}, timeout=30) as reader:
        metrics = reader.get("/metrics").text
    assert 'babelgate_guardrail_decisions_total{action="block",name="cards",stage="output"} 1.0' in metrics
    assert 'babelgate_guardrail_decisions_total{action="block",name="codename",stage="input"} 1.0' in metrics
    store = gateway.app.runtime.response_store

    def rows() -> list[dict[str, Any]]:
        found = loop_thread.run(store.usage(0, time.time() + 60))
        return [row for row in found if row["route"] == "mcp.tools/call"]

    assert eventually(lambda: len(rows()) == 3)
    decided = {(row["tool"], row["status"], row["error_code"]): json.loads(row["guardrails"]) for row in rows()}
    assert decided[("leak", 400, "guardrail_blocked")]["cards"] == "block"
    assert decided[("save", 400, "guardrail_blocked")]["codename"] == "block"
    assert decided[("save", 200, None)] == {"emails": "allow", "cards": "allow"}
