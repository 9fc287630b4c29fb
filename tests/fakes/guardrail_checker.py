"""An external guardrail checker speaking the gateway's `http` contract (docs/guardrails.md), one behaviour a
path: `/allow`, `/block`, `/mask` (digits become `#`), `/slow` (answers once the test is over), `/broken` (a 500),
`/garbled` (an unknown action), `/after` (answers as `/block` once `after()` holds: a check that can only end once
the upstream was called). It checks every body it receives against the contract and keeps them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

_FIELDS = {"stage", "text", "model", "key_id"}


class FakeChecker:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self._over = asyncio.Event()
        self.after: Callable[[], bool] = lambda: True
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{behaviour}", self._check)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self._over.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _check(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self.received.append(body)
        if set(body) != _FIELDS or body["stage"] not in ("input", "output") or not isinstance(body["text"], str):
            self.violations.append(f"not the contract: {body!r}")
        if request.content_type != "application/json":
            self.violations.append(f"content type {request.content_type}")
        behaviour = request.match_info["behaviour"]
        if behaviour == "slow":
            await asyncio.wait_for(self._over.wait(), 60)
        if behaviour == "after":
            async with asyncio.timeout(30):
                # Another server's state, which no event of ours signals.
                while not self.after():  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            behaviour = "block"
        if behaviour == "broken":
            return web.Response(status=500, text="checker down")
        if behaviour == "garbled":
            return web.json_response({"action": "maybe"})
        if behaviour == "block" and "forbidden" in body["text"]:
            return web.json_response({"action": "block", "reason": "forbidden topic"})
        if behaviour == "mask" and re.search(r"\d", body["text"]):
            return web.json_response({"action": "mask", "text": re.sub(r"\d", "#", body["text"])})
        return web.json_response({"action": "allow"})
