"""Which mode a gateway is in (open, or requiring a key) and why: said in the log at start and when it
changes, `/health` naming the store its virtual keys come from, a gateway whose keys are all revoked staying
closed with a 401 that says so, and refused callers logged a line per client and reason a minute."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from babelgate.config.load import load_config
from babelgate.providers import PROVIDER_TYPES
from tests.conftest import GatewayFactory, base_env
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import LoopThread, RunningApp
from tests.waiting import eventually

MASTER = "master-key-for-the-access-tests-0123456789"
ADMIN = {"Authorization": f"Bearer {MASTER}"}
USER = [{"role": "user", "content": "Hi"}]
TIMEOUT = 10.0


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="babelgate")
    return caplog


def _access_lines(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "babelgate.access" and record.levelno >= level and record.getMessage().startswith("access:")
    ]


def _wait_for_line(caplog: pytest.LogCaptureFixture, text: str, level: int = logging.INFO) -> str:
    assert eventually(lambda: any(text in line for line in _access_lines(caplog, level))), _access_lines(caplog, 0)
    return next(line for line in _access_lines(caplog, level) if text in line)


def _health(gateway: RunningApp) -> dict[str, Any]:
    answer = httpx.get(gateway.url + "/health", timeout=TIMEOUT)
    assert answer.status_code == 200
    return answer.json()  # type: ignore[no-any-return]


def _chat(gateway: RunningApp, key: str) -> Any:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=TIMEOUT) as client:
        return client.chat.completions.create(model="gpt-4o-mini", messages=USER)  # type: ignore[arg-type]


def _keyed(make_gateway: GatewayFactory, store: Path) -> RunningApp:
    return make_gateway(env={"BABELGATE_MASTER_KEY": MASTER, "BABELGATE_STORE_URL": f"sqlite:{store}"})


def test_an_open_gateway_says_so_at_start_and_health_names_its_store(
    make_gateway: GatewayFactory, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    store = tmp_path / "state.db"
    gateway = make_gateway(env={"BABELGATE_STORE_URL": f"sqlite:{store}"})
    line = _wait_for_line(logs, "open")
    assert (
        line == f"access: open: no keys configured (no server.api_keys, no virtual keys in sqlite:{store}) (at start)"
    )
    health = _health(gateway)
    assert health["store"] == f"sqlite:{store}" and health["access"] == "open"


def test_a_gateway_with_static_keys_says_it_requires_them(
    make_gateway: GatewayFactory, logs: pytest.LogCaptureFixture
) -> None:
    gateway = make_gateway(env={"BABELGATE_API_KEYS": "sk-static-one-0123456789,sk-static-two-0123456789"})
    assert _wait_for_line(logs, "keys required") == "access: keys required: 2 static keys (server.api_keys) (at start)"
    assert _health(gateway)["access"] == "keys_required" and _health(gateway)["store"] == "memory"


def test_the_default_store_follows_xdg_state_home(
    make_gateway: GatewayFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    gateway = make_gateway(env={"BABELGATE_STORE_URL": ""})  # no store configured: the default
    store = _health(gateway)["store"]
    assert store == f"sqlite:{tmp_path / 'state' / 'babelgate' / 'babelgate.db'}"
    assert not store.startswith(f"sqlite:{Path.home()}/.local")


def test_a_postgres_store_is_named_without_its_password() -> None:
    from babelgate.store.open import store_address

    named = store_address("postgresql://bg:s3cret-pw@db.internal:5432/babelgate?sslmode=require&password=other")
    assert named == "postgresql://bg@db.internal:5432/babelgate?sslmode=require"


def test_creating_a_key_and_revoking_the_last_are_logged_and_all_revoked_stays_closed(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    store = tmp_path / "state.db"
    gateway = _keyed(make_gateway, store)
    _wait_for_line(logs, "open")
    created = httpx.post(gateway.url + "/admin/keys", json={"label": "ci"}, headers=ADMIN, timeout=TIMEOUT)
    assert created.status_code == 201
    secret, key_id = created.json()["key"], created.json()["id"]
    line = _wait_for_line(logs, "keys required")
    assert line == f"access: keys required: 1 virtual key in sqlite:{store} (the virtual keys in the store changed)"
    assert _health(gateway)["access"] == "keys_required"
    assert _chat(gateway, secret).choices[0].message.content == "Hello!"
    served = len(upstream.received)

    revoked = httpx.delete(gateway.url + f"/admin/keys/{key_id}", headers=ADMIN, timeout=TIMEOUT)
    assert revoked.status_code == 200
    warning = _wait_for_line(logs, "all revoked", logging.WARNING)
    assert warning == (
        f"access: keys required: the virtual keys in sqlite:{store} are all revoked; no client can call until a "
        "key is created (revoking every key does not open the gateway) (the virtual keys in the store changed)"
    )
    assert _health(gateway)["access"] == "no_live_keys"

    message = "This gateway requires a key: its virtual keys are all revoked. An administrator can create a new one."
    for key in (secret, "sk-anything"):
        with pytest.raises(openai.AuthenticationError) as caught:
            _chat(gateway, key)
        assert caught.value.code == "invalid_api_key" and caught.value.body["message"] == message  # type: ignore[index]
    no_key = httpx.post(
        gateway.url + "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": USER}, timeout=TIMEOUT
    )
    assert no_key.status_code == 401 and no_key.json()["error"]["message"] == message
    german = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": USER},
        headers={"Accept-Language": "de"},
        timeout=TIMEOUT,
    )
    assert german.json()["error"]["message"].startswith("Dieses Gateway verlangt einen Schlüssel")
    with (
        anthropic.Anthropic(base_url=gateway.url, api_key=secret, max_retries=0, timeout=TIMEOUT) as client,
        pytest.raises(anthropic.AuthenticationError) as refused,
    ):
        client.messages.create(model="gpt-4o-mini", max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
    assert refused.value.body == {"type": "error", "error": {"type": "authentication_error", "message": message}}
    assert not any(r.path.endswith("/chat/completions") for r in upstream.received[served:])


def test_a_reload_says_the_mode_again(
    make_gateway: GatewayFactory,
    upstream: FakeOpenAI,
    loop_thread: LoopThread,
    tmp_path: Path,
    logs: pytest.LogCaptureFixture,
) -> None:
    gateway = make_gateway()
    _wait_for_line(logs, "open")
    keyed = load_config(
        None, {**base_env(upstream), "BABELGATE_API_KEYS": "sk-static-0123456789"}, available_types=PROVIDER_TYPES
    )

    async def reload() -> None:
        gateway.app.app.swap(keyed)

    loop_thread.run(reload())
    line = _wait_for_line(logs, "reloaded")
    assert line == "access: keys required: 1 static key (server.api_keys) (the configuration was reloaded)"


def test_refusals_are_logged_once_per_client_and_reason_without_the_key(
    make_gateway: GatewayFactory, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    gateway = make_gateway(env={"BABELGATE_API_KEYS": "sk-the-right-key-0123456789"})
    wrong = "sk-a-wrong-key-presented-9876543210"
    for _ in range(5):
        with pytest.raises(openai.AuthenticationError):
            _chat(gateway, wrong)
    no_key = httpx.get(gateway.url + "/v1/models", timeout=TIMEOUT)
    assert no_key.status_code == 401
    refusals = [r for r in logs.records if r.name == "babelgate.access" and r.getMessage().startswith("refused")]
    assert [r.levelno for r in refusals] == [logging.WARNING]  # five refusals of one client and reason: one line
    line = refusals[0].getMessage()
    assert line.startswith("refused 127.0.0.1 on chat.completions: 401 invalid_api_key (key fingerprint ")
    assert wrong not in logs.text and wrong[3:15] not in logs.text
