"""Corporate networks: upstream calls through a forward proxy (CONNECT tunnels for https, absolute
form for http, Basic authentication, NO_PROXY) and a provider's own TLS settings (a CA bundle,
a client certificate, verification on by default), with the official client as the caller."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from babelgate import create_app
from babelgate.config import ConfigError, load_config
from babelgate.http.proxy import environment_proxy, parse_proxy
from babelgate.providers import PROVIDER_TYPES
from tests.conftest import CLOSED_PORT_URL, start_gateway
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.pki import make_pki, server_context
from tests.fakes.proxy import FakeProxy
from tests.fakes.servers import LoopThread, RunningApp

KEY = "sk-behind-the-proxy-0000-ZZZZ"
PROXY_PASSWORD = "pr0xy-Secret-PW"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_upstream(loop_thread: LoopThread, pki: dict[str, str]) -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.ssl_context = server_context(pki)
    loop_thread.run(fake.start())
    yield fake
    loop_thread.run(fake.stop())


@pytest.fixture(scope="module")
def mtls_upstream(loop_thread: LoopThread, pki: dict[str, str]) -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.ssl_context = server_context(pki, client_certificate=ssl.CERT_REQUIRED)
    loop_thread.run(fake.start())
    yield fake
    loop_thread.run(fake.stop())


@pytest.fixture
def proxy(loop_thread: LoopThread) -> Iterator[FakeProxy]:
    fake = FakeProxy(hosts={"upstream.test": "127.0.0.1"})
    loop_thread.run(fake.start())
    yield fake
    loop_thread.run(fake.stop())


@pytest.fixture
def start(loop_thread: LoopThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    started: list[RunningApp] = []

    def factory(provider: str, env: dict[str, str] | None = None) -> RunningApp:
        for name in (
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "NO_PROXY",
            "no_proxy",
            "ALL_PROXY",
            "all_proxy",
        ):
            monkeypatch.delenv(name, raising=False)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        path = tmp_path / f"net{len(started)}.yaml"
        path.write_text(f"providers:\n  corp: {provider}\nmodels:\n  m: {{provider: corp, model: gpt-4o-mini}}\n")
        config = load_config(
            path,
            {
                "CORP_KEY": KEY,
                "OLLAMA_BASE_URL": CLOSED_PORT_URL,
                "BABELGATE_STORE_URL": "memory",
                "PROXY_URL": env.get("PROXY_URL", "") if env else "",
            },
            available_types=PROVIDER_TYPES,
        )
        return start_gateway(loop_thread, config, started)

    yield factory
    for running in started:
        loop_thread.run(running.stop())


def _ask(gateway: RunningApp) -> Any:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        return client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Hi"}])


def test_https_through_a_connect_tunnel_with_the_corporate_ca(
    start: Any, proxy: FakeProxy, tls_upstream: FakeOpenAI, pki: dict[str, str]
) -> None:
    proxy.require_auth = "Basic " + base64.b64encode(f"alice:{PROXY_PASSWORD}".encode()).decode()
    url = f"https://upstream.test:{tls_upstream.port}/v1"
    gateway = start(
        f"{{base_url: '{url}', api_key: env:CORP_KEY, tls: {{ca_bundle: '{pki['ca']}'}}}}",
        env={"HTTPS_PROXY": proxy.url(f"alice:{PROXY_PASSWORD}")},
    )
    assert _ask(gateway).choices[0].message.content == "Hello!"
    assert _ask(gateway).choices[0].message.content == "Hello!"
    tunnels = [s for s in proxy.seen if s.method == "CONNECT"]
    assert tunnels[0].target == f"upstream.test:{tls_upstream.port}"
    assert len(tunnels) == 1  # the tunnelled connection is pooled and reused
    assert tls_upstream.received[-1].headers["Authorization"] == f"Bearer {KEY}"  # through the tunnel, unseen


def test_http_through_a_proxy_in_absolute_form(start: Any, proxy: FakeProxy, upstream: FakeOpenAI) -> None:
    url = f"http://upstream.test:{upstream.port}/v1"
    gateway = start(
        f"{{base_url: '{url}', api_key: env:CORP_KEY, proxy: env:PROXY_URL}}", env={"PROXY_URL": proxy.url()}
    )
    assert _ask(gateway).choices[0].message.content == "Hello!"
    assert proxy.seen[-1].method == "POST"
    assert proxy.seen[-1].target == f"http://upstream.test:{upstream.port}/v1/chat/completions"


def test_no_proxy_names_the_hosts_that_go_direct(
    start: Any, proxy: FakeProxy, tls_upstream: FakeOpenAI, pki: dict[str, str]
) -> None:
    """`upstream.test` is a name only the proxy can resolve: going direct, as NO_PROXY says, fails
    to connect, and the proxy never hears of it."""
    url = f"https://upstream.test:{tls_upstream.port}/v1"
    gateway = start(
        f"{{base_url: '{url}', api_key: env:CORP_KEY, tls: {{ca_bundle: '{pki['ca']}'}}}}",
        env={"HTTPS_PROXY": proxy.url(), "NO_PROXY": "example.com,.test"},
    )
    with pytest.raises(openai.APIStatusError) as caught:
        _ask(gateway)
    assert caught.value.status_code == 502
    assert proxy.seen == []


@pytest.mark.parametrize("status", [403, 407])
def test_a_proxy_that_refuses_the_tunnel_is_a_clear_error_without_its_password(
    start: Any,
    proxy: FakeProxy,
    tls_upstream: FakeOpenAI,
    pki: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    if status == 407:
        proxy.require_auth = "Basic " + base64.b64encode(b"bob:another-password").decode()
    else:
        proxy.refuse = status
    url = f"https://upstream.test:{tls_upstream.port}/v1"
    gateway = start(
        f"{{base_url: '{url}', api_key: env:CORP_KEY, tls: {{ca_bundle: '{pki['ca']}'}}}}",
        env={"HTTPS_PROXY": proxy.url(f"bob:{PROXY_PASSWORD}")},
    )
    with caplog.at_level("DEBUG"), pytest.raises(openai.APIStatusError) as caught:
        _ask(gateway)
    assert caught.value.status_code == 502
    message = str(caught.value.message)
    assert f"127.0.0.1:{proxy.port}" in message and f"HTTP {status}" in message
    assert proxy.seen[0].authorization == "Basic " + base64.b64encode(f"bob:{PROXY_PASSWORD}".encode()).decode()
    for secret in (PROXY_PASSWORD, proxy.seen[0].authorization.split()[1]):
        assert secret not in message and secret not in caplog.text and secret not in str(caught.value.body)


def test_verification_is_on_by_default(start: Any, tls_upstream: FakeOpenAI) -> None:
    tls_upstream.reset()
    gateway = start(f"{{base_url: 'https://127.0.0.1:{tls_upstream.port}/v1', api_key: env:CORP_KEY}}")
    with pytest.raises(openai.APIStatusError) as caught:
        _ask(gateway)  # the test CA is not among the system's
    assert caught.value.status_code == 502
    assert tls_upstream.received == []  # no request went over an unverified connection


def test_a_client_certificate_for_mutual_tls(start: Any, mtls_upstream: FakeOpenAI, pki: dict[str, str]) -> None:
    url = f"https://127.0.0.1:{mtls_upstream.port}/v1"
    without = start(f"{{base_url: '{url}', api_key: env:CORP_KEY, tls: {{ca_bundle: '{pki['ca']}'}}}}")
    with pytest.raises(openai.APIStatusError) as caught:
        _ask(without)
    assert caught.value.status_code == 502
    gateway = start(
        f"{{base_url: '{url}', api_key: env:CORP_KEY, tls: {{ca_bundle: '{pki['ca']}', "
        f"client_cert: '{pki['client']}', client_key: '{pki['client_key']}'}}}}"
    )
    assert _ask(gateway).choices[0].message.content == "Hello!"


def test_a_missing_ca_bundle_is_a_config_error_naming_the_key(start: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError) as caught:
        start(
            f"{{base_url: 'https://api.example.com/v1', api_key: env:CORP_KEY, "
            f"tls: {{ca_bundle: '{tmp_path / 'nope.pem'}'}}}}"
        )
    assert "providers.corp.tls.ca_bundle" in str(caught.value)


def test_proxy_settings_are_read_like_curl_reads_them() -> None:
    env = {"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2", "no_proxy": ".corp.example,10.0.0.0/8"}
    assert environment_proxy("https", "api.openai.com", 443, env) == parse_proxy("http://lower:1")
    assert environment_proxy("https", "llm.corp.example", 443, env) is None
    assert environment_proxy("https", "10.1.2.3", 443, env) is None
    assert environment_proxy("https", "127.0.0.1", 443, env) is None  # loopback never goes through one
    assert environment_proxy("http", "api.openai.com", 80, env) is None  # no http proxy named
    assert environment_proxy("http", "x.test", 80, {"ALL_PROXY": "http://all:3"}) == parse_proxy("http://all:3")
    assert parse_proxy("http://u:p%40ss@proxy:3128").authorization == "Basic dTpwQHNz"
    with pytest.raises(ValueError) as caught:
        parse_proxy("socks5://u:secret@proxy:1080")
    assert "secret" not in str(caught.value)


def test_a_bad_proxy_setting_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("providers:\n  corp: {base_url: 'https://api.example.com/v1', proxy: 'socks5://h:1'}\n")
    config = load_config(path, {"OLLAMA_BASE_URL": CLOSED_PORT_URL}, available_types=PROVIDER_TYPES)
    with pytest.raises(ValueError) as caught:
        create_app(config)
    assert str(caught.value).startswith("providers.corp.proxy:")
    assert ConfigError  # check-config reports the same text (cli.py)
