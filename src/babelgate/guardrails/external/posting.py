"""A JSON POST to a checker's service, on a session opened with the first question and closed with the gateway's
services (external/__init__.py): a status other than 200, or a body that is not JSON, is the checker's failure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import aiohttp


class JsonPoster:
    def __init__(self, headers: Mapping[str, str]) -> None:
        self.headers = {"content-type": "application/json", **headers}
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, body: Any) -> Any:
        session = self._session
        if session is None:
            import aiohttp  # only when a guardrail of this kind is configured

            session = self._session = aiohttp.ClientSession()
        async with session.post(url, data=orjson.dumps(body), headers=self.headers) as answer:
            if answer.status != 200:
                raise ValueError(f"the service answered HTTP {answer.status}")
            try:
                return orjson.loads(await answer.read())
            except orjson.JSONDecodeError:
                raise ValueError("the service answered something that is not JSON") from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
