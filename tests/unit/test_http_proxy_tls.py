"""The upstream client's proxies and TLS settings (http/proxy.py, http/tls.py), against real sockets on
127.0.0.1: pools kept apart per TLS setting, the errors an operator reads (never a password), the
reading of NO_PROXY, and the provider config's `proxy` and `tls` keys."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from babelgate.config import ProviderConfig
from babelgate.errors import UpstreamConnectionFailed
from babelgate.http import Timeouts, UpstreamClient, read_body
from babelgate.http.proxy import Proxy, environment_proxy, parse_proxy
from babelgate.http.tls import TlsContexts
from tests.fakes.pki import make_pki, server_context
from tests.fakes.proxy import FakeProxy
from tests.unit.test_http import answer, read_request

QUICK = Timeouts(connect=2, read=2, total=None)
PASSWORD = "pr0xy-Secret-PW"
PROXY_VARIABLES = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield


class TLSUpstream:
    """An https upstream that answers every request with the peer certificate's subject it saw
    (or "-"), and counts its connections."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> TLSUpstream:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.context)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):  # the test's event loop ends with no connection left
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        peer = writer.get_extra_info("peercert")
        subject = dict(item[0] for item in peer["subject"])["commonName"] if peer else "-"
        try:
            while True:
                await read_request(reader)
                writer.write(answer(subject.encode()))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            writer.close()


@pytest.fixture
async def client() -> AsyncIterator[UpstreamClient]:
    client = UpstreamClient()
    yield client
    await client.close()


async def ask(client: UpstreamClient, url: str, provider: str = "p") -> bytes:
    response = await client.send("POST", url + "/v1/chat", provider=provider, headers={}, body=b"{}", timeouts=QUICK)
    return await read_body(response)


# --- TLS settings ---------------------------------------------------------------------------------------


async def test_providers_with_different_tls_settings_never_share_a_connection(
    client: UpstreamClient, pki: dict[str, str]
) -> None:
    contexts = TlsContexts()  # the gateway's
    async with TLSUpstream(server_context(pki, client_certificate=ssl.CERT_OPTIONAL)) as upstream:
        url = f"https://127.0.0.1:{upstream.port}"
        client.configure("plain", tls=contexts.get(provider="plain", ca_bundle=pki["ca"]))
        client.configure(
            "mutual",
            tls=contexts.get(
                provider="mutual", ca_bundle=pki["ca"], client_cert=pki["client"], client_key=pki["client_key"]
            ),
        )
        client.configure("same", tls=contexts.get(provider="same", ca_bundle=pki["ca"]))
        assert await ask(client, url, "plain") == b"-"
        assert await ask(client, url, "mutual") == b"babelgate"  # its own connection, with its certificate
        assert await ask(client, url, "same") == b"-"  # the same settings as "plain": its connection
        assert await ask(client, url, "plain") == b"-"
        assert upstream.connections == 2


def test_one_context_per_setting_read_again_when_a_file_changes(pki: dict[str, str], tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(Path(pki["ca"]).read_bytes())
    contexts = TlsContexts()
    first = contexts.get(provider="a", ca_bundle=str(bundle))
    assert contexts.get(provider="b", ca_bundle=str(bundle)) is first
    assert contexts.get(provider="a", ca_bundle=str(bundle), verify=False) is not first
    assert TlsContexts().get(provider="a", ca_bundle=str(bundle)) is not first  # another gateway's are its own
    bundle.write_bytes(Path(pki["ca"]).read_bytes() + b"\n")  # a renewed bundle
    os.utime(bundle, ns=(0, 10**18))
    assert contexts.get(provider="a", ca_bundle=str(bundle)) is not first


async def test_verification_is_on_unless_turned_off_and_off_is_warned_once(
    client: UpstreamClient, pki: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    async with TLSUpstream(server_context(pki, certificate="stranger")) as upstream:
        url = f"https://127.0.0.1:{upstream.port}"
        with pytest.raises(UpstreamConnectionFailed) as caught:
            await ask(client, url)
        message = str(caught.value)
        assert "TLS certificate was not accepted" in message and "tls.ca_bundle" in message
        with caplog.at_level(logging.WARNING, "babelgate.http"):
            for _ in range(2):  # a reload with the same setting does not warn again
                client.configure("lax", tls=TlsContexts().get(provider="lax", verify=False))
        assert [r.getMessage() for r in caplog.records].count(
            "provider lax: TLS verification is off; anyone on the path can read and change its traffic"
        ) == 1
        assert await ask(client, url, "lax") == b"-"


async def test_a_client_certificate_is_presented_to_an_upstream_that_requires_one(
    client: UpstreamClient, pki: dict[str, str]
) -> None:
    async with TLSUpstream(server_context(pki, client_certificate=ssl.CERT_REQUIRED)) as upstream:
        url = f"https://127.0.0.1:{upstream.port}"
        client.configure("without", tls=TlsContexts().get(provider="without", ca_bundle=pki["ca"]))
        with pytest.raises(UpstreamConnectionFailed):
            await ask(client, url, "without")
        client.configure(
            "with",
            tls=TlsContexts().get(
                provider="with", ca_bundle=pki["ca"], client_cert=pki["client"], client_key=pki["client_key"]
            ),
        )
        assert await ask(client, url, "with") == b"babelgate"


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"ca_bundle": "/nonexistent/ca.pem"}, "tls.ca_bundle"),
        ({"ca_bundle": "client_key"}, "tls.ca_bundle"),  # a key is no certificate
        ({"client_cert": "ca"}, "tls.client_cert"),  # a certificate without its key
        ({"client_key": "client_key"}, "tls.client_key"),  # a key without a certificate
        ({"client_cert": "client", "client_key": "encrypted_key"}, "tls.client_key"),
    ],
)
def test_tls_files_that_cannot_serve_are_errors_naming_the_key(
    pki: dict[str, str], tmp_path: Path, settings: dict[str, str], key: str
) -> None:
    from cryptography.hazmat.primitives import serialization

    encrypted = tmp_path / "encrypted.key"
    private = serialization.load_pem_private_key(Path(pki["client_key"]).read_bytes(), None)
    encrypted.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    files = {**pki, "encrypted_key": str(encrypted)}
    arguments = {name: files.get(value, value) for name, value in settings.items()}
    with pytest.raises(ValueError, match=rf"^{key}: "):
        TlsContexts().get(provider="p", **arguments)


# --- proxies ----------------------------------------------------------------------------------------------


@pytest.fixture
async def proxy() -> AsyncIterator[FakeProxy]:
    fake = FakeProxy(hosts={"upstream.test": "127.0.0.1"})
    await fake.start()
    yield fake
    await fake.stop()


async def test_https_through_the_proxy_is_pooled_per_tls_setting(
    client: UpstreamClient, proxy: FakeProxy, pki: dict[str, str]
) -> None:
    async with TLSUpstream(server_context(pki, client_certificate=ssl.CERT_OPTIONAL)) as upstream:
        url = f"https://upstream.test:{upstream.port}"
        through = parse_proxy(proxy.url())
        client.configure("a", tls=TlsContexts().get(provider="a", ca_bundle=pki["ca"]), proxy=through)
        client.configure(
            "b",
            tls=TlsContexts().get(
                provider="b", ca_bundle=pki["ca"], client_cert=pki["client"], client_key=pki["client_key"]
            ),
            proxy=through,
        )
        for provider in ("a", "b", "a", "b"):
            assert await ask(client, url, provider) == (b"-" if provider == "a" else b"babelgate")
        assert [seen.method for seen in proxy.seen] == ["CONNECT", "CONNECT"]
        assert upstream.connections == 2


async def test_an_explicit_proxy_is_used_even_for_loopback(client: UpstreamClient, proxy: FakeProxy) -> None:
    server = await asyncio.start_server(_answer_one, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        client.configure("p", proxy=parse_proxy(proxy.url(f"u:{PASSWORD}")))
        assert await ask(client, f"http://127.0.0.1:{port}") == b"{}"
        assert proxy.seen[0].target == f"http://127.0.0.1:{port}/v1/chat"
        assert proxy.seen[0].authorization == "Basic " + base64.b64encode(f"u:{PASSWORD}".encode()).decode()
    finally:
        server.close()


async def _answer_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(answer(b"{}"))
    await writer.drain()
    writer.close()


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_an_unreachable_proxy_is_named_without_its_password(
    client: UpstreamClient, scheme: str, caplog: pytest.LogCaptureFixture
) -> None:
    client.configure("p", proxy=parse_proxy(f"http://user:{PASSWORD}@127.0.0.1:9"))
    with caplog.at_level(logging.DEBUG), pytest.raises(UpstreamConnectionFailed) as caught:
        await ask(client, f"{scheme}://upstream.test")
    assert "the proxy 127.0.0.1:9 is unreachable" in str(caught.value)
    assert PASSWORD not in str(caught.value) and PASSWORD not in caplog.text


async def test_loopback_upstreams_ignore_the_environment_proxy(
    client: UpstreamClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So the test suite's fakes on 127.0.0.1 (and a local Ollama) work whatever the shell exports."""
    for name in PROXY_VARIABLES[:6]:
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    server = await asyncio.start_server(_answer_one, "127.0.0.1", 0)
    try:
        assert await ask(client, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}") == b"{}"
    finally:
        server.close()


async def test_an_unusable_environment_proxy_is_a_clear_error(
    client: UpstreamClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALL_PROXY", f"socks5://user:{PASSWORD}@127.0.0.1:1080")
    with pytest.raises(UpstreamConnectionFailed) as caught:
        await ask(client, "https://upstream.test")
    assert "HTTPS_PROXY (or ALL_PROXY)" in str(caught.value) and PASSWORD not in str(caught.value)


def test_a_proxy_keeps_its_credentials_out_of_its_repr() -> None:
    proxy = parse_proxy(f"http://user:{PASSWORD}@proxy.corp.example:3128")
    assert proxy.authorization is not None
    assert PASSWORD not in repr(proxy) and proxy.authorization not in repr(proxy)
    assert proxy.label == "proxy.corp.example:3128"
    assert parse_proxy("http://[fd00::1]:3128").label == "[fd00::1]:3128"
    assert parse_proxy("proxy.corp.example") == Proxy("proxy.corp.example", 80)


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "direct"),
    [
        ("*", "api.openai.com", 443, True),
        ("openai.com", "api.openai.com", 443, True),
        (".openai.com", "openai.com", 443, True),  # a leading dot: the domain and everything below it
        ("openai.com", "notopenai.com", 443, False),
        ("api.openai.com:443", "api.openai.com", 443, True),
        ("api.openai.com:8443", "api.openai.com", 443, False),
        (" example.com , API.OpenAI.com ", "api.openai.com", 443, True),
        ("10.0.0.0/8", "10.20.30.40", 443, True),
        ("10.0.0.0/8", "11.0.0.1", 443, False),
        ("192.168.1.5", "192.168.1.5", 443, True),
        ("fd00::/8", "fd00::1", 443, True),
        ("[fd00::1]:443", "fd00::1", 443, True),
        ("[fd00::1]:8443", "fd00::1", 443, False),
        ("fd00::1", "fd00::1", 443, True),
        ("*.corp.example", "llm.corp.example", 443, True),
        ("", "api.openai.com", 443, False),
    ],
)
def test_no_proxy_entries(no_proxy: str, host: str, port: int, direct: bool) -> None:
    env = {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": no_proxy}
    assert (environment_proxy("https", host, port, env) is None) is direct


def test_lower_case_names_win_even_empty_ones() -> None:
    upper = {"HTTPS_PROXY": "http://upper:1"}
    assert environment_proxy("https", "x.test", 443, {**upper, "https_proxy": "http://lower:2"}) == Proxy("lower", 2)
    assert environment_proxy("https", "x.test", 443, {**upper, "https_proxy": ""}) is None
    assert environment_proxy("https", "x.test", 443, {**upper, "no_proxy": "x.test", "NO_PROXY": ""}) is None
    assert environment_proxy("https", "x.test", 443, {**upper, "no_proxy": "", "NO_PROXY": "x.test"}) == Proxy(
        "upper", 1
    )
    assert environment_proxy("https", "x.test", 443, {"HTTP_PROXY": "http://h:1"}) is None  # http's only
    assert (
        environment_proxy("http", "x.test", 80, {"HTTP_PROXY": "http://h:1", "REQUEST_METHOD": "GET"}) is None
    )  # under CGI, HTTP_PROXY may be a client's Proxy: header
    assert environment_proxy("https", "localhost", 443, upper) is None
    assert environment_proxy("https", "::1", 443, upper) is None


# --- the provider config's keys ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [False, "false", "none", "None", "off", "direct", ""])
def test_proxy_false_or_none_means_direct(value: Any) -> None:
    assert ProviderConfig(proxy=value).proxy == "none"


def test_proxy_true_is_refused() -> None:
    with pytest.raises(ValidationError):
        ProviderConfig(proxy=True)


def test_the_proxy_url_stays_out_of_the_provider_config_repr() -> None:
    assert PASSWORD not in repr(ProviderConfig(proxy=f"http://u:{PASSWORD}@proxy:3128"))
