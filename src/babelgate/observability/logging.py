"""Logging setup and the scrubber that keeps upstream secrets out of logs and responses.

Two formats: text lines, or one JSON object per line (`server.log_format: json`) with the time,
level, logger, message, the request id of the request being served (the one returned in
`x-request-id`), and the traceback of an exception. Prompts and answers are never logged.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final

import orjson

if TYPE_CHECKING:
    from babelgate.config.models import Config

# Shapes of common provider keys, caught even when we do not know the exact value.
# Provider keys (OpenAI's, Anthropic's, Google's), bearer headers, and the clouds' short-lived tokens,
# which no config holds: Google's OAuth2 access tokens (`ya29.…`) and JWTs (Entra ID's access tokens).
_KEY_SHAPES: Final = re.compile(
    r"(sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}|Bearer\s+[A-Za-z0-9._\-]{8,}"
    r"|ya29\.[A-Za-z0-9._\-]{8,}|eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*)"
)
REDACTED: Final = "[redacted]"
# The request the current task serves (set by the app for each request: every task of a request
# inherits it), for the logs.
REQUEST_ID: ContextVar[bytes | None] = ContextVar("babelgate_request_id", default=None)


class Scrubber:
    """Replaces known secret values, and anything shaped like a provider key, with a marker."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so that a key containing another is replaced whole.
        self._secrets = tuple(sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _KEY_SHAPES.sub(REDACTED, text)


def secrets_of(config: Config) -> list[str]:
    """The upstream keys a config holds: what no log line or kept message may show."""
    found = [key for provider in config.providers.values() for key in provider.secret_values()]
    oidc = config.auth.oidc
    if oidc is not None and oidc.client_secret:
        found.append(oidc.client_secret)
    found += [value for server in config.mcp_servers or () for value in server.secret_values()]
    found += [value for guardrail in config.guardrails for value in guardrail.secret_values()]
    found += [value for exporter in config.exporters for value in exporter.secret_values()]
    return found


class ScrubbingFilter(logging.Filter):
    """Scrubs every record that passes through a handler, whatever logger produced it."""

    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__()
        self.scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = self.scrubber(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: what log pipelines (Loki, CloudWatch, Datadog) parse as is."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id.decode("latin-1")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


class _RequestIdFilter(logging.Filter):
    """Text lines end with the request id when there is one."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = REQUEST_ID.get()
        record.request = f" [request {request_id.decode('latin-1')}]" if request_id is not None else ""
        return True


def configure_logging(level: str, scrubber: Scrubber, log_format: str = "text") -> None:
    """Root handler for `babelgate serve`; an embedding app keeps its own logging setup."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s%(request)s"))
        handler.addFilter(_RequestIdFilter())
    handler.addFilter(ScrubbingFilter(scrubber))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
