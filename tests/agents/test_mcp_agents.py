"""Claude Code and Codex CLI using an MCP tool through the gateway's `/mcp`: each agent is
configured the way docs/mcp.md says (Claude Code's `--mcp-config` with the gateway's URL and a
virtual key in a header; Codex's `[mcp_servers]` table with a bearer-token variable). The scripted
model calls the gateway's `docs__echo` tool; the agent calls it through `/mcp`, the fake MCP server
answers, the agent sends the result back to the model, and the model's final answer quotes it. The
ledger keeps the call under the virtual key; a key that may not see the server gets no such tool."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.agents import brain as brain_module
from tests.agents.brain import FINAL_PREFIX, Brain, responder
from tests.agents.harness import GATEWAY_KEY, MODELS, run_claude_code, run_codex
from tests.agents.install import Agents
from tests.conftest import ANTHROPIC_KEY, GatewayFactory
from tests.fakes.mcp_servers import streamable_app, tool_server
from tests.fakes.scripted import ScriptedStreams
from tests.fakes.servers import LoopThread, RunningApp
from tests.integration.test_virtual_keys import ADMIN, MASTER

WORDS = "babelgate mcp"
# Claude Code offers MCP tools behind its tool search (a `ToolSearch` tool the model calls first); the
# scripted model calls the tool directly, so the tools are offered up front.
EAGER = {"ENABLE_TOOL_SEARCH": "false"}


@pytest.fixture(scope="module")
def docs_server(loop_thread: LoopThread) -> Iterator[RunningApp]:
    app = RunningApp(streamable_app(tool_server("docs")))
    loop_thread.run(app.start())
    yield app
    loop_thread.run(app.stop())


@pytest.fixture
def mcp_brain(monkeypatch: pytest.MonkeyPatch) -> Brain:
    """The brain, with the gateway's echo tool (as the agent names it) in place of the shell tool."""
    tools: dict[str, str] = {}

    def echo_tool(names: list[str]) -> str | None:
        found = next((name for name in names if name.endswith("docs__echo")), None)
        if found is not None:
            tools[found] = "text"
        return found

    monkeypatch.setattr(brain_module, "SHELL_TOOLS", tools)
    monkeypatch.setattr(brain_module, "_shell", echo_tool)
    return Brain(command=WORDS)


def _gateway(make_gateway: GatewayFactory, docs: RunningApp, tmp_path: Path, provider: ScriptedStreams | None) -> Any:
    env = {
        "BABELGATE_API_KEYS": GATEWAY_KEY,
        "BABELGATE_MASTER_KEY": MASTER,
        "BABELGATE_STORE_URL": f"sqlite:{tmp_path / 'agents.db'}",
    }
    if provider is not None:
        env |= {"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": provider.base_url}
    return make_gateway(f"mcp_servers:\n  - name: docs\n    url: {docs.url}/mcp\n", env=env)


def _key(gateway: RunningApp, mcp: list[str]) -> str:
    created = httpx.post(gateway.url + "/admin/keys", json={"mcp": mcp}, headers=ADMIN)
    assert created.status_code == 201, created.text
    return created.json()["key"]  # type: ignore[no-any-return]


def _claude_code(
    agents: Agents,
    make_gateway: GatewayFactory,
    fake: ScriptedStreams,
    docs: RunningApp,
    brain: Brain,
    tmp_path: Path,
    mcp: list[str],
) -> tuple[RunningApp, Any]:
    """Claude Code with the gateway's /mcp in its --mcp-config and a virtual key whose `mcp` is `mcp`."""
    fake.responder = responder(brain, "anthropic")
    gateway = _gateway(make_gateway, docs, tmp_path, fake)
    key = _key(gateway, mcp)
    server = {"type": "http", "url": gateway.url + "/mcp", "headers": {"Authorization": f"Bearer {key}"}}
    config = json.dumps({"mcpServers": {"gw": server}})
    return gateway, run_claude_code(
        agents.claude, gateway, MODELS["anthropic"], tmp_path, mcp_config=config, extra_env=EAGER
    )


def _offered(fake: ScriptedStreams) -> list[str]:
    """The tools the agent offered the model, every request's."""
    return [
        tool["name"]
        for request in fake.received  # type: ignore[attr-defined]
        if isinstance(request.json, dict)
        for tool in request.json.get("tools") or ()
        if isinstance(tool, dict) and "name" in tool
    ]


def _mcp_state(run: Any) -> str:
    """What Claude Code says of its MCP servers and tools at start (for a failure's message)."""
    for event in run.events:
        if event.get("type") == "system" and event.get("subtype") == "init":
            tools = [name for name in event.get("tools", []) if "mcp" in name.lower()]
            return f"MCP servers {event.get('mcp_servers')}, tools {tools}"
    return "no init event"


def _calls(gateway: RunningApp) -> dict[tuple[str, str], int]:
    deadline = time.monotonic() + 10
    while True:
        data = httpx.get(gateway.url + "/admin/usage?group_by=server,tool", headers=ADMIN).json()["data"]
        found = {(row["server"], row["tool"]): row["requests"] for row in data if row["server"]}
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_claude_code_calls_a_tool_through_the_gateway(
    agents: Agents,
    make_gateway: GatewayFactory,
    anthropic_upstream: ScriptedStreams,
    docs_server: RunningApp,
    mcp_brain: Brain,
    tmp_path: Path,
) -> None:
    gateway, run = _claude_code(agents, make_gateway, anthropic_upstream, docs_server, mcp_brain, tmp_path, ["docs"])
    assert run.returncode == 0, run.explain()
    offered = _offered(anthropic_upstream)
    assert (mcp_brain.calls, mcp_brain.answers) == (1, 1), f"{_mcp_state(run)}; offered {offered}\n{run.explain()}"
    final = run.final_text()
    # Claude Code hands the model the tool's structured result ({"result": "echo: …"}).
    assert final is not None and final.startswith(FINAL_PREFIX) and f"echo: {WORDS}" in final, run.explain()
    assert _calls(gateway) == {("docs", "echo"): 1}


def test_claude_code_with_a_key_that_may_not_see_the_server(
    agents: Agents,
    make_gateway: GatewayFactory,
    anthropic_upstream: ScriptedStreams,
    docs_server: RunningApp,
    mcp_brain: Brain,
    tmp_path: Path,
) -> None:
    """The key's `mcp` names another server: the agent is offered no docs tool, so the model never calls it."""
    gateway, run = _claude_code(
        agents, make_gateway, anthropic_upstream, docs_server, mcp_brain, tmp_path, ["elsewhere"]
    )
    assert run.returncode == 0, run.explain()
    offered = _offered(anthropic_upstream)
    assert offered and not any(name.endswith("docs__echo") for name in offered), run.explain()
    assert mcp_brain.calls == 0 and _calls(gateway) == {}


def test_codex_calls_a_tool_through_the_gateway(
    agents: Agents,
    make_gateway: GatewayFactory,
    upstream: ScriptedStreams,
    docs_server: RunningApp,
    mcp_brain: Brain,
    tmp_path: Path,
) -> None:
    upstream.responder = responder(mcp_brain, "openai")
    gateway = _gateway(make_gateway, docs_server, tmp_path, None)
    key = _key(gateway, ["docs/echo"])
    extra = f'[mcp_servers.gw]\nurl = "{gateway.url}/mcp"\nbearer_token_env_var = "GW_MCP_KEY"\n'
    run = run_codex(
        agents.codex, gateway, MODELS["openai"], tmp_path, extra_config=extra, extra_env={"GW_MCP_KEY": key}
    )
    assert run.returncode == 0, run.explain()
    assert (mcp_brain.calls, mcp_brain.answers) == (1, 1), run.explain()
    final = run.final_text()
    assert final is not None and final.startswith(FINAL_PREFIX) and f"echo: {WORDS}" in final, run.explain()
    assert _calls(gateway) == {("docs", "echo"): 1}
