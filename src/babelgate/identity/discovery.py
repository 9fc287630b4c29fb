"""Reading an identity provider's public documents: its discovery document (`/.well-known/openid-configuration`)
and its key set. Never on a request's hot path: the key set is read in the background (jwks.py) and the
discovery document once, when first needed (it names the endpoints and the key set's address)."""

from __future__ import annotations

import base64
from typing import Any, Final
from urllib.parse import quote

import orjson

TIMEOUT_SECONDS: Final = 10.0
MAX_BYTES: Final = 1 << 20  # a discovery document or a key set is a few KiB


class ProviderUnreachable(Exception):
    """The identity provider did not answer, or not with what was asked for."""


async def get_json(
    url: str, *, form: dict[str, str] | None = None, bearer: str | None = None, basic: tuple[str, str] | None = None
) -> dict[str, Any]:
    """GET `url` (or POST `form` to it) and its JSON object answer; ProviderUnreachable otherwise.
    `basic`: a client id and secret, sent as HTTP Basic the way OAuth 2.0 says (RFC 6749 2.3.1)."""
    headers = {"accept": "application/json"}
    if bearer is not None:
        headers["authorization"] = f"Bearer {bearer}"
    if basic is not None:
        pair = f"{quote(basic[0], safe='')}:{quote(basic[1], safe='')}".encode()
        headers["authorization"] = "Basic " + base64.b64encode(pair).decode()
    import aiohttp  # with the first read of an identity provider's documents, not with every gateway

    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)) as session,
            session.request("POST" if form is not None else "GET", url, data=form, headers=headers) as answer,
        ):
            body = await answer.content.read(MAX_BYTES)
            status = answer.status
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
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


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


async def discover(issuer: str) -> dict[str, Any]:
    """The provider's discovery document, checked to be the issuer's own (OpenID Connect Discovery 4.3)."""
    document = await get_json(discovery_url(issuer))
    if str(document.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        raise ProviderUnreachable(f"{discovery_url(issuer)} names another issuer: {document.get('issuer')!r}")
    return document
