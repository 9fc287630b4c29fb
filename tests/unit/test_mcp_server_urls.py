"""An MCP server URL a request names (the Responses `mcp` tool's `server_url`, the Messages connector's
`url`) goes through the media fetcher's safe-destination policy: the same cases (tests/ssrf_cases.py),
refused before any connection, by the URL itself (`tool_loop.request.server`) or by what its name
resolves to (`UrlServer`'s checking client); a name is connected to at exactly the address checked.

Every socket connect in this module is watched: one to anything but 127.0.0.1 fails the test."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web

from babelgate.config.models import Config
from babelgate.errors import InvalidRequest
from babelgate.mcp.aggregate import Access
from babelgate.tool_loop import request as setup
from babelgate.tool_loop.safe_http import ServerUrlPolicy
from babelgate.tool_loop.servers import McpFailure, ToolServer, UrlServer
from tests.fakes.mcp_server import FakeMcp
from tests.ssrf_cases import REDIRECT_TARGETS, REFUSED_ANSWERS, REFUSED_URLS, FakeResolver, watched_connects

PARAM = "tools[0].server_url"
LOOPBACK_ONLY = ServerUrlPolicy(allow_http=True, allow_private_hosts=frozenset({"127.0.0.1"}))


@pytest.fixture(autouse=True)
def connects(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    yield from watched_connects(monkeypatch)


def _server(url: str) -> ToolServer:
    """The server a request naming `url` gets, under the default destination policy, URLs allowed."""
    runtime: Any = SimpleNamespace(
        config=Config.model_validate({"tool_loop": {"allow_server_urls": True}}), mcp_servers=None
    )
    return setup.server(runtime, Access(None), url=url, name="mine", headers={}, param=PARAM)


async def _refused_at_connection(server: ToolServer) -> str:
    with pytest.raises(McpFailure) as caught:
        await server.list_tools(5)
    assert caught.value.kind == "refused", caught.value.message
    return caught.value.message


@pytest.mark.parametrize("url", REFUSED_URLS)
async def test_refused_before_any_connection(url: str, connects: list[tuple[str, int]]) -> None:
    started = time.monotonic()
    try:
        server = _server(url)
    except InvalidRequest as error:  # what the URL itself shows: a 400 naming the field
        assert (error.message_key, error.param, error.status) == ("invalid_value", PARAM, 400)
    else:  # a name (`localhost`): refused once resolved, still before any connection
        assert "address" in await _refused_at_connection(server)
    assert connects == []
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("addresses", REFUSED_ANSWERS)
async def test_name_refused_if_any_address_is_not_allowed(
    mcp_server: FakeMcp, connects: list[tuple[str, int]], addresses: tuple[str, ...]
) -> None:
    resolver = FakeResolver(*addresses)
    url = mcp_server.url.replace("127.0.0.1", "mcp.example")
    server = UrlServer(url, policy=LOOPBACK_ONLY, resolver=resolver, connect_timeout=5)
    try:
        await _refused_at_connection(server)
    finally:
        await server.aclose()
    assert set(resolver.lookups) == {"mcp.example"}
    assert connects == []


async def test_name_is_connected_to_at_the_checked_address(
    mcp_server: FakeMcp, connects: list[tuple[str, int]]
) -> None:
    resolver = FakeResolver("127.0.0.1")
    server = UrlServer(
        mcp_server.url.replace("127.0.0.1", "mcp.example"), policy=LOOPBACK_ONLY, resolver=resolver, connect_timeout=5
    )
    before = mcp_server.requests
    try:
        with pytest.raises(McpFailure) as caught:
            await server.list_tools(5)
    finally:
        await server.aclose()
    # The fake's own DNS-rebinding guard answers a Host it does not serve with a 421: the request reached
    # it, at the address checked, still naming the host it was sent to.
    assert "421" in caught.value.message and mcp_server.requests > before
    assert set(resolver.lookups) == {"mcp.example"}
    assert connects and {target for target, _ in connects} == {"127.0.0.1"}


async def test_the_default_policy_refuses_a_loopback_server(
    mcp_server: FakeMcp, connects: list[tuple[str, int]]
) -> None:
    server = UrlServer(mcp_server.url.replace("127.0.0.1", "localhost"), policy=ServerUrlPolicy(allow_http=True))
    before = mcp_server.requests
    try:
        assert "loopback" in await _refused_at_connection(server)
    finally:
        await server.aclose()
    assert connects == [] and mcp_server.requests == before


@pytest.fixture
async def redirector() -> AsyncIterator[str]:
    """An HTTP server on 127.0.0.1 that answers every request with a 307 to `?to=`."""

    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=307, headers={"Location": request.query["to"]})

    app = web.Application()
    app.router.add_route("*", "/mcp", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/mcp"
    await runner.cleanup()


@pytest.mark.parametrize("target", REDIRECT_TARGETS)
async def test_redirect_away_is_not_followed(redirector: str, connects: list[tuple[str, int]], target: str) -> None:
    server = UrlServer(f"{redirector}?to={target}", policy=LOOPBACK_ONLY, connect_timeout=5)
    try:
        with pytest.raises(McpFailure):
            await server.list_tools(5)
    finally:
        await server.aclose()
    assert connects and {address for address, _ in connects} == {"127.0.0.1"}
