"""How each kind of exporter sends a batch: OTLP/HTTP protobuf to a collector or to Langfuse, JSON to a webhook
signed as the alert webhooks are. Each raises delivery.Refused or delivery.Failed for the delivery to decide."""

from __future__ import annotations

import base64
import dataclasses
import time
from typing import TYPE_CHECKING, Any

import orjson

from babelgate.conversation.exporters.delivery import Failed, Refused
from babelgate.conversation.record import Exchange
from babelgate.governance.alerts import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

if TYPE_CHECKING:
    import aiohttp

    from babelgate.config.content import ExporterConfig

PROTOBUF = "application/x-protobuf"


class Poster:
    """One HTTP session for every exporter of a gateway, made at the first batch (aiohttp loads only then)."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, body: bytes, headers: dict[str, str], seconds: float) -> None:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(
                url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=seconds), allow_redirects=False
            ) as answer:
                await answer.read()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise Failed(f"{type(error).__name__}: {error}") from None
        if status == 429 or status >= 500:
            raise Failed(f"HTTP {status}")
        if status >= 300:
            raise Refused(f"HTTP {status}")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def traces_url(base: str, path: str = "/v1/traces") -> str:
    """An OTLP/HTTP collector's traces URL, given its base (`http://collector:4318`) or the URL itself."""
    base = base.rstrip("/")
    return base if base.endswith(path) else base + path


class OtlpSender:
    """GenAI spans to an OTLP/HTTP collector, or to Langfuse's OTLP endpoint (Basic auth of its key pair)."""

    def __init__(self, config: ExporterConfig, poster: Poster, service: str) -> None:
        try:  # OTLP's messages come with the OpenTelemetry extra, as the gateway's own traces do
            from babelgate.conversation.exporters.spans import export_request
        except ImportError:
            raise ValueError(
                f"exporters: a {config.type} exporter needs OpenTelemetry's OTLP messages"
                " (pip install 'babelgate[otel]')"
            ) from None
        self.encode = export_request
        self.poster = poster
        self.service = service
        self.timeout = config.timeout
        self.langfuse = config.type == "langfuse"
        self.headers = {"content-type": PROTOBUF, **config.headers}
        if self.langfuse:
            assert config.host is not None and config.public_key is not None and config.secret_key is not None
            self.url = traces_url(config.host, "/api/public/otel/v1/traces")
            pair = f"{config.public_key}:{config.secret_key}".encode()
            self.headers["authorization"] = "Basic " + base64.b64encode(pair).decode()
        else:
            assert config.endpoint is not None
            self.url = traces_url(config.endpoint)

    async def __call__(self, batch: list[Exchange]) -> None:
        body = self.encode(batch, self.service, langfuse=self.langfuse)
        await self.poster.post(self.url, body, self.headers, self.timeout)


class WebhookSender:
    """`{"exchanges": [...]}` posted to `url`, signed: `X-Babelgate-Timestamp` and `X-Babelgate-Signature:
    sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`, as the alert webhooks are."""

    def __init__(self, config: ExporterConfig, poster: Poster) -> None:
        assert config.url is not None and config.secret is not None
        self.poster = poster
        self.url = config.url
        self.secret = config.secret
        self.timeout = config.timeout
        self.headers = dict(config.headers)

    async def __call__(self, batch: list[Exchange]) -> None:
        body = orjson.dumps({"exchanges": [_plain(exchange) for exchange in batch]})
        timestamp = str(int(time.time()))
        headers = {
            **self.headers,
            "content-type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self.secret, timestamp, body),
        }
        await self.poster.post(self.url, body, headers, self.timeout)


def _plain(exchange: Exchange) -> dict[str, Any]:
    return dataclasses.asdict(exchange)
