"""A key's MCP scope holds on every road to an MCP server: `/mcp`, the Responses `mcp` tool by label and
by URL, Anthropic's Messages connector (`mcp_servers`) by name and by URL, and the calls of the gateway's
own tool loop (the model is Gemini, so the gateway runs the loop). A URL that is a configured server's
URL is that server. Two configured servers, `local` and `web`; the key may use `local` only: every road
reaches `local` and runs its tool, and every road is refused `web` with a 403 in the frontend's own
format, naming `web`, before `web` hears a single request. The clients are the official ones."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import mcp.types as types
import openai
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import GEMINI_KEY, GatewayFactory
from tests.fakes import gemini_upstream as gem
from tests.fakes.mcp_server import SERVER_URLS, FakeMcp
from tests.fakes.servers import LoopThread, RunningApp
from tests.integration.test_virtual_keys import ADMIN, MASTER
from tests.ssrf_cases import REFUSED_URLS

GEMINI = "gemini-3-pro-preview"
BETA = "mcp-client-2025-04-04"
ALIAS = "mine"  # the label a request gives a server it names by URL


@pytest.fixture(scope="module")
def fakes(loop_thread: LoopThread) -> Iterator[dict[str, FakeMcp]]:
    """Three MCP servers: `local` and `web` configured, `own` a server of the requests' own."""
    started = {name: FakeMcp() for name in ("local", "web", "own")}
    for fake in started.values():
        loop_thread.run(fake.start())
    yield started
    for fake in started.values():
        loop_thread.run(fake.stop())


@pytest.fixture
def servers(fakes: dict[str, FakeMcp]) -> dict[str, FakeMcp]:
    for fake in fakes.values():
        fake.calls.clear()
        fake.requests = 0
    return fakes


def _gateway(
    make_gateway: GatewayFactory, fakes: dict[str, FakeMcp], gemini: gem.FakeGemini, tmp: Path, extra: str = ""
) -> RunningApp:
    config = (
        f"mcp_servers:\n  - name: local\n    url: {fakes['local'].url}\n  - name: web\n    url: {fakes['web'].url}\n"
    )
    env = {
        "GEMINI_API_KEY": GEMINI_KEY,
        "GEMINI_BASE_URL": gemini.base_url,
        "BABELGATE_MASTER_KEY": MASTER,
        "BABELGATE_STORE_URL": f"sqlite:{tmp / 'keys.db'}",
    }
    return make_gateway(config + extra, env=env)


def _key(gateway: RunningApp, **fields: Any) -> str:
    response = httpx.post(gateway.url + "/admin/keys", json=fields, headers=ADMIN, timeout=10)
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


# -- the roads: each asks `server`'s `echo` tool to say "hi", through the gateway, as `key` --------------


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str


def _script(gemini: gem.FakeGemini, label: str) -> None:
    """Gemini asks for `<label>__echo` once, then answers: the gateway's tool loop makes the call."""
    gemini.script(
        gem.Reply(json=gem.response([gem.function_call_part(f"{label}__echo", {"text": "hi"})])),
        gem.Reply(json=gem.response("done")),
    )


def _openai(gateway: RunningApp, key: str, tool: dict[str, Any]) -> Refusal | None:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=20) as client:
        try:
            client.responses.create(model=GEMINI, input="Say hi", tools=[tool])  # type: ignore[list-item]
        except openai.APIStatusError as error:
            return Refusal(error.status_code, str(error.body))
    return None


def _anthropic(gateway: RunningApp, key: str, entry: dict[str, Any]) -> Refusal | None:
    with anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0, timeout=20) as client:
        return _connector(client, entry)


def _connector(client: anthropic.Anthropic, entry: dict[str, Any]) -> Refusal | None:
    try:
        client.beta.messages.create(
            model=GEMINI,
            max_tokens=64,
            messages=[{"role": "user", "content": "Say hi"}],
            mcp_servers=[entry],  # type: ignore[list-item]
            betas=[BETA],
        )
    except anthropic.APIStatusError as error:
        assert error.body["type"] == "error"  # type: ignore[index]  # Anthropic's own error shape
        return Refusal(error.status_code, str(error.body))
    return None


def mcp_endpoint(
    gateway: RunningApp, key: str, server: str, fakes: dict[str, FakeMcp], gemini: gem.FakeGemini
) -> Refusal | None:
    async def call() -> Refusal | None:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=httpx2.Timeout(20))
        async with http, Client(streamable_http_client(gateway.url + "/mcp", http_client=http)) as client:
            try:
                result = await client.call_tool(f"{server}__echo", {"text": "hi"})
            except MCPError as error:
                return Refusal(403, str(error))
            assert [block.text for block in result.content if isinstance(block, types.TextContent)] == ["echo: hi"]
            return None

    return asyncio.run(call())


def responses_by_label(
    gateway: RunningApp, key: str, server: str, fakes: dict[str, FakeMcp], gemini: gem.FakeGemini
) -> Refusal | None:
    _script(gemini, server)
    return _openai(gateway, key, {"type": "mcp", "server_label": server, "require_approval": "never"})


def responses_by_url(
    gateway: RunningApp, key: str, server: str, fakes: dict[str, FakeMcp], gemini: gem.FakeGemini
) -> Refusal | None:
    _script(gemini, ALIAS)
    tool = {"type": "mcp", "server_label": ALIAS, "server_url": fakes[server].url, "require_approval": "never"}
    return _openai(gateway, key, tool)


def responses_by_url_spelled_otherwise(
    gateway: RunningApp, key: str, server: str, fakes: dict[str, FakeMcp], gemini: gem.FakeGemini
) -> Refusal | None:
    """The same server with a trailing `/` and a query: still that server."""
    _script(gemini, ALIAS)
    url = fakes[server].url + "/?via=another-spelling"
    return _openai(gateway, key, {"type": "mcp", "server_label": ALIAS, "server_url": url, "require_approval": "never"})


def messages_by_name(
    gateway: RunningApp, key: str, server: str, fakes: dict[str, FakeMcp], gemini: gem.FakeGemini
) -> Refusal | None:
    _script(gemini, server)
    return _anthropic(gateway, key, {"type": "url", "name": server})


def messages_by_url(
    gateway: RunningApp, key: str, server: str, fakes: dict[str, FakeMcp], gemini: gem.FakeGemini
) -> Refusal | None:
    _script(gemini, ALIAS)
    return _anthropic(gateway, key, {"type": "url", "name": ALIAS, "url": fakes[server].url})


Road = Callable[[RunningApp, str, str, dict[str, FakeMcp], gem.FakeGemini], Refusal | None]
ROADS: list[Road] = [
    mcp_endpoint,
    responses_by_label,
    responses_by_url,
    responses_by_url_spelled_otherwise,
    messages_by_name,
    messages_by_url,
]


@pytest.mark.parametrize("road", ROADS, ids=[road.__name__ for road in ROADS])
@pytest.mark.parametrize(("server", "allowed"), [("local", True), ("web", False)])
def test_a_keys_mcp_scope_holds_on_every_road(
    make_gateway: GatewayFactory,
    gemini_upstream: gem.FakeGemini,
    servers: dict[str, FakeMcp],
    tmp_path: Path,
    road: Road,
    server: str,
    allowed: bool,
) -> None:
    gateway = _gateway(make_gateway, servers, gemini_upstream, tmp_path)
    key = _key(gateway, mcp=["local"])
    refusal = road(gateway, key, server, servers, gemini_upstream)
    if allowed:
        assert refusal is None
        assert servers["local"].calls == [("echo", {"text": "hi"})]  # the call ran, on `local`
    else:
        assert refusal is not None and refusal.status == 403, refusal
        assert "'web'" in refusal.message or "web__echo" in refusal.message, refusal.message
        assert servers["web"].requests == 0  # never contacted, not even to list its tools
        assert servers["local"].calls == []
    assert servers["own"].requests == 0


def test_the_tool_loop_offers_and_calls_only_the_tools_the_key_may_use(
    make_gateway: GatewayFactory, gemini_upstream: gem.FakeGemini, servers: dict[str, FakeMcp], tmp_path: Path
) -> None:
    gateway = _gateway(make_gateway, servers, gemini_upstream, tmp_path)
    key = _key(gateway, mcp=["local/add"])
    _script(gemini_upstream, "local")  # the model asks for `local__echo`, which the key may not call
    assert _openai(gateway, key, {"type": "mcp", "server_label": "local", "require_approval": "never"}) is None
    turns = [r.json for r in gemini_upstream.received if "generateContent" in r.path]
    offered = [declaration["name"] for tool in turns[0]["tools"] for declaration in tool["functionDeclarations"]]
    assert offered == ["local__add"]
    assert servers["local"].calls == []


# -- URLs of a request's own ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "urls_on", "allowed"),
    [
        ("no mcp field", True, False),
        ("configured servers only", True, False),
        ("a URL entry that covers it", True, True),
        ("a URL entry for another host", True, False),
        ("a URL entry, a team that lists none", True, False),
        ("a URL entry", False, False),  # the operator's switch is off (the default)
        ("the master key", True, True),
        ("the master key", False, False),
    ],
)
def test_a_url_of_the_requests_own(
    make_gateway: GatewayFactory,
    gemini_upstream: gem.FakeGemini,
    servers: dict[str, FakeMcp],
    tmp_path: Path,
    who: str,
    urls_on: bool,
    allowed: bool,
) -> None:
    own = servers["own"]
    extra = ("tool_loop:\n" + SERVER_URLS if urls_on else "") + "teams:\n  closed:\n    mcp: [local]\n"
    gateway = _gateway(make_gateway, servers, gemini_upstream, tmp_path, extra)
    covering = own.url.rsplit("/", 1)[0] + "/"  # http://127.0.0.1:<port>/
    key = {
        "no mcp field": lambda: _key(gateway),
        "configured servers only": lambda: _key(gateway, mcp=["local", "web", "*"]),
        "a URL entry that covers it": lambda: _key(gateway, mcp=[covering]),
        "a URL entry for another host": lambda: _key(gateway, mcp=["http://mcp.example.com/"]),
        "a URL entry, a team that lists none": lambda: _key(gateway, mcp=[covering], team="closed"),
        "a URL entry": lambda: _key(gateway, mcp=[covering]),
        "the master key": lambda: MASTER,
    }[who]()
    for road in (responses_by_url, messages_by_url):
        refusal = road(gateway, key, "own", servers, gemini_upstream)
        if allowed:
            assert refusal is None
        elif urls_on:
            assert refusal is not None and refusal.status == 403 and "URL" in refusal.message, refusal
        else:
            assert refusal is not None and refusal.status == 400 and "configured MCP servers only" in refusal.message
    assert own.calls == ([("echo", {"text": "hi"})] * 2 if allowed else [])
    if not allowed:
        assert own.requests == 0


def test_no_request_makes_the_gateway_connect_where_the_destination_policy_refuses(
    make_gateway: GatewayFactory, gemini_upstream: gem.FakeGemini, servers: dict[str, FakeMcp], tmp_path: Path
) -> None:
    """The media fetcher's cases (tests/ssrf_cases.py) as connector URLs, URLs allowed, the master key: a 400
    in Anthropic's format naming the field, before the model is asked."""
    gateway = _gateway(make_gateway, servers, gemini_upstream, tmp_path, "tool_loop: {allow_server_urls: true}\n")
    with anthropic.Anthropic(base_url=gateway.url, api_key=MASTER, max_retries=0, timeout=20) as client:
        for url in REFUSED_URLS:
            refusal = _connector(client, {"type": "url", "name": ALIAS, "url": url})
            assert refusal is not None and refusal.status == 400 and "mcp_servers[0]" in refusal.message, (url, refusal)
    assert [r for r in gemini_upstream.received if "generateContent" in r.path] == []
