"""Virtual keys through the admin API, used by the official clients: lifecycle, model lists,
revocation seen by a second instance, and no secret anywhere it should not be."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import RunningApp

MASTER = "master-key-for-the-tests-0123456789"
ADMIN = {"Authorization": f"Bearer {MASTER}"}


def _gateway(make_gateway: GatewayFactory, store: Path | None = None, **env: str) -> RunningApp:
    settings = {"BABELGATE_MASTER_KEY": MASTER, **env}
    if store is not None:
        settings["BABELGATE_STORE_URL"] = f"sqlite:{store}"
    return make_gateway(env=settings)


def _create(gateway: RunningApp, **fields: Any) -> dict[str, Any]:
    response = httpx.post(gateway.url + "/admin/keys", json=fields, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _chat(gateway: RunningApp, key: str, model: str = "gpt-4o-mini") -> Any:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=10) as client:
        return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi"}])


def test_the_admin_api_is_off_without_a_master_key(make_gateway: GatewayFactory) -> None:
    response = httpx.get(make_gateway().url + "/admin/keys", headers=ADMIN)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "admin_disabled"
    assert "BABELGATE_MASTER_KEY" in response.json()["error"]["message"]


def test_the_admin_api_wants_the_master_key(make_gateway: GatewayFactory) -> None:
    gateway = _gateway(make_gateway)
    assert httpx.get(gateway.url + "/admin/keys").status_code == 401
    assert httpx.get(gateway.url + "/admin/keys", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_key_is_created_shown_once_and_works_with_the_official_client(
    make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    gateway = _gateway(make_gateway)
    created = _create(
        gateway,
        label="ci",
        team="platform",
        models=["gpt-4o*"],
        rpm=60,
        expires_at="2099-01-01T00:00:00Z",
        metadata={"owner": "ana"},
    )
    secret = created["key"]
    assert secret.startswith("bg-") and created["prefix"] == secret[:11] + "…"
    assert created["team"] == "platform" and created["models"] == ["gpt-4o*"] and created["revoked"] is False
    assert _chat(gateway, secret).choices[0].message.content == "Hello!"
    listed = httpx.get(gateway.url + "/admin/keys", headers=ADMIN)
    assert [key["id"] for key in listed.json()["data"]] == [created["id"]]
    assert secret not in listed.text and secret[11:] not in listed.text
    assert "digest" not in listed.text and "salt" not in listed.text
    # Virtual keys exist: a request without a key, or with a wrong one, is refused.
    no_key = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
    )
    assert no_key.status_code == 401
    with pytest.raises(openai.AuthenticationError):
        _chat(gateway, secret[:-1] + ("A" if secret[-1] != "A" else "B"))


def test_a_model_the_key_may_not_use_is_a_403_in_each_frontend_s_format(
    make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    gateway = _gateway(make_gateway)
    secret = _create(gateway, models=["gpt-4o-mini"])["key"]
    with pytest.raises(openai.PermissionDeniedError) as caught:
        _chat(gateway, secret, "gpt-4o")
    assert caught.value.code == "model_not_allowed" and "'gpt-4o'" in caught.value.message
    with (
        anthropic.Anthropic(base_url=gateway.url, api_key=secret, max_retries=0, timeout=60) as client,
        pytest.raises(anthropic.PermissionDeniedError) as refused,
    ):
        client.messages.create(model="gpt-4o", max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
    assert refused.value.body["error"]["type"] == "permission_error"  # type: ignore[index]
    assert not any(r.path.endswith("/chat/completions") and r.json.get("model") == "gpt-4o" for r in upstream.received)


def test_a_key_s_models_limits_and_expiry_change(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = _gateway(make_gateway)
    created = _create(gateway, models=["gpt-4o-mini"])
    changed = httpx.patch(
        gateway.url + f"/admin/keys/{created['id']}", json={"models": ["gpt-*"], "tpm": 1000}, headers=ADMIN
    )
    assert changed.status_code == 200 and changed.json()["models"] == ["gpt-*"] and changed.json()["tpm"] == 1000
    assert _chat(gateway, created["key"], "gpt-4o").choices[0].message.content == "Hello!"
    bad = httpx.patch(gateway.url + f"/admin/keys/{created['id']}", json={"rpm": -1}, headers=ADMIN)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "rpm"
    unknown = httpx.patch(gateway.url + "/admin/keys/nope", json={"rpm": 1}, headers=ADMIN)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "key_not_found"
    expired = httpx.patch(
        gateway.url + f"/admin/keys/{created['id']}", json={"expires_at": time.time() - 1}, headers=ADMIN
    )
    assert expired.status_code == 200
    with pytest.raises(openai.AuthenticationError):
        _chat(gateway, created["key"])


def test_a_revoked_key_is_refused_by_every_instance_within_a_second(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path
) -> None:
    store = tmp_path / "shared.db"
    first, second = _gateway(make_gateway, store), _gateway(make_gateway, store)
    created = _create(first, label="to revoke")
    secret = created["key"]
    deadline = time.monotonic() + 2
    while True:  # the second instance learns of the new key from the store
        try:
            _chat(second, secret)
            break
        except openai.AuthenticationError:
            assert time.monotonic() < deadline, "the second instance never saw the new key"
            time.sleep(0.05)
    revoked = httpx.delete(first.url + f"/admin/keys/{created['id']}", headers=ADMIN)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    with pytest.raises(openai.AuthenticationError):
        _chat(first, secret)
    started = time.monotonic()
    while True:
        try:
            _chat(second, secret)
        except openai.AuthenticationError:
            break
        assert time.monotonic() - started < 1.0, "the second instance still accepts a revoked key"
        time.sleep(0.05)


def _until(check: Any, what: str, within: float = 1.5) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _answers(gateway: RunningApp, secret: str) -> bool:
    try:
        _chat(gateway, secret)
    except openai.AuthenticationError:
        return False
    return True


def test_an_instance_whose_first_request_was_an_admin_call_sees_every_change(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path
) -> None:
    """The key poller once started on the first model request only: an instance whose first request
    was `GET /admin/keys` read the keys once and never again (a revoked key stayed valid there, a new
    one was refused for as long as it ran)."""
    store = tmp_path / "shared.db"
    first, second = _gateway(make_gateway, store), _gateway(make_gateway, store)
    assert httpx.get(second.url + "/admin/keys", headers=ADMIN).json()["data"] == []
    created = _create(first, label="made on the first")
    _until(lambda: _answers(second, created["key"]), "the second instance never saw the new key")
    assert httpx.delete(first.url + f"/admin/keys/{created['id']}", headers=ADMIN).status_code == 200
    _until(lambda: not _answers(second, created["key"]), "the second instance still accepts a revoked key")


def test_an_instance_that_served_nothing_still_follows_the_store(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    store = tmp_path / "shared.db"
    first, second = _gateway(make_gateway, store), _gateway(make_gateway, store)
    created = _create(first, label="made on the first")
    ring = second.app.runtime.key_ring
    _until(lambda: created["id"] in ring.keys, "an instance with no request never read the keys")
    httpx.patch(first.url + f"/admin/keys/{created['id']}", json={"rpm": 7}, headers=ADMIN)
    _until(lambda: ring.keys[created["id"]].rpm == 7, "an instance with no request missed a change")


def test_static_keys_keep_working_beside_virtual_keys(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = _gateway(make_gateway, BABELGATE_API_KEYS="static-key-for-the-tests")
    _create(gateway, models=["nothing-*"])
    assert _chat(gateway, "static-key-for-the-tests", "gpt-4o").choices[0].message.content == "Hello!"


def test_the_cli_creates_lists_updates_and_revokes(
    make_gateway: GatewayFactory,
    upstream: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from babelgate.cli import main

    gateway = _gateway(make_gateway)
    monkeypatch.setenv("BABELGATE_MASTER_KEY", MASTER)
    assert (
        main(
            [
                "keys",
                "--url",
                gateway.url,
                "create",
                "--label",
                "cli",
                "--models",
                "gpt-4o-mini,gpt-4.1",
                "--rpm",
                "10",
                "--json",
            ]
        )
        == 0
    )
    created = json.loads(capsys.readouterr().out)
    assert created["models"] == ["gpt-4o-mini", "gpt-4.1"] and created["rpm"] == 10
    assert _chat(gateway, created["key"]).choices[0].message.content == "Hello!"
    assert main(["keys", "--url", gateway.url, "list"]) == 0
    listed = capsys.readouterr().out
    assert created["id"] in listed and "active" in listed and created["key"] not in listed
    assert main(["keys", "--url", gateway.url, "update", created["id"], "--team", "search", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["team"] == "search"
    assert main(["keys", "revoke", created["id"], "--url", gateway.url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["revoked"] is True
    with pytest.raises(openai.AuthenticationError):
        _chat(gateway, created["key"])
    monkeypatch.setenv("BABELGATE_MASTER_KEY", "wrong-master-key-0000000000")
    assert main(["keys", "--url", gateway.url, "list"]) == 1
    assert "answered 401" in capsys.readouterr().err
