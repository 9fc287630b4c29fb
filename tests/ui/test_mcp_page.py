"""The dashboard's MCP page in headless Chromium: each server's state (one up, one down with its
error), its tools, and the tool calls the ledger counted."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from playwright.sync_api import Page, expect

from tests.admin_gateway import ADMIN, MASTER, start
from tests.conftest import GatewayFactory
from tests.fakes.mcp_servers import streamable_app, tool_server
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import LoopThread, RunningApp


@pytest.fixture
def docs(loop_thread: LoopThread) -> Iterator[RunningApp]:
    app = RunningApp(streamable_app(tool_server("docs")))
    loop_thread.run(app.start())
    yield app
    loop_thread.run(app.stop())


def test_the_mcp_page_shows_servers_tools_and_calls(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, docs: RunningApp, page: Page, screenshots: Path
) -> None:
    extra = f"""
mcp_servers:
  - name: docs
    url: {docs.url}/mcp
  - name: gone
    url: http://127.0.0.1:9/mcp
    connect_timeout: 2
"""
    gateway = start(make_gateway, upstream, extra=extra)

    async def calls() -> None:
        http = httpx2.AsyncClient(headers=ADMIN, timeout=30)
        async with http, Client(streamable_http_client(gateway.url + "/mcp", http_client=http)) as client:
            for text in ("a", "b"):
                await client.call_tool("docs__echo", {"text": text})
            await client.list_tools()  # the down server is tried, and reported

    with concurrent.futures.ThreadPoolExecutor(1) as aside:  # Playwright's loop runs in this thread
        aside.submit(asyncio.run, calls()).result(60)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = httpx.get(gateway.url + "/admin/usage?group_by=server,tool", headers=ADMIN).json()["data"]
        if any(row["server"] == "docs" for row in rows):
            break
        time.sleep(0.2)

    page.goto(gateway.url + "/ui")
    page.get_by_test_id("master-key").fill(MASTER)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("nav-mcp").click()
    server = page.get_by_test_id("mcp-server-docs")
    expect(server).to_contain_text("ready")
    tools = page.get_by_test_id("mcp-tools-docs")
    expect(tools).to_contain_text("Says the text back.")
    expect(tools.locator("tr", has_text="echo")).to_contain_text("2")
    expect(page.get_by_test_id("mcp-server-gone")).to_contain_text("down")
    expect(page.get_by_test_id("mcp-error-gone")).to_contain_text("connection refused")
    page.screenshot(path=screenshots / "mcp.png", full_page=True)
