"""The whole suite as a leak test: every gateway a test starts is watched, and the recognisable test
keys (the upstream keys below, and each gateway's own keys) must never appear in anything the
gateway writes to a client — bodies, headers, errors, streams, WebSocket messages, /metrics and
/health — nor in any log record. A test during which one appears fails, naming where.

(Virtual-key secrets are shown once, on creation, by design; they are not configured keys and are
not watched. Subprocess gateways are watched by their own tests, which read their output.)"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from babelgate import Config

Message = dict[str, Any]
FOUND: list[str] = []  # what leaked, where; the autouse fixture in conftest.py fails the test on any


def configured_secrets(config: Config) -> tuple[str, ...]:
    server = config.server
    keys = [*server.api_keys, *([server.master_key] if server.master_key else [])]
    keys += [key for provider in config.providers.values() for key in provider.secret_values()]
    oidc = config.auth.oidc
    if oidc is not None and oidc.client_secret:
        keys.append(oidc.client_secret)
    keys += [value for mcp_server in config.mcp_servers or () for value in mcp_server.secret_values()]
    return tuple(key for key in keys if len(key) >= 8)  # short test keys ("x") would match everywhere


def scan(where: str, data: bytes | str, secrets: Iterable[str]) -> None:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    for secret in secrets:
        if secret in text:
            at = text.index(secret)
            FOUND.append(f"{where}: ...{text[max(0, at - 60) : at]}<SECRET>...")


class WatchedGateway:
    """The gateway's ASGI app with every message it sends scanned; anything else is the app's own."""

    def __init__(self, app: Any, secrets: Iterable[str]) -> None:
        self.app = app
        self.secrets = tuple(secrets)

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        where = f"{scope['type']} {scope.get('path', '')}"

        async def watched(message: Message) -> None:
            for name in ("body", "bytes", "text"):
                value = message.get(name)
                if value:
                    scan(f"{where} {message['type']}", value, self.secrets)
            for header, value in message.get("headers", ()):
                scan(f"{where} header {header!r}", value, self.secrets)
            if message.get("reason"):
                scan(f"{where} close reason", message["reason"], self.secrets)
            await send(message)

        await self.app(scope, receive, watched)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)


class LogWatch(logging.Handler):
    """Every log record anywhere, formatted as a handler would write it, scanned."""

    secrets: tuple[str, ...] = ()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += repr(record.exc_info[1])
        scan(f"log {record.name}", text, self.secrets)
