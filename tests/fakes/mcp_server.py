"""The MCP server the in-request tool tests call (tests/integration/test_mcp_tools.py,
test_mcp_connector.py): the shared fake's tools (mcp_servers.py: `add`, `echo`, `slow`, `fail`, …) plus
`delete_file`, the one the tests configure to need approval; over streamable HTTP (`url`) and the older
HTTP+SSE transport (`sse_url`). Every `tools/call` that reaches it is noted in `calls`, with the
`Authorization` header it came with (`authorizations`); every HTTP request at all is counted (`requests`),
so a test can tell the server was never contacted.

It listens on 127.0.0.1 over plain http, which the gateway refuses for a URL a request names unless the
operator allows it: `URLS_ALLOWED` (a config) and `SERVER_URLS` (its lines under `tool_loop:`) do."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.mcp_servers import sse_app, streamable_app, tool_server
from tests.fakes.servers import RunningApp

SERVER_URLS = "  allow_server_urls: true\n  server_urls: {allow_http: true, allow_private_hosts: ['127.0.0.1']}\n"
URLS_ALLOWED = "tool_loop:\n" + SERVER_URLS


class FakeMcp:
    def __init__(self) -> None:
        self.requests = 0
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.authorizations: list[str | None] = []
        server = tool_server("tools")

        @server.tool()
        def delete_file(path: str) -> str:
            """Deletes a file."""
            return f"deleted {path}"

        self.running = RunningApp(self._recorded(streamable_app(server)))
        self.sse = RunningApp(self._recorded(sse_app(server)))

    def _recorded(self, app: Any) -> Any:
        """`app`, noting each tools/call it is sent (the body is read here and replayed to it)."""

        async def recorded(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                self.requests += 1
            if scope["type"] != "http" or scope["method"] != "POST":
                await app(scope, receive, send)
                return
            chunks, more = [], True
            while more:
                message = await receive()
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            body = b"".join(chunks)
            self._note(body, dict(scope["headers"]).get(b"authorization"))
            replayed = False

            async def replay() -> dict[str, Any]:
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            await app(scope, replay, send)

        return recorded

    def _note(self, body: bytes, authorization: bytes | None) -> None:
        try:
            message = json.loads(body)
        except ValueError:
            return
        for item in message if isinstance(message, list) else [message]:
            if isinstance(item, dict) and item.get("method") == "tools/call":
                params = item.get("params") or {}
                self.calls.append((params.get("name"), params.get("arguments") or {}))
                self.authorizations.append(authorization.decode() if authorization else None)

    @property
    def url(self) -> str:
        return self.running.url + "/mcp"

    @property
    def sse_url(self) -> str:
        return self.sse.url + "/sse"

    async def start(self) -> None:
        await self.running.start()
        await self.sse.start()

    async def stop(self) -> None:
        await self.running.stop()
        await self.sse.stop()
