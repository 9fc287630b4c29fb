"""An MCP server's failure, in words a client may read: apart from the SDK, so that code which only
catches it (the tool loop of model requests) does not load the SDK with it."""

from __future__ import annotations


class McpServerError(Exception):
    """A server could not answer: `kind` is unknown (no such server), unavailable (down or not yet
    connected), timeout, too_large (a result past max_result_bytes), protocol (a malformed answer) or
    error (the server answered a JSON-RPC error; `code` is its code)."""

    def __init__(self, server: str, kind: str, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.server = server
        self.kind = kind
        self.code = code

    def __str__(self) -> str:
        return f"MCP server {self.server!r}: {self.args[0]}"
