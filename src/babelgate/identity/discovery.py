"""Reading an identity provider's public documents: its discovery document (`/.well-known/openid-configuration`)
and its key set. Never on a request's hot path: the key set is read in the background (jwks.py) and the
discovery document once, when first needed (it names the endpoints and the key set's address)."""

from __future__ import annotations

import asyncio
import base64
import http.client
import urllib.error
import urllib.request
from typing import Any, Final
from urllib.parse import quote, urlencode

import orjson

TIMEOUT_SECONDS: Final = 10.0  # to connect, and for each read of the answer
MAX_BYTES: Final = 1 << 20  # a discovery document or a key set is a few KiB
# The standard library's client, in a thread: these reads are rare and off every request's path, and an HTTP
# library of its own (aiohttp, ~14 MiB) would be held by every gateway with JWT callers for them. No proxy from
# the environment (as the gateway's other clients); redirects followed, TLS verified as by default.
_OPENER: Final = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ProviderUnreachable(Exception):
    """The identity provider did not answer, or not with what was asked for."""


async def get_json(
    url: str, *, form: dict[str, str] | None = None, bearer: str | None = None, basic: tuple[str, str] | None = None
) -> dict[str, Any]:
    """GET `url` (or POST `form` to it) and its JSON object answer; ProviderUnreachable otherwise.
    `basic`: a client id and secret, sent as HTTP Basic the way OAuth 2.0 says (RFC 6749 2.3.1)."""
    headers = {"Accept": "application/json"}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    if basic is not None:
        pair = f"{quote(basic[0], safe='')}:{quote(basic[1], safe='')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    data = urlencode(form).encode() if form is not None else None
    try:
        status, body = await asyncio.to_thread(_fetch, url, data, headers)
    except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError and timeouts are OSErrors
        raise ProviderUnreachable(f"{url}: {type(exc).__name__}: {exc}") from None
    try:
        found = orjson.loads(body)
    except orjson.JSONDecodeError:
        found = None
    if not isinstance(found, dict):
        raise ProviderUnreachable(f"{url}: answered {status} without a JSON object")
    if status >= 400:
        # The error's code and description only (an OAuth error answer never holds a secret of ours).
        raise ProviderUnreachable(
            f"{url}: {status} {found.get('error')} {found.get('error_description') or ''}".strip()
        )
    return found


def _fetch(url: str, data: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
    try:
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as answer:
            return int(answer.status), answer.read(MAX_BYTES)
    except urllib.error.HTTPError as error:  # 4xx and 5xx: their body still says why
        with error:
            return error.code, error.read(MAX_BYTES)


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


async def discover(issuer: str) -> dict[str, Any]:
    """The provider's discovery document, checked to be the issuer's own (OpenID Connect Discovery 4.3)."""
    document = await get_json(discovery_url(issuer))
    if str(document.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        raise ProviderUnreachable(f"{discovery_url(issuer)} names another issuer: {document.get('issuer')!r}")
    return document
