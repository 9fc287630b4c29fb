"""Alerts (governance/alerts.py) on their own: a key about to expire and a circuit open for long are
alerted once, though two instances (two `Alerts` sharing one SQLite store) see them and look again and
again; a Slack webhook gets Slack's body; the thresholds a spend crosses. The receiver is an aiohttp
server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from babelgate.config.models import AlertsConfig, Config, WebhookConfig
from babelgate.governance.alerts import Alerts, crossed
from babelgate.governance.virtual_keys import VirtualKey
from babelgate.store.sqlite import SQLiteResponseStore


class Receiver:
    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.posts.append((request.path, dict(request.headers), await request.read()))
        return web.Response(status=200)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    state = Receiver()
    app = web.Application()
    app.router.add_post("/{name}", state.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield state, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def _config(base: str) -> Config:
    return Config(
        alerts=AlertsConfig(
            webhooks=[
                WebhookConfig(url=base + "/json", secret="hook-secret-0123"),
                WebhookConfig(url=base + "/slack", format="slack"),
            ],
            key_expiry_days=3,
            circuit_open_seconds=60,
        )
    )


def _key(key_id: str, expires_in: float | None) -> VirtualKey:
    return VirtualKey(
        id=key_id,
        salt="00",
        digest="00",
        created_at=time.time(),
        label=f"label-{key_id}",
        expires_at=None if expires_in is None else time.time() + expires_in,
    )


async def test_expiring_keys_and_open_circuits_are_alerted_once_across_instances(
    tmp_path: Path, receiver: tuple[Receiver, str]
) -> None:
    state, base = receiver
    store = SQLiteResponseStore(tmp_path / "shared.db")
    instances = [Alerts(store), Alerts(store)]
    for alerts in instances:
        alerts.configure(_config(base))
    keys = [_key("soon", 86400), _key("later", 30 * 86400), _key("never", None), _key("gone", -10)]
    for alerts in instances:
        alerts.circuit_changed("openai/gpt-4o", "open")
        alerts.circuit_changed("openai/gpt-4o-mini", "open")
        alerts.circuit_changed("openai/gpt-4o-mini", "closed")  # closed again: nothing to say
        alerts._opened["openai/gpt-4o"] -= 61  # open for longer than circuit_open_seconds
    for _ in range(3):  # both instances look three times
        for alerts in instances:
            alerts.check(keys)
        for alerts in instances:
            await alerts.flush()

    json_posts = [orjson.loads(body) for path, _, body in state.posts if path == "/json"]
    assert sorted(post["type"] for post in json_posts) == ["circuit_open", "key_expiring"]
    expiring = next(post for post in json_posts if post["type"] == "key_expiring")
    assert expiring["details"]["key_id"] == "soon" and "label-soon" in expiring["text"]
    circuit = next(post for post in json_posts if post["type"] == "circuit_open")
    assert circuit["details"]["deployment"] == "openai/gpt-4o"
    for path, headers, body in state.posts:
        if path == "/json":
            signed = headers["X-Babelgate-Timestamp"].encode() + b"." + body
            digest = hmac.new(b"hook-secret-0123", signed, hashlib.sha256).hexdigest()
            assert headers["X-Babelgate-Signature"] == f"sha256={digest}"
        else:
            assert "X-Babelgate-Signature" not in headers  # no secret, no signature
    slack = [orjson.loads(body) for path, _, body in state.posts if path == "/slack"]
    assert len(slack) == 2 and all(set(post) == {"text"} for post in slack)

    recorded: list[dict[str, Any]] = await instances[1].recorded()
    assert sorted(alert["type"] for alert in recorded) == ["circuit_open", "key_expiring"]
    assert all(len(alert["deliveries"]) == 2 and all(d["delivered"] for d in alert["deliveries"]) for alert in recorded)
    for alerts in instances:
        await alerts.close()
    await store.close()


def test_the_thresholds_a_spend_crosses() -> None:
    thresholds = [50.0, 80.0, 100.0]
    assert crossed(thresholds, 10, 0, 4) == []
    assert crossed(thresholds, 10, 4, 5) == [50.0]  # reaching a threshold crosses it
    assert crossed(thresholds, 10, 5, 5.5) == []  # already past: not again
    assert crossed(thresholds, 10, 4.9, 12) == [50.0, 80.0, 100.0]  # one request past three
    assert crossed(thresholds, 0, 0, 0.01) == [50.0, 80.0, 100.0]  # a budget of nothing: any spend
