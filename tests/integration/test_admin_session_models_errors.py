"""The admin API the dashboard and the CLI read: sessions (login cookie, CSRF), `/admin/models`
(routes, deployments, health, prices), `/admin/errors` (top failures with their messages), and the
`/ui` page's serving (off without a master key, strict headers)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.admin_gateway import ADMIN, MASTER, start
from tests.conftest import UPSTREAM_KEY, GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI, Reply
from tests.fakes.servers import RunningApp

# `chat` has two deployments here: the router's order and weights show in /admin/models.
CONFIG = """
providers:
  openai:
    base_url: {base_url}
    api_key: env:OPENAI_API_KEY
models:
  chat:
    deployments:
      - provider: openai
        model: gpt-4o
      - provider: openai
        model: gpt-4o-mini
        weight: 2
    fallbacks: [small]
  small:
    provider: openai
    model: gpt-4o-mini
aliases:
  fast: small
"""


@pytest.fixture
def gateway(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> RunningApp:
    return start(make_gateway, upstream, CONFIG)


@pytest.fixture
def browser(gateway: RunningApp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=60) as client:
        yield client


def _login(client: httpx.Client, **headers: str) -> tuple[dict[str, Any], httpx.Response]:
    response = client.post("/admin/session", json={"master_key": MASTER}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json(), response


def test_login_sets_a_strict_cookie_that_reads_the_admin_api(browser: httpx.Client) -> None:
    client = browser
    session, response = _login(client)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("babelgate_session=")
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/admin", "Max-Age=43200"):
        assert attribute in cookie
    assert "Secure" not in cookie  # plain HTTP here
    assert session["expires_at"] > time.time() + 3600 and session["csrf_token"]
    assert response.headers["cache-control"] == "no-store"
    assert client.get("/admin/keys").status_code == 200
    assert client.get("/admin/session").json()["csrf_token"] == session["csrf_token"]


def test_a_session_cookie_is_secure_behind_tls(browser: httpx.Client) -> None:
    _, response = _login(browser, **{"x-forwarded-proto": "https"})
    assert "; Secure" in response.headers["set-cookie"]


def test_a_wrong_master_key_is_refused_and_no_cookie_set(gateway: RunningApp) -> None:
    response = httpx.post(gateway.url + "/admin/session", json={"master_key": "guess"})
    assert response.status_code == 401 and "set-cookie" not in response.headers
    assert response.json()["error"]["code"] == "wrong_master_key"
    assert httpx.post(gateway.url + "/admin/session", json={"master_key": 5}).status_code == 400
    assert httpx.post(gateway.url + "/admin/session", content=b"{").status_code == 400


def test_without_a_session_the_admin_api_says_how_to_log_in(gateway: RunningApp) -> None:
    response = httpx.get(gateway.url + "/admin/usage")
    assert response.status_code == 401 and response.json()["error"]["code"] == "session_required"
    forged = httpx.get(gateway.url + "/admin/keys", cookies={"babelgate_session": f"{int(time.time()) + 99}.x.y"})
    assert forged.status_code == 401
    assert httpx.get(gateway.url + "/admin/session").status_code == 401


def test_writes_with_a_cookie_need_the_csrf_token_from_this_origin(gateway: RunningApp, browser: httpx.Client) -> None:
    client = browser
    session, _ = _login(client)
    refused = client.post("/admin/keys", json={"label": "x"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    assert client.post("/admin/keys", json={}, headers={"x-babelgate-csrf": "wrong"}).status_code == 403
    csrf = {"x-babelgate-csrf": session["csrf_token"]}
    cross = client.post("/admin/keys", json={}, headers={**csrf, "origin": "https://evil.example"})
    assert cross.status_code == 403
    host = httpx.URL(gateway.url).netloc.decode()
    created = client.post("/admin/keys", json={"label": "ui"}, headers={**csrf, "origin": f"http://{host}"})
    assert created.status_code == 201 and created.json()["key"].startswith("bg-")
    assert client.delete(f"/admin/keys/{created.json()['id']}", headers=csrf).json()["revoked"] is True
    # Logging out needs the token too, and clears the cookie.
    assert client.delete("/admin/session").status_code == 403
    out = client.delete("/admin/session", headers=csrf)
    assert out.status_code == 200 and "Max-Age=0" in out.headers["set-cookie"]
    assert client.get("/admin/keys").status_code == 401


def test_the_bearer_master_key_needs_no_csrf_token(gateway: RunningApp) -> None:
    assert httpx.post(gateway.url + "/admin/keys", json={}, headers=ADMIN).status_code == 201


def test_models_lists_routes_deployments_health_and_prices(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    answer = httpx.get(gateway.url + "/admin/models", headers=ADMIN).json()
    by_id = {entry["id"]: entry for entry in answer["data"]}
    chat = by_id["chat"]
    assert chat["kind"] == "model" and chat["fallbacks"] == ["small"]
    assert [(d["label"], d["weight"], d["circuit"]) for d in chat["deployments"]] == [
        ("openai/gpt-4o", 1.0, "closed"),
        ("openai/gpt-4o-mini", 2.0, "closed"),
    ]
    assert chat["pricing"]["input"] > 0 and chat["context_window"] >= 128000
    fast = by_id["fast"]
    assert fast["kind"] == "alias" and fast["target"] == "small"
    assert [d["model"] for d in fast["deployments"]] == ["gpt-4o-mini"]
    assert any(entry["kind"] == "listed" for entry in answer["data"])  # the fake's own listing
    assert answer["providers"][0]["name"] == "openai" and answer["providers"][0]["state"] == "ok"
    assert UPSTREAM_KEY not in httpx.get(gateway.url + "/admin/models", headers=ADMIN).text
    unlisted = httpx.get(gateway.url + "/admin/models?listed=false", headers=ADMIN).json()["data"]
    assert {entry["kind"] for entry in unlisted} == {"model", "alias"}


def test_models_show_an_open_circuit(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    # Retries make the route more than one attempt: the router, and its circuits, decide it.
    gateway = start(make_gateway, upstream, CONFIG, "routing:\n  retries: 1\n  circuit: {failures: 1, cooldown: 60}\n")
    upstream.script(Reply(status=500, json={"error": {"message": "down", "type": "server_error"}}))
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=60) as client,
        pytest.raises(openai.InternalServerError),
    ):
        client.chat.completions.create(model="small", messages=[{"role": "user", "content": "hi"}])
    small = next(
        e for e in httpx.get(gateway.url + "/admin/models", headers=ADMIN).json()["data"] if e["id"] == "small"
    )
    deployment = small["deployments"][0]
    assert deployment["circuit"] == "open" and 50 < deployment["reopens_in_s"] <= 60


def test_errors_are_grouped_by_status_code_and_message_most_frequent_first(
    gateway: RunningApp, upstream: FakeOpenAI
) -> None:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=60) as client:
        for _ in range(3):
            with pytest.raises(openai.NotFoundError):
                client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
        upstream.script(
            Reply(status=400, json={"error": {"message": f"bad thing {UPSTREAM_KEY}", "type": "invalid_request_error"}})
        )
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="small", messages=[{"role": "user", "content": "x"}])
        client.chat.completions.create(model="small", messages=[{"role": "user", "content": "ok"}])
    answer = httpx.get(gateway.url + "/admin/errors", headers=ADMIN).json()
    first, second = answer["data"]
    assert (first["status"], first["code"], first["count"], first["model"]) == (
        404,
        "model_not_found",
        3,
        "no-such-model",
    )
    assert "no-such-model" in first["message"]
    assert second["status"] == 400 and second["count"] == 1 and second["message"].startswith("bad thing")
    assert UPSTREAM_KEY not in second["message"]  # the upstream echoed our key: kept scrubbed
    assert len(httpx.get(gateway.url + "/admin/errors?limit=1", headers=ADMIN).json()["data"]) == 1
    assert httpx.get(gateway.url + "/admin/errors?limit=0", headers=ADMIN).status_code == 400
    since = time.time() + 60
    assert httpx.get(gateway.url + f"/admin/errors?since={since}", headers=ADMIN).json()["data"] == []


def test_the_ui_page_is_served_with_strict_headers(gateway: RunningApp) -> None:
    page = httpx.get(gateway.url + "/ui")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(gateway.url + "/ui/").text == page.text
    script = httpx.get(gateway.url + "/ui/assets/app.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert httpx.get(gateway.url + "/ui/assets/nope.js").status_code == 404
    assert httpx.get(gateway.url + "/ui/assets/..%2F__init__.py").status_code == 404
    assert httpx.post(gateway.url + "/ui").status_code == 405


def test_the_dashboard_is_off_without_a_master_key_and_says_so(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway()
    page = httpx.get(gateway.url + "/ui")
    assert page.status_code == 404 and "BABELGATE_MASTER_KEY" in page.text
    login = httpx.post(gateway.url + "/admin/session", json={"master_key": "x"})
    assert login.status_code == 403 and login.json()["error"]["code"] == "admin_disabled"
