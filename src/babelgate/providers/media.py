"""Fetches the image and file URLs a client put in a request, for providers that need the bytes inline.

The URL is the client's, but the connection comes from the gateway's network, so a careless fetch
would let any client read the cloud metadata service or internal hosts (SSRF). Every hop is
therefore checked before anything is sent:

* scheme: https only (http when `MediaPolicy.allow_http`); no credentials in the URL;
* host: an IP literal must be spelled canonically and be a public address; a name is resolved
  once, by the session's own resolver, and refused if ANY address it yields is not public (the
  checks are destinations.py's, which the tool loop's MCP client shares); the
  connection then goes to exactly the addresses that were checked (no second lookup, so DNS
  rebinding cannot swap them);
* redirects are followed by hand, each new URL checked again, at most `max_redirects`;
* the answer: a 2xx status, an allowed Content-Type, at most `max_bytes` (the body is abandoned
  as soon as it passes the limit), all within `timeout` seconds.

What the client caused is an `InvalidRequest` naming the request field (`param`); what the media
host failed at is an `Upstream*` error with provider "media".
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Final

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from babelgate.errors import (
    InvalidRequest,
    UpstreamConnectionFailed,
    UpstreamError,
    UpstreamTimeout,
)
from babelgate.providers.destinations import Refused as _Refused
from babelgate.providers.destinations import check_address as check_address
from babelgate.providers.destinations import check_resolved, check_url, parse_url
from babelgate.providers.media_policy import MediaPolicy as MediaPolicy  # its policy, re-exported

DEFAULT_POLICY: Final = MediaPolicy()
PROVIDER: Final = "media"  # the provider name in Upstream* errors
USER_AGENT: Final = "babelgate-media-fetcher"
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
# Identity, so that a small compressed body cannot unpack past the size cap inside one chunk
# (aiohttp still decodes a server that compresses anyway, so the bytes stay right).
REQUEST_HEADERS: Final = {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity"}
MIME_TYPE: Final = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")


@dataclass(frozen=True, slots=True)
class Media:
    mime_type: str
    data: bytes


class MediaFetcher:
    """Fetches media URLs with its own session: no cookies, no proxies from the environment."""

    def __init__(self, policy: MediaPolicy = DEFAULT_POLICY, *, resolver: AbstractResolver | None = None) -> None:
        """`resolver` does the name lookups under the check: the system's unless given (tests give a fake)."""
        self._policy = policy
        self._lookup = resolver
        self._session: aiohttp.ClientSession | None = None
        self._resolver: CheckingResolver | None = None

    async def fetch(self, url: str, *, param: str) -> Media:
        """The body and media type behind `url`; `param` is the request field that held it."""
        try:
            async with asyncio.timeout(self._policy.timeout):
                return await self._follow(parse_url(url))
        except _Refused as refused:
            raise InvalidRequest("invalid_value", param=param, detail=refused.detail) from None
        except TimeoutError:  # before OSError: TimeoutError is one
            raise UpstreamTimeout(provider=PROVIDER, phase="media fetch") from None
        except aiohttp.InvalidURL:
            raise InvalidRequest("invalid_value", param=param, detail="the URL is not valid") from None
        except (aiohttp.ClientError, OSError):
            raise UpstreamConnectionFailed(provider=PROVIDER) from None

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        if self._resolver is not None:
            await self._resolver.close()  # a connector only closes resolvers it created itself
        self._session = self._resolver = None

    def _get_session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            self._resolver = CheckingResolver(self._policy, self._lookup or aiohttp.ThreadedResolver())
            # No DNS cache: every new connection resolves, and so is checked, afresh.
            connector = aiohttp.TCPConnector(resolver=self._resolver, use_dns_cache=False, limit=100)
            session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                timeout=aiohttp.ClientTimeout(total=None),  # asyncio.timeout in fetch() bounds it all
            )
            self._session = session
        return session

    async def _follow(self, url: URL) -> Media:
        for _hop in range(self._policy.max_redirects + 1):
            check_url(url, self._policy)
            async with self._get_session().get(url, headers=REQUEST_HEADERS, allow_redirects=False) as response:
                location = _redirect_location(response)
                if location is None:
                    return await _read_media(response, self._policy)
            url = _join(url, location)
        raise _Refused(f"the media URL redirects more than {self._policy.max_redirects} times")


class CheckingResolver(AbstractResolver):
    """Resolves with the system resolver and refuses the name if any address is not public.

    aiohttp connects to exactly the addresses returned here, so the address checked is the
    address connected to.
    """

    def __init__(self, policy: MediaPolicy, resolver: AbstractResolver) -> None:
        self._policy = policy
        self._resolver = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        for result in results:
            check_resolved(result["host"], self._policy)
        return results

    async def close(self) -> None:
        await self._resolver.close()


def _join(url: URL, location: str) -> URL:
    try:
        return url.join(URL(location))
    except (ValueError, TypeError):
        raise _Refused("the media host redirected to an invalid URL") from None


def _redirect_location(response: aiohttp.ClientResponse) -> str | None:
    if response.status not in REDIRECT_STATUSES:
        return None
    location = response.headers.get("Location")
    if not location:
        raise _Refused(f"the media host answered HTTP {response.status} without a Location")
    return location


async def _read_media(response: aiohttp.ClientResponse, policy: MediaPolicy) -> Media:
    try:
        _check_status(response.status)
        mime_type = check_content_type(response.headers.get("Content-Type"), policy)
        if response.content_length is not None and response.content_length > policy.max_bytes:
            raise _Refused(_too_large(policy))
        data = await read_capped(response.content.iter_any(), policy.max_bytes)
        if data is None:
            raise _Refused(_too_large(policy))
    except BaseException:
        response.close()  # drop the connection instead of reading the rest of an unwanted body
        raise
    return Media(mime_type=mime_type, data=data)


def _check_status(status: int) -> None:
    if 200 <= status < 300:
        return
    if 400 <= status < 500:
        raise _Refused(f"the media host answered HTTP {status}")
    if status >= 500:
        raise UpstreamError(provider=PROVIDER, upstream_status=status)
    raise _Refused(f"the media host answered HTTP {status} instead of the media")


def check_content_type(header: str | None, policy: MediaPolicy) -> str:
    """The media type without parameters, if the policy accepts it."""
    mime_type = (header or "").split(";", 1)[0].strip().lower()
    if not mime_type:
        raise _Refused("the media host sent no Content-Type")
    if not MIME_TYPE.fullmatch(mime_type):
        raise _Refused("the media host sent an invalid Content-Type")
    if not any(
        mime_type.startswith(allowed) if allowed.endswith("/") else mime_type == allowed
        for allowed in policy.allowed_types
    ):
        raise _Refused(f"media of type {mime_type} is not accepted")
    return mime_type


async def read_capped(chunks: AsyncIterable[bytes], limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes `limit`: at most one chunk past it is held."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _too_large(policy: MediaPolicy) -> str:
    return f"the media is larger than the gateway's limit of {policy.max_bytes} bytes"
