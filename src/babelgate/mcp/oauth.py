"""OAuth 2.0 client credentials for an upstream MCP server (RFC 6749 section 4.4): the gateway asks the
token endpoint for a token, sends it as a bearer and keeps it until shortly before it expires; a 401
from the server gets one fresh token. The client secret never leaves this module but to the token
endpoint."""

from __future__ import annotations

import asyncio
import time
from base64 import b64encode
from collections.abc import AsyncGenerator
from typing import Final
from urllib.parse import quote

import httpx2

from babelgate.config.models import McpOAuthConfig

EARLY_SECONDS: Final = 60.0  # renew this long before the token expires
DEFAULT_LIFETIME: Final = 300.0  # when the token endpoint does not say


class ClientCredentials(httpx2.Auth):
    def __init__(self, config: McpOAuthConfig) -> None:
        self.config = config
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    def _token_request(self) -> httpx2.Request:
        form = {"grant_type": "client_credentials"}
        if self.config.scope:
            form["scope"] = self.config.scope
        if self.config.audience:
            form["audience"] = self.config.audience
        # client_secret_basic (RFC 6749 section 2.3.1): the form-encoded id and secret as HTTP Basic.
        basic = f"{quote(self.config.client_id, safe='')}:{quote(self.config.client_secret, safe='')}"
        return httpx2.Request(
            "POST",
            self.config.token_url,
            data=form,
            headers={"Accept": "application/json", "Authorization": "Basic " + b64encode(basic.encode()).decode()},
        )

    def _absorb(self, response: httpx2.Response) -> None:
        if response.status_code != 200:
            raise httpx2.HTTPStatusError(
                f"token endpoint answered {response.status_code}", request=response.request, response=response
            )
        body = response.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ValueError("the token endpoint's answer has no access_token")
        lifetime = body.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else DEFAULT_LIFETIME
        self._token = token
        self._expires = time.monotonic() + max(1.0, seconds - min(EARLY_SECONDS, seconds / 2))

    async def async_auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        async with self._lock:
            if self._token is None or time.monotonic() >= self._expires:
                response = yield self._token_request()
                await response.aread()
                self._absorb(response)
            token = self._token
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:  # revoked or rotated early: one fresh token
            async with self._lock:
                if self._token == token:
                    fresh = yield self._token_request()
                    await fresh.aread()
                    self._absorb(fresh)
                request.headers["Authorization"] = f"Bearer {self._token}"
            yield request
