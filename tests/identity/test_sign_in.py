"""Signing in to the dashboard with a real OpenID provider: the certified `oidc-provider` on
127.0.0.1 (provider.mjs) with people in groups, and headless Chromium clicking "Sign in with SSO" on the
dashboard, logging in on the provider's own login page, consenting, and landing back in the dashboard with
the role their groups map to: an admin sees every page, a viewer only Usage and Models and is refused the
keys, someone in no mapped group is not let in. The admin API then answers the session as that role, and
logging out ends the session at the gateway and sends the browser to the provider's logout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import RunningApp
from tests.identity import provider
from tests.identity.conftest import MASTER

CONFIG = """
providers:
  openai:
    base_url: {base_url}
    api_key: env:OPENAI_API_KEY
models:
  chat:
    provider: openai
    model: gpt-4o
auth:
  oidc:
    issuer: {issuer}
    client_id: {client_id}
    client_secret: env:OIDC_CLIENT_SECRET
    redirect_url: {redirect}
    scopes: [openid, email, groups]
    roles:
      admin: [platform-admins]
      team_admin: [search-leads]
      member: [search]
      viewer: [finance]
"""


@pytest.fixture
def signed_in_gateway(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> Iterator[tuple[RunningApp, str]]:
    """The gateway (its redirect URL a path: the browser's origin completes it) and the provider's issuer."""
    port = provider.free_port()
    issuer = f"http://127.0.0.1:{port}"
    config = CONFIG.format(
        base_url=upstream.base_url, issuer=issuer, client_id=provider.CLIENT_ID, redirect="/admin/oidc/callback"
    )
    gateway = make_gateway(config, env={"BABELGATE_MASTER_KEY": MASTER, "OIDC_CLIENT_SECRET": provider.CLIENT_SECRET})
    with provider.running(gateway.url + "/admin/oidc/callback", gateway.url + "/ui/", port=port) as started:
        assert started == issuer
        yield gateway, issuer


def _sign_in(page: Page, gateway: RunningApp, login: str) -> None:
    page.goto(gateway.url + "/ui/")
    page.get_by_test_id("sso-login").click()
    page.locator("input[name=login]").fill(login)  # the provider's own login page
    page.locator("input[name=password]").fill("any password")
    page.locator("button[type=submit]").click()
    page.locator("button[type=submit]").click()  # its consent page: "Continue"


def test_an_admin_signs_in_through_the_provider_and_sees_everything(
    browser: Browser, signed_in_gateway: tuple[RunningApp, str], screenshots: Path
) -> None:
    gateway, issuer = signed_in_gateway
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, gateway, "alice")
    expect(page.get_by_test_id("who")).to_have_text("alice@example.com · Admin", timeout=10_000)
    for name in ("usage", "keys", "models", "playground"):
        expect(page.get_by_test_id(f"nav-{name}")).to_be_visible()
    page.screenshot(path=str(screenshots / "identity-admin.png"))
    session = context.request.get(gateway.url + "/admin/session").json()
    assert (session["user"], session["role"], session["teams"]) == ("alice@example.com", "admin", ["platform-admins"])
    # The session is the gateway's own cookie: the admin API answers it, for writes with the CSRF token.
    made = context.request.post(
        gateway.url + "/admin/keys", data={"label": "from sso"}, headers={"x-babelgate-csrf": session["csrf_token"]}
    )
    assert made.status == 201, made.text()
    page.get_by_test_id("logout").click()
    page.wait_for_url(f"{issuer}/**")  # the provider's logout
    assert context.request.get(gateway.url + "/admin/session").status == 401
    context.close()


def test_a_viewer_sees_usage_only_and_someone_of_no_mapped_group_is_refused(
    browser: Browser, signed_in_gateway: tuple[RunningApp, str], screenshots: Path
) -> None:
    gateway, _ = signed_in_gateway
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, gateway, "victor")
    expect(page.get_by_test_id("who")).to_have_text("victor@example.com · Viewer", timeout=10_000)
    expect(page.get_by_test_id("nav-usage")).to_be_visible()
    expect(page.get_by_test_id("nav-models")).to_be_visible()
    expect(page.get_by_test_id("nav-keys")).to_have_count(0)
    expect(page.get_by_test_id("nav-playground")).to_have_count(0)
    expect(page.get_by_test_id("usage-page")).to_be_visible()
    page.screenshot(path=str(screenshots / "identity-viewer.png"))
    refused = context.request.get(gateway.url + "/admin/keys")
    assert (refused.status, refused.json()["error"]["code"]) == (403, "role_forbidden")
    context.close()

    stranger = browser.new_context()
    page = stranger.new_page()
    _sign_in(page, gateway, "mallory")  # in no mapped group: back on the login page, told why
    expect(page.get_by_test_id("sso-error")).to_contain_text("none of your groups", timeout=10_000)
    expect(page.get_by_test_id("sso-login")).to_be_visible()
    page.screenshot(path=str(screenshots / "identity-no-role.png"))
    assert stranger.request.get(gateway.url + "/admin/session").status == 401
    stranger.close()

    # Whoever signs in is a user of the directory; a role an admin gives a user there lets them in.
    master = {"Authorization": f"Bearer {MASTER}"}
    victor = httpx.get(gateway.url + "/admin/users/victor@example.com", headers=master, timeout=10).json()
    assert victor["source"] == "oidc"
    made = httpx.post(
        gateway.url + "/admin/users", json={"id": "mallory@example.com", "role": "viewer"}, headers=master, timeout=10
    )
    assert made.status_code == 201, made.text
    again = browser.new_context()
    page = again.new_page()
    _sign_in(page, gateway, "mallory")
    expect(page.get_by_test_id("who")).to_have_text("mallory@example.com · Viewer", timeout=10_000)
    again.close()


def test_a_callback_without_its_sign_in_is_refused(signed_in_gateway: tuple[RunningApp, str]) -> None:
    gateway, _ = signed_in_gateway
    forged = httpx.get(gateway.url + "/admin/oidc/callback?code=stolen&state=guessed", timeout=10)
    assert (forged.status_code, forged.json()["error"]["code"]) == (401, "oidc_failed")
    started = httpx.get(gateway.url + "/admin/oidc/login", timeout=10)
    assert started.status_code == 302
    location = started.headers["location"]
    assert "code_challenge_method=S256" in location and "nonce=" in location and "state=" in location
    cookie = started.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Path=/admin/oidc" in cookie and provider.CLIENT_SECRET not in cookie
    # Its own cookie, with another state, is refused too.
    wrong = httpx.get(
        gateway.url + "/admin/oidc/callback?code=x&state=other",
        headers={"cookie": cookie.split(";")[0]},
        timeout=10,
    )
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "oidc_failed")


def test_a_member_makes_a_key_of_their_own_and_uses_it(
    browser: Browser, signed_in_gateway: tuple[RunningApp, str], screenshots: Path
) -> None:
    gateway, _ = signed_in_gateway
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, gateway, "carol")  # in group `search`: a member
    expect(page.get_by_test_id("who")).to_have_text("carol@example.com · Member", timeout=10_000)
    page.get_by_test_id("nav-keys").click()
    page.get_by_test_id("new-key").click()
    expect(page.get_by_test_id("key-rpm")).to_have_count(0)  # limits and budgets are their team admin's
    page.get_by_test_id("key-label").fill("carol's laptop")
    page.get_by_test_id("save-key").click()
    secret = page.get_by_test_id("secret-value").inner_text()
    page.screenshot(path=str(screenshots / "identity-member-key.png"))
    page.get_by_test_id("secret-done").click()
    expect(page.get_by_test_id("keys-table")).to_contain_text("carol's laptop")
    listed = context.request.get(gateway.url + "/admin/keys").json()["data"]
    assert [(key["label"], key["user"], key["team"]) for key in listed] == [
        ("carol's laptop", "carol@example.com", "search")
    ]
    answer = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    context.close()
