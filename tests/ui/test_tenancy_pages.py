"""The dashboard's "Users & teams" and "Audit" pages in headless Chromium: create a user and a team
through the forms (the admin API underneath, docs/decisions.md, "The dashboard and the CLI are admin API clients"), see
the config file's team read-only, delete, and read every action back in the audit log with where it came from."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.admin_gateway import ADMIN, MASTER, start
from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import RunningApp


@pytest.fixture
def gateway(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> RunningApp:
    return start(make_gateway, upstream, extra="teams:\n  research: {rpm: 50}\n")


def test_users_teams_and_the_audit_in_the_dashboard(gateway: RunningApp, page: Page, screenshots: Path) -> None:
    page.goto(gateway.url + "/ui")
    page.get_by_test_id("master-key").fill(MASTER)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("nav-people").click()
    expect(page.get_by_test_id("team-research")).to_contain_text("config")
    expect(page.get_by_test_id("team-research").get_by_test_id("delete-team")).to_have_count(0)

    page.get_by_test_id("new-user").click()
    page.get_by_test_id("user-id").fill("grace")
    page.get_by_test_id("user-email").fill("grace@example.com")
    page.get_by_test_id("user-rpm").fill("30")
    page.get_by_test_id("save-user").click()
    expect(page.get_by_test_id("user-grace")).to_contain_text("grace@example.com")
    expect(page.get_by_test_id("user-grace")).to_contain_text("30 rpm")

    page.get_by_test_id("new-team").click()
    page.get_by_test_id("team-id").fill("ml")
    page.get_by_test_id("team-members").fill("grace")
    page.get_by_test_id("team-budget_usd").fill("25")
    page.get_by_test_id("save-team").click()
    expect(page.get_by_test_id("team-ml")).to_contain_text("grace")
    expect(page.get_by_test_id("team-ml")).to_contain_text("$25")
    assert httpx.get(gateway.url + "/admin/users/grace", headers=ADMIN).json()["teams"] == ["ml"]
    page.screenshot(path=screenshots / "people.png")

    page.get_by_test_id("team-ml").get_by_test_id("delete-team").click()
    expect(page.get_by_test_id("team-ml")).to_have_count(0)

    page.get_by_test_id("nav-audit").click()
    rows = page.get_by_test_id("audit-row")
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_contain_text("teams.delete")
    expect(rows.nth(2)).to_contain_text("users.create")
    expect(rows.nth(2)).to_contain_text("master-key-session")  # the dashboard's session, not the bearer key
    expect(rows.nth(2)).to_contain_text("127.0.0.1")
    expect(rows.nth(3)).to_contain_text("session.login")
    page.get_by_test_id("audit-filter").fill("users")
    page.get_by_test_id("audit-filter").press("Enter")
    expect(rows).to_have_count(1)
    page.screenshot(path=screenshots / "audit.png")
