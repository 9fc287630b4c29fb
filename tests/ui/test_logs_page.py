"""The dashboard's conversation log in headless Chromium: a logged conversation (masked by a guardrail, with an
image and a tool call) found by search, read as a conversation, and reached from the usage view's link."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import httpx
import openai
from playwright.sync_api import Page, expect

from tests.admin_gateway import ADMIN, MASTER, start
from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI

# A one-pixel PNG, sent inline as a user would send a screenshot.
PIXEL = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360f8ffff3f0005fe02fea7d6a4a30000000049454e44ae426082"
    )
).decode()
EXTRA = """
guardrails:
  - {name: pii, kind: pii, entities: [email], action: mask}
server:
  guardrails: [pii]
logging:
  content: {enabled: true}
"""


def test_a_logged_conversation_is_found_read_and_linked_from_usage(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, page: Page, screenshots: Path
) -> None:
    gateway = start(make_gateway, upstream, extra=EXTRA)
    created = httpx.post(gateway.url + "/admin/keys", json={"label": "support"}, headers=ADMIN, timeout=10)
    assert created.status_code == 201, created.text
    key = created.json()
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=key["key"], max_retries=0, timeout=30) as client:
        client.chat.completions.create(
            model="mini",
            messages=[
                {"role": "system", "content": "You answer support tickets."},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "My screen looks like this, write to jane@example.com"},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "lookup_ticket", "arguments": '{"ticket": 1182}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "Ticket 1182: screen flickers"},
            ],
        )
    deadline = time.monotonic() + 10  # the log is written off the request path, in batches
    while time.monotonic() < deadline:
        rows = httpx.get(gateway.url + "/admin/logs", headers=ADMIN, timeout=10).json()["data"]
        if rows:
            break
        time.sleep(0.1)
    assert rows and "jane@example.com" not in str(rows)

    page.goto(gateway.url + "/ui")
    page.get_by_test_id("master-key").fill(MASTER)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("nav-logs").click()
    page.get_by_test_id("logs-search").fill("screen looks")
    page.get_by_test_id("logs-filter").click()
    expect(page.get_by_test_id("logs-row")).to_have_count(1)
    page.get_by_test_id("logs-row").click()
    conversation = page.get_by_test_id("conversation")
    expect(conversation.get_by_test_id("message-system")).to_contain_text("You answer support tickets.")
    expect(conversation.get_by_test_id("message-user")).to_contain_text("My screen looks like this")
    expect(conversation.get_by_test_id("message-user")).not_to_contain_text("jane@example.com")
    expect(conversation.get_by_test_id("logged-image")).to_be_visible()
    expect(conversation.get_by_test_id("tool-call")).to_contain_text("lookup_ticket")
    expect(conversation.get_by_test_id("tool-call")).to_contain_text("1182")
    expect(conversation.get_by_test_id("tool-result")).to_contain_text("screen flickers")
    expect(conversation.locator(".message.answer")).to_contain_text("Hello")
    expect(conversation.get_by_test_id("conversation-guardrails")).to_contain_text("pii: mask")
    expect(page.get_by_test_id("conversation-facts")).to_contain_text("mini")
    page.screenshot(path=screenshots / "logs.png", full_page=True)

    page.get_by_test_id("logs-search").fill("no such words anywhere")
    page.get_by_test_id("logs-filter").click()
    expect(page.get_by_test_id("logs-row")).to_have_count(0)

    page.get_by_test_id("nav-usage").click()
    page.locator("select").last.select_option("key")
    page.get_by_test_id("usage-logs").first.click()
    expect(page.get_by_test_id("logs-key")).to_have_value(key["id"])
    expect(page.get_by_test_id("logs-row")).to_have_count(1)
