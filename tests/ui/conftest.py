"""Headless Chromium for the dashboard's tests: Debian's package (installed here when missing and
we may), driven by Playwright's Python client through its own driver; no browser download."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.services import debian_binary

# Where each run leaves its screenshots for a person to look at (the pytest tmp dir keeps them too).
SCREENSHOTS = Path("/tmp/babelgate-ui-screens")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope: Playwright's sync API runs its own event loop in this thread while it is open,
    # which the asyncio tests that follow must not find there.
    chromium = debian_binary("chromium", "chromium", "/usr/bin/chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Page:
    """A page of a wide window, each test in a context of its own (no cookie of another test's session)."""
    opened = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    opened.set_default_timeout(10_000)
    return opened


@pytest.fixture
def screenshots(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    yield folder
    SCREENSHOTS.mkdir(exist_ok=True)
    for shot in folder.glob("*.png"):
        shutil.copy(shot, SCREENSHOTS / shot.name)
