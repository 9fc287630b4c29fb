"""The MCP gateway (`/mcp`): fake upstream MCP servers written with the official SDK over
streamable HTTP, SSE and stdio, one behind OAuth client credentials, one that dies and comes back, one
that answers malformed JSON-RPC; the official `mcp` client through the gateway (streamable HTTP and
the older SSE transport), keys that may see some servers and tools and not others, the ledger rows
and `/admin/usage?group_by=server,tool`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import mcp.types as types
import pytest
from mcp import Client, MCPError
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import GatewayFactory
from tests.fakes.mcp_servers import HeaderRecorder, MalformedServer, OAuthGuard, sse_app, streamable_app, tool_server
from tests.fakes.servers import LoopThread, RunningApp
from tests.integration.test_virtual_keys import ADMIN, MASTER
from tests.waiting import eventually

STDIO_SERVER = Path(__file__).parents[1] / "fakes" / "mcp_stdio_server.py"
STATIC = "static-gateway-key-0123456789"


@pytest.fixture(scope="module")
def upstreams(loop_thread: LoopThread) -> Iterator[dict[str, Any]]:
    """The remote fakes, shared by the module's tests: streamable HTTP, SSE, OAuth, malformed."""
    guard = OAuthGuard(streamable_app(tool_server("secure")), "gateway", "oauth-client-secret-42")
    apps = {
        "docs": RunningApp(streamable_app(tool_server("docs"))),
        "legacy": RunningApp(sse_app(tool_server("legacy"))),
        "secure": RunningApp(guard),
        "broken": RunningApp(MalformedServer()),
    }
    for app in apps.values():
        loop_thread.run(app.start())
    yield {"apps": apps, "guard": guard}
    for app in apps.values():
        loop_thread.run(app.stop())


def _config(upstreams: dict[str, Any], extra: str = "") -> str:
    apps = upstreams["apps"]
    return f"""
server:
  api_keys: [env:STATIC_KEY]
teams:
  support:
    mcp: [docs, legacy]
mcp_servers:
  - name: docs
    url: {apps["docs"].url}/mcp
    headers:
      X-Upstream-Secret: env:DOCS_SECRET
  - name: legacy
    url: {apps["legacy"].url}/sse
  - name: local
    command: {sys.executable}
    args: ["{STDIO_SERVER}", "local"]
  - name: secure
    url: {apps["secure"].url}/mcp
    oauth:
      token_url: {apps["secure"].url}/token
      client_id: gateway
      client_secret: env:SECURE_SECRET
  - name: broken
    url: {apps["broken"].url}/mcp
    timeout: 3
    max_result_bytes: 2000
{extra}"""


def _gateway(make_gateway: GatewayFactory, upstreams: dict[str, Any], tmp_path: Path, extra: str = "") -> RunningApp:
    return make_gateway(
        _config(upstreams, extra),
        env={
            "BABELGATE_MASTER_KEY": MASTER,
            "BABELGATE_STORE_URL": f"sqlite:{tmp_path / 'mcp.db'}",
            "STATIC_KEY": STATIC,
            "DOCS_SECRET": "docs-upstream-secret-value",
            "SECURE_SECRET": "oauth-client-secret-42",
        },
    )


@contextlib.asynccontextmanager
async def _connect(
    url: str, key: str | None, *, sse: bool = False, headers: dict[str, str] | None = None, **options: Any
) -> AsyncIterator[Client]:
    headers = {**({"Authorization": f"Bearer {key}"} if key is not None else {}), **(headers or {})}
    if sse:
        async with Client(sse_client(url, headers=headers, timeout=20), mode="legacy", **options) as client:
            yield client
        return
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=60))
    async with http, Client(streamable_http_client(url, http_client=http), **options) as client:
        yield client


def _key(gateway: RunningApp, **fields: Any) -> str:
    response = httpx.post(gateway.url + "/admin/keys", json=fields, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()["key"]  # type: ignore[no-any-return]


def _text(result: types.CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, types.TextContent))


def test_one_namespace_over_every_transport(
    make_gateway: GatewayFactory, upstreams: dict[str, Any], tmp_path: Path
) -> None:
    gateway = _gateway(make_gateway, upstreams, tmp_path)

    async def scenario() -> None:
        async with _connect(gateway.url + "/mcp", STATIC) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            for server in ("docs", "legacy", "local", "secure"):
                assert {f"{server}__add", f"{server}__echo", f"{server}__greet"} - {f"{server}__greet"} <= tools
            assert {"broken__broken_shape", "broken__not_json"} <= tools
            for server in ("docs", "legacy", "local", "secure"):
                result = await client.call_tool(f"{server}__add", {"a": 2, "b": 40})
                assert not result.is_error and _text(result) == "42", (server, result)
            prompts = {prompt.name for prompt in (await client.list_prompts()).prompts}
            assert {"docs__greet", "local__greet"} <= prompts
            prompt = await client.get_prompt("docs__greet", {"person": "Ada"})
            assert "Ada" in prompt.messages[0].content.text  # type: ignore[union-attr]
            resources = {str(r.uri) for r in (await client.list_resources()).resources}
            assert "mcp://docs/docs%3A%2F%2Freadme" in resources
            read = await client.read_resource("mcp://docs/docs%3A%2F%2Freadme")
            assert read.contents[0].text == "read me first"  # type: ignore[union-attr]
            templates = (await client.list_resource_templates()).resource_templates
            template = next(t.uri_template for t in templates if t.uri_template.startswith("mcp://legacy/"))
            page = await client.read_resource(template.replace("{page}", "7"))
            assert page.contents[0].text == "page 7"  # type: ignore[union-attr]

    asyncio.run(scenario())
    assert upstreams["guard"].token_requests >= 1  # the OAuth server's token came from the gateway


def test_old_sse_transport_and_one_server_endpoint(
    make_gateway: GatewayFactory, upstreams: dict[str, Any], tmp_path: Path
) -> None:
    gateway = _gateway(make_gateway, upstreams, tmp_path)

    async def scenario() -> None:
        async with _connect(gateway.url + "/mcp/sse", STATIC, sse=True) as client:
            result = await client.call_tool("legacy__echo", {"text": "hi"})
            assert _text(result) == "echo: hi"
        async with _connect(gateway.url + "/mcp/docs", STATIC) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert "add" in names and not any("__" in name for name in names)
            assert _text(await client.call_tool("add", {"a": 1, "b": 1})) == "2"
        async with _connect(gateway.url + "/mcp/docs/sse", STATIC, sse=True) as client:
            assert _text(await client.call_tool("echo", {"text": "x"})) == "echo: x"

    asyncio.run(scenario())


def test_keys_see_and_call_only_what_they_may(
    make_gateway: GatewayFactory, upstreams: dict[str, Any], tmp_path: Path
) -> None:
    gateway = _gateway(make_gateway, upstreams, tmp_path)
    none = _key(gateway, label="no mcp field")
    from babelgate.cli import main

    made = httpx.post(gateway.url + "/admin/keys", json={"label": "cli"}, headers=ADMIN).json()
    assert made["mcp"] is None
    update = ["keys", "update", made["id"], "--mcp", "docs, legacy/echo", "--url", gateway.url, "--master-key", MASTER]
    assert main([*update, "--json"]) == 0
    assert httpx.get(f"{gateway.url}/admin/keys/{made['id']}", headers=ADMIN).json()["mcp"] == ["docs", "legacy/echo"]
    cleared = httpx.patch(f"{gateway.url}/admin/keys/{made['id']}", json={"mcp": None}, headers=ADMIN).json()
    assert cleared["mcp"] is None
    one_tool = _key(gateway, mcp=["docs/echo"])
    team = _key(gateway, team="support")  # the team's list: docs and legacy
    narrowed = _key(gateway, team="support", mcp=["legacy", "local"])  # both lists: legacy only

    async def names(key: str) -> set[str]:
        async with _connect(gateway.url + "/mcp", key) as client:
            return {tool.name for tool in (await client.list_tools()).tools}

    async def scenario() -> None:
        assert await names(none) == set()
        assert await names(one_tool) == {"docs__echo"}
        assert {name.split("__")[0] for name in await names(team)} == {"docs", "legacy"}
        assert {name.split("__")[0] for name in await names(narrowed)} == {"legacy"}
        async with _connect(gateway.url + "/mcp", one_tool) as client:
            with pytest.raises(MCPError, match="not available to this key"):
                await client.call_tool("docs__add", {"a": 1, "b": 2})
            with pytest.raises(MCPError, match="not available to this key"):
                await client.call_tool("local__echo", {"text": "x"})
            assert (await client.list_prompts()).prompts == []  # a tool pattern does not open the prompts
            assert _text(await client.call_tool("docs__echo", {"text": "ok"})) == "echo: ok"

    asyncio.run(scenario())
    refused = httpx.post(gateway.url + "/mcp/local", headers={"Authorization": f"Bearer {one_tool}"}, json={})
    assert refused.status_code == 403


def test_no_key_gets_a_401_that_points_at_the_metadata(
    make_gateway: GatewayFactory, upstreams: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="babelgate.access")
    gateway = _gateway(make_gateway, upstreams, tmp_path)
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    response = httpx.post(gateway.url + "/mcp", json=initialize)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer resource_metadata=")
    url = challenge.split('"')[1]
    assert url == f"{gateway.url}/.well-known/oauth-protected-resource/mcp"
    document = httpx.get(url).json()
    assert document["resource"] == f"{gateway.url}/mcp" and document["bearer_methods_supported"] == ["header"]
    assert httpx.get(gateway.url + "/.well-known/oauth-protected-resource").json()["resource"] == f"{gateway.url}/mcp"
    wrong = httpx.post(gateway.url + "/mcp", json=initialize, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    # Logged, once for the client and reason (governance/refusals.py), never with the key.
    refusals = [r.getMessage() for r in caplog.records if r.name == "babelgate.access"]
    assert refusals == ["refused 127.0.0.1 on mcp: 401 invalid_api_key (no key)"]


def test_faults_are_clear_and_bounded(make_gateway: GatewayFactory, upstreams: dict[str, Any], tmp_path: Path) -> None:
    gateway = _gateway(
        make_gateway,
        upstreams,
        tmp_path,
        extra="""  - name: down
    url: http://127.0.0.1:9/mcp
    connect_timeout: 2
""",
    )

    async def scenario() -> None:
        async with _connect(gateway.url + "/mcp", STATIC) as client:
            listed = await client.list_tools()  # the down server is named, the others listed
            assert "down" in (listed.meta or {})["babelgate/unavailable"]
            assert any(tool.name == "docs__add" for tool in listed.tools)
            failed = await client.call_tool("docs__fail", {})
            assert failed.is_error and "fail" in _text(failed)
            started = time.monotonic()
            timed_out = await client.call_tool("broken__not_json", {})
            assert timed_out.is_error and time.monotonic() - started < 10
            shape = await client.call_tool("broken__broken_shape", {})
            assert shape.is_error and "malformed" in _text(shape)
            large = await client.call_tool("local__big", {"size": 10_000})
            assert not large.is_error  # local has the default bound
            down = await client.call_tool("down__add", {"a": 1, "b": 1})
            assert down.is_error and "down" in _text(down)
            with pytest.raises(MCPError, match="unknown tool"):
                await client.call_tool("nowhere__add", {})
        async with _connect(gateway.url + "/mcp/docs", STATIC) as client:
            slow = await client.call_tool("slow", {"seconds": 0.1})
            assert _text(slow) == "late"

    asyncio.run(scenario())


def test_result_bound_per_server(make_gateway: GatewayFactory, upstreams: dict[str, Any], tmp_path: Path) -> None:
    gateway = _gateway(
        make_gateway,
        upstreams,
        tmp_path,
        extra=f"""  - name: small
    url: {upstreams["apps"]["docs"].url}/mcp
    max_result_bytes: 1000
    timeout: 1
""",
    )

    async def scenario() -> None:
        async with _connect(gateway.url + "/mcp", STATIC) as client:
            assert not (await client.call_tool("small__big", {"size": 100})).is_error
            large = await client.call_tool("small__big", {"size": 5000})
            assert large.is_error and "max_result_bytes" in _text(large)
            started = time.monotonic()
            slow = await client.call_tool("small__slow", {"seconds": 5})
            assert slow.is_error and "within 1 s" in _text(slow) and time.monotonic() - started < 4

    asyncio.run(scenario())


def test_a_stdio_server_that_dies_comes_back(
    make_gateway: GatewayFactory, upstreams: dict[str, Any], tmp_path: Path
) -> None:
    gateway = _gateway(make_gateway, upstreams, tmp_path)

    async def scenario() -> None:
        async with _connect(gateway.url + "/mcp", STATIC) as client:
            first = int(_text(await client.call_tool("local__pid", {})))
            import os
            import signal

            os.kill(first, signal.SIGKILL)
            deadline = time.monotonic() + 20
            second = first
            while second == first and time.monotonic() < deadline:
                result = await client.call_tool("local__pid", {})
                if not result.is_error:
                    second = int(_text(result))
                else:
                    await asyncio.sleep(0.3)
            assert second != first  # a new process answers

    asyncio.run(scenario())
    health = httpx.get(gateway.url + "/health").json()
    local = next(server for server in health["mcp_servers"] if server["name"] == "local")
    assert local["state"] == "ready"


def test_tool_calls_are_ledger_rows_and_usage_groups_them(
    make_gateway: GatewayFactory, upstreams: dict[str, Any], tmp_path: Path
) -> None:
    gateway = _gateway(make_gateway, upstreams, tmp_path)
    key = _key(gateway, mcp=["docs/echo"], team="support")

    async def scenario() -> None:
        async with _connect(gateway.url + "/mcp", key) as client:
            for _ in range(3):
                await client.call_tool("docs__echo", {"text": "hello"})
            with pytest.raises(MCPError):
                await client.call_tool("docs__add", {"a": 1, "b": 1})

    asyncio.run(scenario())
    deadline = time.monotonic() + 10
    while True:
        usage = httpx.get(gateway.url + "/admin/usage?group_by=server,tool", headers=ADMIN).json()["data"]
        rows = {(row["server"], row["tool"]): row for row in usage}
        if ("docs", "add") in rows or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert rows[("docs", "echo")]["requests"] == 3 and rows[("docs", "echo")]["errors"] == 0
    assert rows[("docs", "add")]["errors"] == 1
    with contextlib.closing(sqlite3.connect(tmp_path / "mcp.db")) as database:  # content is kept only when asked
        kept = database.execute("SELECT content FROM babelgate_ledger WHERE route = 'mcp.tools/call'").fetchall()
    assert kept and all(content is None for (content,) in kept)
    metrics = httpx.get(gateway.url + "/metrics", headers={"Authorization": f"Bearer {STATIC}"}).text
    assert 'babelgate_mcp_tool_calls_total{outcome="ok",server="docs",tool="echo"} 3.0' in metrics
    servers = httpx.get(gateway.url + "/admin/mcp/servers", headers=ADMIN)
    assert servers.status_code == 200
    assert "docs-upstream-secret-value" not in servers.text and "oauth-client-secret-42" not in servers.text


def test_tool_content_is_kept_only_when_the_operator_turns_it_on(
    make_gateway: GatewayFactory, upstreams: dict[str, Any], tmp_path: Path
) -> None:
    """`ledger.content`: a tool call's arguments and result in its row's `content`; off by default (the
    other tests' gateways), when the row has none."""
    gateway = _gateway(make_gateway, upstreams, tmp_path, "ledger: {content: true, content_max_bytes: 300}\n")

    async def scenario() -> None:
        async with _connect(gateway.url + "/mcp", STATIC) as client:
            await client.call_tool("docs__echo", {"text": "kept words"})
            await client.call_tool("docs__echo", {"text": "x" * 1000})

    asyncio.run(scenario())

    def contents() -> list[str]:
        with contextlib.closing(sqlite3.connect(tmp_path / "mcp.db")) as database:
            found = database.execute(
                "SELECT content FROM babelgate_ledger WHERE route = 'mcp.tools/call' ORDER BY ts"
            ).fetchall()
        return [row[0] for row in found]

    assert eventually(lambda: len(contents()) == 2, 10)
    first, second = contents()
    kept = json.loads(first)
    assert kept["arguments"] == {"text": "kept words"}
    assert kept["result"]["content"][0]["text"] == "echo: kept words"
    assert len(second) == 300  # cut at content_max_bytes


def test_servers_added_through_the_admin_api_and_cli_survive_a_restart(
    make_gateway: GatewayFactory,
    upstreams: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from babelgate.cli import main

    monkeypatch.setenv("API_ADDED_SECRET", "api-added-secret-value-0123")
    gateway = _gateway(make_gateway, upstreams, tmp_path)
    docs = upstreams["apps"]["docs"].url + "/mcp"
    added = httpx.post(
        gateway.url + "/admin/mcp/servers",
        headers=ADMIN,
        json={"name": "extra", "url": docs, "headers": {"X-Token": "env:API_ADDED_SECRET"}},
    )
    assert added.status_code == 201, added.text
    assert added.json()["headers"] == {"X-Token": "***"} and added.json()["source"] == "api"
    bad = httpx.post(gateway.url + "/admin/mcp/servers", headers=ADMIN, json={"name": "x__y", "url": docs})
    assert bad.status_code == 400 and "name" in bad.json()["error"]["message"]
    clash = httpx.post(gateway.url + "/admin/mcp/servers", headers=ADMIN, json={"name": "docs", "url": docs})
    assert clash.status_code == 409
    assert main(["mcp", "add", "viacli", docs, "--url", gateway.url, "--master-key", MASTER, "--json"]) == 0
    capsys.readouterr()
    assert main(["mcp", "list", "--url", gateway.url, "--master-key", MASTER]) == 0
    listed = capsys.readouterr().out
    assert "extra" in listed and "viacli" in listed and "api-added-secret" not in listed

    async def call(url: str) -> str:
        async with _connect(url + "/mcp", STATIC) as client:
            return _text(await client.call_tool("extra__echo", {"text": "again"}))

    assert asyncio.run(call(gateway.url)) == "echo: again"
    one = httpx.get(gateway.url + "/admin/mcp/servers/extra", headers=ADMIN).json()
    assert "echo" in {tool["name"] for tool in one["tools"]}
    assert main(["mcp", "remove", "viacli", "--url", gateway.url, "--master-key", MASTER]) == 0
    # The same store, a new gateway: what the API added is there, what it removed is not.
    again = _gateway(make_gateway, upstreams, tmp_path)
    deadline = time.monotonic() + 10
    names: set[str] = set()
    while time.monotonic() < deadline and "extra" not in names:
        names = {s["name"] for s in httpx.get(again.url + "/admin/mcp/servers", headers=ADMIN).json()["data"]}
        time.sleep(0.1)
    assert "extra" in names and "viacli" not in names
    assert asyncio.run(call(again.url)) == "echo: again"
    assert httpx.delete(again.url + "/admin/mcp/servers/docs", headers=ADMIN).status_code == 409

    # Both instances share the store: what one adds or removes, the other serves or drops within the poll.
    def listed(instance: RunningApp) -> set[str]:
        return {s["name"] for s in httpx.get(instance.url + "/admin/mcp/servers", headers=ADMIN).json()["data"]}

    added = httpx.post(again.url + "/admin/mcp/servers", headers=ADMIN, json={"name": "later", "url": docs})
    assert added.status_code == 201, added.text
    assert eventually(lambda: "later" in listed(gateway), 5)
    assert httpx.delete(gateway.url + "/admin/mcp/servers/extra", headers=ADMIN).status_code == 200
    assert eventually(lambda: "extra" not in listed(again), 5)
    assert "later" in listed(again)


def test_connected_clients_hear_that_the_tool_list_changed(
    make_gateway: GatewayFactory, upstreams: dict[str, Any], tmp_path: Path
) -> None:
    """On a handshake-era session (what Claude Code, Codex and Cursor speak), over its standalone stream."""
    gateway = _gateway(make_gateway, upstreams, tmp_path)
    changed = asyncio.Event()

    async def listen(message: Any) -> None:
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            changed.set()

    async def scenario() -> None:
        async with _connect(gateway.url + "/mcp", STATIC, message_handler=listen, mode="legacy") as client:
            before = {tool.name for tool in (await client.list_tools()).tools}
            assert not any(name.startswith("later__") for name in before)
            added = await asyncio.to_thread(
                httpx.post,
                gateway.url + "/admin/mcp/servers",
                headers=ADMIN,
                json={"name": "later", "url": upstreams["apps"]["docs"].url + "/mcp"},
            )
            assert added.status_code == 201
            await asyncio.wait_for(changed.wait(), 10)  # the gateway told this client
            after = {tool.name for tool in (await client.list_tools(cache_mode="refresh")).tools}
            assert "later__echo" in after

    asyncio.run(scenario())


def test_user_tokens_pass_through_only_where_the_operator_allows(
    make_gateway: GatewayFactory, upstreams: dict[str, Any], tmp_path: Path, loop_thread: LoopThread
) -> None:
    recorder = HeaderRecorder(streamable_app(tool_server("mine")))
    shared = HeaderRecorder(streamable_app(tool_server("shared")))
    mine, theirs = RunningApp(recorder), RunningApp(shared)
    loop_thread.run(mine.start())
    loop_thread.run(theirs.start())
    try:
        gateway = _gateway(
            make_gateway,
            upstreams,
            tmp_path,
            extra=f"""  - name: mine
    url: {mine.url}/mcp
    pass_through_auth: true
  - name: theirs
    url: {theirs.url}/mcp
""",
        )

        async def call(user_token: str, tool: str) -> str:
            user = {"X-Mcp-Authorization": f"Bearer {user_token}"}
            async with _connect(gateway.url + "/mcp", STATIC, headers=user) as client:
                return _text(await client.call_tool(tool, {"text": "t"}))

        assert asyncio.run(call("alice-token-123", "mine__echo")) == "echo: t"
        assert "Bearer alice-token-123" in recorder.seen
        assert asyncio.run(call("bob-token-456", "mine__echo")) == "echo: t"
        assert "Bearer bob-token-456" in recorder.seen
        # A server without pass_through_auth never sees a caller's token.
        assert asyncio.run(call("carol-token-789", "theirs__echo")) == "echo: t"
        assert shared.seen and all(seen is None for seen in shared.seen)
    finally:
        loop_thread.run(mine.stop())
        loop_thread.run(theirs.stop())


def test_an_idle_stdio_server_that_dies_is_noticed_and_restarted(monkeypatch: pytest.MonkeyPatch) -> None:
    """No call needed: the health check (a tools/list) finds the dead process and the supervisor starts a
    new one; the registry is what the in-request MCP tools use (runtime.mcp_servers)."""
    import os
    import signal

    from babelgate.config.models import McpServerConfig
    from babelgate.mcp import upstreams
    from babelgate.mcp.servers import McpServers

    monkeypatch.setattr(upstreams, "PROBE_SECONDS", 0.3)
    config = McpServerConfig(name="local", command=sys.executable, args=(str(STDIO_SERVER), "local"))

    async def scenario() -> None:
        servers = McpServers([config])
        try:
            first = int(_text(await servers.call_tool("local", "pid", {})))
            assert [tool.name for tool in await servers.list_tools("local")][:2] == ["add", "echo"]
            os.kill(first, signal.SIGKILL)
            await _until(lambda: servers.status()[0]["failures"] > 0)  # noticed without a call
            await _until(lambda: servers.status()[0]["state"] == "ready")
            second = int(_text(await servers.call_tool("local", "pid", {}, timeout=5)))
            assert second != first
        finally:
            await servers.aclose()

    asyncio.run(scenario())


async def _until(condition: Any, seconds: float = 20) -> None:
    for _ in range(int(seconds * 10)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("not within the time")


def test_the_oauth_token_is_fetched_once_and_kept(
    make_gateway: GatewayFactory, upstreams: dict[str, Any], tmp_path: Path
) -> None:
    guard = upstreams["guard"]
    gateway = _gateway(make_gateway, upstreams, tmp_path)
    before = guard.token_requests

    async def scenario() -> None:
        async with _connect(gateway.url + "/mcp/secure", STATIC) as client:
            for number in range(3):
                assert _text(await client.call_tool("add", {"a": number, "b": 1})) == str(number + 1)

    asyncio.run(scenario())
    assert guard.token_requests == before + 1


def test_a_remote_server_that_goes_away_and_comes_back(
    make_gateway: GatewayFactory, upstreams: dict[str, Any], tmp_path: Path, loop_thread: LoopThread
) -> None:
    """A remote server killed (its port refuses), then a new process on the same port (the old session is
    gone): calls fail fast meanwhile, and succeed again once it is back. A server that hangs times out."""
    from tests.fakes.tcp_proxy import Mode, TcpProxy

    first = RunningApp(streamable_app(tool_server("flaky")))
    loop_thread.run(first.start())
    proxy = TcpProxy("127.0.0.1", first.port)
    loop_thread.run(proxy.start())
    second = RunningApp(streamable_app(tool_server("flaky")))
    try:
        extra = f"  - name: flaky\n    url: http://127.0.0.1:{proxy.port}/mcp\n    timeout: 2\n    connect_timeout: 2\n"
        gateway = _gateway(make_gateway, upstreams, tmp_path, extra=extra)

        async def scenario() -> None:
            async with _connect(gateway.url + "/mcp/flaky", STATIC) as client:
                assert _text(await client.call_tool("echo", {"text": "1"})) == "echo: 1"
                await asyncio.to_thread(loop_thread.run, proxy.switch(Mode.REFUSE))
                await asyncio.to_thread(loop_thread.run, first.stop())
                started = time.monotonic()
                down = await client.call_tool("echo", {"text": "2"})
                assert down.is_error and time.monotonic() - started < 5, _text(down)
                await asyncio.to_thread(loop_thread.run, second.start())
                proxy.target_port = second.port
                await asyncio.to_thread(loop_thread.run, proxy.switch(Mode.PASS))
                for _ in range(100):  # the supervisor's backoff: up to a few seconds
                    back = await client.call_tool("echo", {"text": "3"})
                    if not back.is_error:
                        break
                    await asyncio.sleep(0.2)
                assert _text(back) == "echo: 3"
                await asyncio.to_thread(loop_thread.run, proxy.switch(Mode.HANG))
                started = time.monotonic()
                hung = await client.call_tool("echo", {"text": "4"})
                assert hung.is_error and "within 2 s" in _text(hung) and time.monotonic() - started < 6
                await asyncio.to_thread(loop_thread.run, proxy.switch(Mode.PASS))

        asyncio.run(scenario())
    finally:
        loop_thread.run(proxy.stop())
        loop_thread.run(second.stop())


def test_clients_of_the_2026_protocol_hear_it_on_their_listen_stream(
    make_gateway: GatewayFactory, upstreams: dict[str, Any], tmp_path: Path
) -> None:
    gateway = _gateway(make_gateway, upstreams, tmp_path)

    async def scenario() -> None:
        async with _connect(gateway.url + "/mcp", STATIC) as client:  # "auto": the newest protocol
            async with client.listen(tools_list_changed=True) as events:
                added = await asyncio.to_thread(
                    httpx.post,
                    gateway.url + "/admin/mcp/servers",
                    headers=ADMIN,
                    json={"name": "later", "url": upstreams["apps"]["docs"].url + "/mcp"},
                )
                assert added.status_code == 201
                event = await asyncio.wait_for(anext(aiter(events)), 10)
                assert type(event).__name__ == "ToolsListChanged"
            tools = {tool.name for tool in (await client.list_tools(cache_mode="refresh")).tools}
            assert "later__echo" in tools

    asyncio.run(scenario())
