"""Fake upstream MCP servers, written with the official SDK (`MCPServer`, FastMCP's successor in mcp 2):
tools, prompts and resources, served over streamable HTTP, SSE, or stdio (mcp_stdio_server.py); one
behind OAuth client credentials; and one that speaks malformed JSON-RPC."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from typing import Any

import orjson
from mcp.server.mcpserver import MCPServer

from tests.fakes.servers import RunningApp


def tool_server(name: str = "fake") -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer(name)

    @server.tool()
    def add(a: int, b: int) -> int:
        """Adds two integers."""
        return a + b

    @server.tool()
    def echo(text: str) -> str:
        """Says the text back."""
        return f"echo: {text}"

    @server.tool()
    def pid() -> int:
        """The server process's id."""
        return os.getpid()

    @server.tool()
    async def slow(seconds: float) -> str:
        """Answers after `seconds`."""
        await asyncio.sleep(seconds)
        return "late"

    @server.tool()
    def fail() -> str:
        """Always fails."""
        raise ValueError("the tool broke on purpose")

    @server.tool()
    def big(size: int) -> str:
        """A text of `size` characters."""
        return "x" * size

    @server.prompt()
    def greet(person: str) -> str:
        """A greeting."""
        return f"Say hello to {person}."

    @server.resource("docs://readme")
    def readme() -> str:
        """The readme."""
        return "read me first"

    @server.resource("docs://pages/{page}")
    def page(page: str) -> str:
        """A page."""
        return f"page {page}"

    return server


def streamable_app(server: MCPServer[Any]) -> Any:
    return server.streamable_http_app()  # at /mcp


def sse_app(server: MCPServer[Any]) -> Any:
    return server.sse_app()  # at /sse and /messages/


class OAuthGuard:
    """An MCP app behind OAuth 2.0 client credentials: `/token` issues tokens for the one client, every
    other path needs a bearer it issued."""

    def __init__(self, app: Any, client_id: str, client_secret: str) -> None:
        self.app = app
        self.client_id = client_id
        self.client_secret = client_secret
        self.issued: set[str] = set()
        self.token_requests = 0
        self.refused = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if scope["path"] == "/token":
            await self._token(headers, receive, send)
            return
        authorization = headers.get(b"authorization", b"").decode()
        if not authorization.startswith("Bearer ") or authorization[7:] not in self.issued:
            self.refused += 1
            await _send_json(send, 401, {"error": "invalid_token"})
            return
        await self.app(scope, receive, send)

    async def _token(self, headers: dict[bytes, bytes], receive: Any, send: Any) -> None:
        body = await _body(receive)
        self.token_requests += 1
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode())
        if headers.get(b"authorization") != b"Basic " + expected or b"grant_type=client_credentials" not in body:
            await _send_json(send, 401, {"error": "invalid_client"})
            return
        token = secrets.token_hex(16)
        self.issued.add(token)
        await _send_json(send, 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})


class MalformedServer:
    """Streamable HTTP that initializes and lists well, then answers a tool call with malformed JSON-RPC:
    `broken_shape` with a result not in MCP's shape, `not_json` with a body that is not JSON."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                if (await receive())["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = await _body(receive)
        if scope["method"] != "POST":
            await _send_json(send, 405, {})
            return
        request = orjson.loads(body)
        if "id" not in request:
            await _send_json(send, 202, None)
            return
        method, ident = request["method"], request["id"]
        if method == "initialize":
            result: Any = {
                "protocolVersion": request["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "malformed", "version": "0"},
            }
        elif method == "tools/list":
            schema = {"type": "object", "properties": {}}
            result = {"tools": [{"name": n, "inputSchema": schema} for n in ("broken_shape", "not_json")]}
        elif method == "tools/call" and request["params"]["name"] == "not_json":
            await _send_raw(send, 200, b"{this is not json", b"application/json")
            return
        else:
            result = {"content": "not a list of content blocks", "isError": "maybe"}
        await _send_json(send, 200, {"jsonrpc": "2.0", "id": ident, "result": result})


async def _body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def _send_json(send: Any, status: int, body: Any) -> None:
    await _send_raw(send, status, b"" if body is None else orjson.dumps(body), b"application/json")


async def _send_raw(send: Any, status: int, payload: bytes, kind: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", kind), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})


__all__ = ["MalformedServer", "OAuthGuard", "RunningApp", "sse_app", "streamable_app", "tool_server"]


class HeaderRecorder:
    """An MCP app that records the `Authorization` header of every request it gets."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[str | None] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            found = dict(scope["headers"]).get(b"authorization")
            self.seen.append(found.decode() if found is not None else None)
        await self.app(scope, receive, send)
