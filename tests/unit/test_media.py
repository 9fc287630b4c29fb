"""Safe fetching of client media URLs (providers/media.py), against a media host on 127.0.0.1.

Every socket connect in this module is watched: one to anything but 127.0.0.1 fails the test, and
refused URLs must be refused before any connect at all.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from typing import Any

import pytest
from aiohttp import web

from babelgate.errors import InvalidRequest, UpstreamConnectionFailed, UpstreamError, UpstreamTimeout
from babelgate.providers.media import (
    USER_AGENT,
    Media,
    MediaFetcher,
    MediaPolicy,
    check_address,
    check_content_type,
    read_capped,
)
from tests.ssrf_cases import REDIRECT_TARGETS, REFUSED_ANSWERS, REFUSED_URLS, FakeResolver, watched_connects

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PARAM = "messages[0].content[1].image_url"
LOOPBACK_ONLY = MediaPolicy(allow_http=True, allow_private_hosts=frozenset({"127.0.0.1"}), max_bytes=4096)
OPEN = MediaPolicy(allow_http=True, allow_private=True, max_bytes=4096, timeout=5)


# ---------------------------------------------------------------- the loopback media host


class MediaHost:
    """An aiohttp server on 127.0.0.1 with one route per behaviour under test."""

    def __init__(self) -> None:
        self.requests: list[web.Request] = []
        self.release_slow = asyncio.Event()
        app = web.Application()
        app.router.add_get("/image.png", self._image)
        app.router.add_get("/typed", self._typed)
        app.router.add_get("/large", self._large)
        app.router.add_get("/stream", self._stream)
        app.router.add_get("/slow", self._slow)
        app.router.add_get("/status/{status}", self._status)
        app.router.add_get("/redirect", self._redirect)
        app.router.add_get("/loop/{n}", self._loop)
        self._runner = web.AppRunner(app)
        self.port = 0

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self.release_slow.set()
        await self._runner.cleanup()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def _image(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        return web.Response(body=PNG, content_type="image/png")

    async def _typed(self, request: web.Request) -> web.Response:
        return web.Response(body=b"%PDF-1.7", headers={"Content-Type": request.query["type"]})

    async def _large(self, request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 10_000, content_type="image/png")

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        """A chunked body with no Content-Length, far larger than the test policies allow."""
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        with suppress(ConnectionError):
            for _ in range(1000):
                await response.write(b"y" * 1024)
        return response

    async def _slow(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        await response.prepare(request)
        with suppress(ConnectionError):
            await response.write(b"first bytes")
        await self.release_slow.wait()
        return response

    async def _status(self, request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["status"]), text="no", content_type="image/png")

    async def _redirect(self, request: web.Request) -> web.Response:
        headers = {"Location": request.query["to"]} if "to" in request.query else {}
        return web.Response(status=int(request.query.get("status", "302")), headers=headers)

    async def _loop(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        return web.Response(status=302, headers={"Location": f"/loop/{int(request.match_info['n']) + 1}"})


@pytest.fixture
async def host() -> AsyncIterator[MediaHost]:
    server = MediaHost()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(autouse=True)
def connects(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    yield from watched_connects(monkeypatch)


async def fetch(policy: MediaPolicy, url: str, **kwargs: Any) -> Media:
    fetcher = MediaFetcher(policy, **kwargs)
    try:
        return await fetcher.fetch(url, param=PARAM)
    finally:
        await fetcher.close()


async def refusal(policy: MediaPolicy, url: str, **kwargs: Any) -> str:
    """The detail of the InvalidRequest a fetch of `url` raises."""
    with pytest.raises(InvalidRequest) as caught:
        await fetch(policy, url, **kwargs)
    error = caught.value
    assert (type(error), error.message_key, error.param, error.status) == (InvalidRequest, "invalid_value", PARAM, 400)
    return str(error.params["detail"])


# ---------------------------------------------------------------- fetching what is allowed


async def test_image_is_fetched_with_its_mime_type(host: MediaHost, connects: list[tuple[str, int]]) -> None:
    media = await fetch(OPEN, host.url("/image.png"))
    assert media == Media(mime_type="image/png", data=PNG)
    assert connects == [("127.0.0.1", host.port)]


async def test_request_carries_no_cookies_or_credentials(host: MediaHost, connects: list[tuple[str, int]]) -> None:
    await fetch(OPEN, host.url("/image.png"))
    headers = host.requests[0].headers
    assert headers["User-Agent"] == USER_AGENT
    assert not {"Cookie", "Authorization", "Proxy-Authorization", "Referer"} & set(headers)


async def test_allowed_private_host_is_reachable_by_exact_address(
    host: MediaHost, connects: list[tuple[str, int]]
) -> None:
    assert (await fetch(LOOPBACK_ONLY, host.url("/image.png"))).data == PNG


async def test_content_type_parameters_are_stripped(host: MediaHost, connects: list[tuple[str, int]]) -> None:
    media = await fetch(OPEN, host.url("/typed?type=Application/PDF;%20version=1.7"))
    assert media == Media(mime_type="application/pdf", data=b"%PDF-1.7")


async def test_redirect_to_another_loopback_url_is_followed(host: MediaHost, connects: list[tuple[str, int]]) -> None:
    absolute = host.url("/redirect?to=" + host.url("/image.png"))
    assert (await fetch(LOOPBACK_ONLY, absolute)).data == PNG
    assert (await fetch(LOOPBACK_ONLY, host.url("/redirect?status=307&to=/image.png"))).data == PNG


async def test_up_to_max_redirects_are_followed(host: MediaHost, connects: list[tuple[str, int]]) -> None:
    policy = MediaPolicy(allow_http=True, allow_private=True, max_redirects=1)
    assert (await fetch(policy, host.url("/redirect?to=/image.png"))).data == PNG


# ---------------------------------------------------------------- refused before any connection


@pytest.mark.parametrize("url", REFUSED_URLS)
async def test_refused_before_any_connection(url: str, connects: list[tuple[str, int]]) -> None:
    started = time.monotonic()
    assert await refusal(MediaPolicy(), url)
    assert connects == []
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("url", ["http://127.0.0.1/x", "http://169.254.169.254/", "http://[::1]/x"])
async def test_private_address_refused_even_with_http_allowed(url: str, connects: list[tuple[str, int]]) -> None:
    assert "address" in await refusal(MediaPolicy(allow_http=True), url)
    assert connects == []


async def test_scheme_refusals_say_why(connects: list[tuple[str, int]]) -> None:
    assert await refusal(MediaPolicy(), "http://example.com/x") == "plain http URLs are not fetched; use https"
    assert await refusal(MediaPolicy(), "file:///etc/passwd") == "only https URLs are fetched"
    assert "169.254" not in await refusal(MediaPolicy(), "https://169.254.169.254/")  # no addresses echoed


async def test_loopback_media_host_refused_under_default_policy(
    host: MediaHost, connects: list[tuple[str, int]]
) -> None:
    await refusal(MediaPolicy(allow_http=True), host.url("/image.png"))
    await refusal(MediaPolicy(allow_http=True), host.url("/image.png", host="localhost"))
    assert connects == []
    assert host.requests == []


async def test_allowed_host_list_is_exact(host: MediaHost, connects: list[tuple[str, int]]) -> None:
    assert "loopback" in await refusal(LOOPBACK_ONLY, host.url("/image.png", host="127.0.0.2"))
    assert "loopback" in await refusal(LOOPBACK_ONLY, host.url("/image.png", host="[::ffff:127.0.0.1]"))
    assert connects == []


async def test_redirect_into_metadata_address_refused(host: MediaHost, connects: list[tuple[str, int]]) -> None:
    for target in REDIRECT_TARGETS:
        await refusal(LOOPBACK_ONLY, host.url(f"/redirect?to={target}"))
    assert {target for target, _ in connects} == {"127.0.0.1"}


async def test_too_many_redirects_refused(host: MediaHost, connects: list[tuple[str, int]]) -> None:
    detail = await refusal(LOOPBACK_ONLY, host.url("/loop/0"))
    assert detail == "the media URL redirects more than 3 times"
    assert [request.path for request in host.requests] == ["/loop/0", "/loop/1", "/loop/2", "/loop/3"]


async def test_redirect_without_location_refused(host: MediaHost, connects: list[tuple[str, int]]) -> None:
    assert "without a Location" in await refusal(OPEN, host.url("/redirect"))


# ---------------------------------------------------------------- names: resolved once, every address checked


async def test_name_is_resolved_once_and_connected_to_the_checked_address(
    host: MediaHost, connects: list[tuple[str, int]]
) -> None:
    resolver = FakeResolver("127.0.0.1")
    media = await fetch(LOOPBACK_ONLY, host.url("/image.png", host="media.example"), resolver=resolver)
    assert media.data == PNG
    assert resolver.lookups == ["media.example"]
    assert connects == [("127.0.0.1", host.port)]
    assert host.requests[0].headers["Host"] == f"media.example:{host.port}"


@pytest.mark.parametrize("addresses", REFUSED_ANSWERS)
async def test_name_refused_if_any_address_is_not_allowed(
    host: MediaHost, connects: list[tuple[str, int]], addresses: tuple[str, ...]
) -> None:
    resolver = FakeResolver(*addresses)
    await refusal(LOOPBACK_ONLY, host.url("/image.png", host="media.example"), resolver=resolver)
    assert resolver.lookups == ["media.example"]
    assert connects == []


async def test_localhost_resolved_by_the_system_is_refused(connects: list[tuple[str, int]]) -> None:
    # /etc/hosts answers this: no DNS server is asked.
    assert "loopback" in await refusal(MediaPolicy(), "https://localhost:1/x")
    assert connects == []


# ---------------------------------------------------------------- the answer


async def test_too_large_by_content_length(host: MediaHost, connects: list[tuple[str, int]]) -> None:
    detail = await refusal(OPEN, host.url("/large"))
    assert detail == "the media is larger than the gateway's limit of 4096 bytes"


async def test_too_large_while_streaming_without_content_length(
    host: MediaHost, connects: list[tuple[str, int]]
) -> None:
    assert "larger than" in await refusal(OPEN, host.url("/stream"))


async def test_read_capped_stops_at_the_chunk_that_passes_the_limit() -> None:
    pulled: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for index in range(100):
            pulled.append(index)
            yield b"z" * 10

    assert await read_capped(chunks(), 25) is None
    assert pulled == [0, 1, 2]
    assert await read_capped(chunks(), 1000) == b"z" * 1000
    assert await read_capped(chunks(), 999) is None


@pytest.mark.parametrize(
    "content_type", ["application/octet-stream", "text", "application/json", "application/pdfx", "image", ""]
)
async def test_content_type_refused(host: MediaHost, connects: list[tuple[str, int]], content_type: str) -> None:
    detail = await refusal(OPEN, host.url(f"/typed?type={content_type}"))
    assert "Content-Type" in detail or "is not accepted" in detail


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("image/png", "image/png"),
        ("IMAGE/WebP; q=1", "image/webp"),
        ("application/pdf", "application/pdf"),
        ("audio/mpeg", "audio/mpeg"),
        ("video/mp4", "video/mp4"),
        ("text/plain; charset=utf-8", "text/plain"),
    ],
)
def test_content_type_accepted(header: str, expected: str) -> None:
    assert check_content_type(header, MediaPolicy()) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        " ; charset=utf-8",
        "application/pdf+zip",
        "image/svg+xml bad",
        "image/png\x01",
        "image/png\r\nX-Injected: 1",
    ],
)
def test_content_type_missing_or_odd_is_refused(header: str | None) -> None:
    with pytest.raises(Exception, match=r"Content-Type|not accepted"):
        check_content_type(header, MediaPolicy())


def test_allowed_types_are_configurable() -> None:
    policy = MediaPolicy(allowed_types=("image/png",))
    assert check_content_type("image/png", policy) == "image/png"
    with pytest.raises(Exception, match="not accepted"):
        check_content_type("image/jpeg", policy)


async def test_4xx_from_media_host_is_the_clients_problem(host: MediaHost, connects: list[tuple[str, int]]) -> None:
    assert await refusal(OPEN, host.url("/status/404")) == "the media host answered HTTP 404"
    assert await refusal(OPEN, host.url("/status/403")) == "the media host answered HTTP 403"


async def test_5xx_from_media_host_is_an_upstream_error(host: MediaHost, connects: list[tuple[str, int]]) -> None:
    with pytest.raises(UpstreamError) as caught:
        await fetch(OPEN, host.url("/status/500"))
    assert (caught.value.status, caught.value.params) == (502, {"provider": "media", "upstream_status": 500})


async def test_timeout_covers_the_whole_fetch(host: MediaHost, connects: list[tuple[str, int]]) -> None:
    policy = MediaPolicy(allow_http=True, allow_private=True, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as caught:
        await fetch(policy, host.url("/slow"))
    assert caught.value.params == {"provider": "media", "phase": "media fetch"}
    assert time.monotonic() - started < 2.0


async def test_connection_failure(connects: list[tuple[str, int]]) -> None:
    with socket.socket() as placeholder:  # a port nothing listens on: bound, never listening
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
        with pytest.raises(UpstreamConnectionFailed) as caught:
            await fetch(OPEN, f"http://127.0.0.1:{port}/x")
    assert caught.value.params == {"provider": "media"}


async def test_fetcher_is_reusable_and_closes(host: MediaHost, connects: list[tuple[str, int]]) -> None:
    fetcher = MediaFetcher(OPEN)
    first = await fetcher.fetch(host.url("/image.png"), param=PARAM)
    second = await fetcher.fetch(host.url("/image.png"), param=PARAM)
    assert first == second
    await fetcher.close()
    await fetcher.close()
    assert (await fetcher.fetch(host.url("/image.png"), param=PARAM)).data == PNG  # a new session on demand
    await fetcher.close()


# ---------------------------------------------------------------- the address check itself


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::", "64:ff9b::808:808"]
)
def test_public_addresses_pass(address: str) -> None:
    check_address(ipaddress.ip_address(address), MediaPolicy())


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.255.254",
        "10.1.2.3",
        "172.31.255.255",
        "192.168.0.1",
        "169.254.169.254",
        "100.127.255.255",
        "0.0.0.0",
        "0.1.2.3",
        "224.0.0.251",
        "192.0.2.1",
        "198.18.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fec0::1",
        "ff05::2",
        "::ffff:10.0.0.1",
        "::127.0.0.1",
        "2002:c0a8:101::",
        "64:ff9b::c0a8:101",
        "2001:db8::1",
        "2001::1",
    ],
)
def test_non_public_addresses_refused(address: str) -> None:
    with pytest.raises(Exception, match="address"):
        check_address(ipaddress.ip_address(address), MediaPolicy())


def test_policy_normalises_and_validates_allowed_hosts() -> None:
    assert MediaPolicy(allow_private_hosts=frozenset({"0:0::1"})).allow_private_hosts == frozenset({"::1"})
    with pytest.raises(ValueError):
        MediaPolicy(allow_private_hosts=frozenset({"internal.example"}))
    with pytest.raises(ValueError):
        MediaPolicy(max_bytes=0)
