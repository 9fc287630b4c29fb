"""The dashboard end to end in headless Chromium: log in, see the charts and figures of a scripted
sequence of requests, create and revoke a key, read the models, stream a playground reply (text,
reasoning, a tool call) from a fake upstream, log out; and a key issued with AWS-style credentials.
Screenshots of each page are saved (conftest.SCREENSHOTS) for a person to look at."""

from __future__ import annotations

import re
from pathlib import Path

import boto3
import botocore.config
import httpx
import openai
import pytest
from playwright.sync_api import Page, expect

from tests.admin_gateway import ADMIN, MASTER, start
from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI, Reply, chunk, tool_call_stream, usage_chunk
from tests.fakes.servers import RunningApp


@pytest.fixture
def gateway(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> RunningApp:
    return start(make_gateway, upstream)


def _traffic(gateway: RunningApp) -> None:
    """A scripted sequence: three answers from `chat`, two streams from `mini`, one unknown model."""
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=60) as client:
        for _ in range(3):
            client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
        for _ in range(2):
            stream = client.chat.completions.create(
                model="mini",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                stream_options={"include_usage": True},
            )
            assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])


def test_the_dashboard_end_to_end(gateway: RunningApp, upstream: FakeOpenAI, page: Page, screenshots: Path) -> None:
    _traffic(gateway)
    totals = httpx.get(gateway.url + "/admin/usage", headers=ADMIN).json()["data"][0]
    assert totals["requests"] == 6 and totals["errors"] == 1

    # Log in: a wrong key first.
    page.goto(gateway.url + "/ui")
    page.get_by_test_id("master-key").fill("not-the-key")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("not the gateway's master key")
    page.screenshot(path=screenshots / "1-login.png")
    page.get_by_test_id("master-key").fill(MASTER)
    page.get_by_test_id("login-submit").click()

    # Usage: the figures are the ledger's, the charts draw, the error is listed with its message.
    expect(page.get_by_test_id("total-requests")).to_contain_text("6")
    expect(page.get_by_test_id("total-errors")).to_contain_text("1 error")
    tokens = totals["prompt_tokens"] + totals["completion_tokens"]
    expect(page.get_by_test_id("total-tokens")).to_contain_text(f"{tokens:,}")
    for chart in ("chart-requests", "chart-tokens", "chart-cost", "chart-latency"):
        expect(page.get_by_test_id(chart).locator("canvas")).to_have_count(1)
    requests_drawn = page.evaluate("""() => {
        const canvas = document.querySelector('[data-testid=chart-requests] canvas');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let inked = 0; for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked++; return inked; }""")
    assert requests_drawn > 1000  # axes, grid and the series were drawn, not an empty canvas
    group_rows = page.get_by_test_id("group-table").locator("tbody tr")
    expect(group_rows).to_have_count(3)  # gpt-4o, gpt-4o-mini, and the unknown model (no upstream model)
    expect(page.get_by_test_id("errors-table")).to_contain_text("no-such-model")
    expect(page.get_by_test_id("errors-table")).to_contain_text("model_not_found")
    page.get_by_test_id("group-by").select_option("provider")
    expect(page.get_by_test_id("group-table")).to_contain_text("openai")
    page.get_by_test_id("group-by").select_option("route")  # a Realtime session's row is `realtime`
    expect(page.get_by_test_id("group-table")).to_contain_text("chat.completions")
    page.get_by_test_id("group-by").select_option("model")
    page.screenshot(path=screenshots / "2-usage.png", full_page=True)
    # One model's figures: every chart and number follows.
    page.get_by_test_id("focus-row").filter(has_text="chat").click()
    expect(page.get_by_test_id("focus")).to_contain_text("chat")
    expect(page.get_by_test_id("total-requests")).to_contain_text("3")
    expect(page.get_by_test_id("total-errors")).to_contain_text("0 errors")
    page.get_by_test_id("clear-focus").click()
    expect(page.get_by_test_id("total-requests")).to_contain_text("6")

    # Keys: create one (its secret shown once), see it work, revoke it, see it refused.
    page.get_by_test_id("nav-keys").click()
    page.get_by_test_id("new-key").click()
    page.get_by_test_id("key-label").fill("ci-bot")
    page.get_by_test_id("key-models").fill("chat, mini")
    page.get_by_test_id("key-rpm").fill("60")
    page.get_by_test_id("key-budget").fill("5")
    page.screenshot(path=screenshots / "3-key-form.png")
    page.get_by_test_id("save-key").click()
    secret = page.get_by_test_id("secret-value").inner_text()
    assert re.fullmatch(r"bg-\S+", secret)
    page.screenshot(path=screenshots / "4-key-secret.png")
    page.get_by_test_id("secret-done").click()
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0, timeout=60) as client:
        assert client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}]).choices
    row = page.get_by_test_id("keys-table").locator("tr", has_text="ci-bot")
    expect(row).to_contain_text("60 rpm")
    expect(row).to_contain_text("$5")
    expect(row.get_by_test_id("key-state")).to_have_text("active")
    row.get_by_test_id("edit-key").click()
    page.get_by_test_id("key-rpm").fill("120")
    page.get_by_test_id("save-key").click()
    expect(row).to_contain_text("120 rpm")
    page.screenshot(path=screenshots / "5-keys.png", full_page=True)
    row.get_by_test_id("revoke-key").click()
    page.get_by_test_id("confirm-revoke").click()
    expect(row.get_by_test_id("key-state")).to_have_text("revoked")
    page.screenshot(path=screenshots / "5-keys-revoked.png", full_page=True)
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0, timeout=60) as client,
        pytest.raises(openai.AuthenticationError),
    ):
        client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])

    # Models: routes, deployments and their health, prices.
    page.get_by_test_id("nav-models").click()
    chat = page.get_by_test_id("model-chat")
    expect(chat).to_contain_text("openai/gpt-4o")
    expect(chat).to_contain_text("closed")
    expect(chat).to_contain_text("mini")  # its fallback
    expect(page.get_by_test_id("model-fast")).to_contain_text("alias of mini")
    expect(page.get_by_test_id("providers")).to_contain_text("openai")
    page.screenshot(path=screenshots / "6-models.png", full_page=True)

    # Playground: a key of its own (virtual keys exist now), then a streamed reply with reasoning.
    page.get_by_test_id("nav-playground").click()
    page.get_by_test_id("make-playground-key").click()
    expect(page.get_by_test_id("playground-key")).to_have_value(re.compile(r"^bg-"))
    page.get_by_test_id("playground-model").select_option("chat")
    upstream.script(
        Reply(
            chunk_delay=0.05,
            stream=[
                chunk({"role": "assistant", "content": ""}),
                chunk({"reasoning_content": "The user greets me."}),
                chunk({"content": "Hello "}),
                chunk({"content": "from the fake upstream."}),
                chunk({}, finish_reason="stop"),
                usage_chunk(12, 7),
            ],
        )
    )
    page.get_by_test_id("playground-prompt").fill("Say hello")
    page.get_by_test_id("playground-send").click()
    reply = page.get_by_test_id("assistant-message").last
    expect(reply.get_by_test_id("assistant-text")).to_have_text("Hello from the fake upstream.")
    expect(reply).to_contain_text("The user greets me.")
    expect(reply.get_by_test_id("reply-route")).to_contain_text("openai/gpt-4o=ok")  # x-babelgate-route
    expect(reply.get_by_test_id("reply-meta")).to_contain_text("12 in · 7 out")
    assert upstream.received[-1].json["model"] == "gpt-4o"
    assert upstream.received[-1].json["stream"] is True

    # A tool call, shown as it arrives, from a model with one deployment (no route header: its route is it).
    page.get_by_test_id("playground-model").select_option("fast")
    upstream.script(
        Reply(stream=[*tool_call_stream([("call_1", "get_weather", ['{"city"', ': "Paris"}'])]), usage_chunk(20, 5)])
    )
    page.get_by_test_id("playground-prompt").fill("Weather in Paris?")
    page.get_by_test_id("playground-send").click()
    call = page.get_by_test_id("tool-call").last
    expect(call).to_contain_text("get_weather")
    expect(call).to_contain_text('"city": "Paris"')
    expect(page.get_by_test_id("reply-route").last).to_contain_text("openai/gpt-4o-mini (its only deployment)")

    # An error event mid-stream: the text before it stays, the error is shown beside it.
    upstream.script(
        Reply(
            done=False,
            stream=[
                chunk({"role": "assistant", "content": ""}),
                chunk({"content": "Half an ans"}),
                b'data: {"error": {"message": "the upstream went away", "type": "server_error"}}\n\n',
            ],
        )
    )
    page.get_by_test_id("playground-prompt").fill("And then?")
    page.get_by_test_id("playground-send").click()
    broken = page.get_by_test_id("assistant-message").last
    expect(broken.get_by_test_id("assistant-error")).to_contain_text("the upstream went away")
    expect(broken.get_by_test_id("assistant-text")).to_have_text("Half an ans")
    page.screenshot(path=screenshots / "7-playground.png", full_page=True)

    # Log out: back to the login page, and the admin API refuses the old page's calls.
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login")).to_be_visible()
    page.goto(gateway.url + "/ui#/keys")
    expect(page.get_by_test_id("login")).to_be_visible()


def test_the_keys_page_issues_aws_credentials_shown_once(gateway: RunningApp, page: Page, screenshots: Path) -> None:
    """A key created with "AWS credentials too" shows its access key id and secret beside its `bg-` secret, once;
    the list keeps the access key id and never the secret, and boto3 signs a Converse call with the pair."""
    page.goto(gateway.url + "/ui#/keys")
    page.get_by_test_id("master-key").fill(MASTER)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("new-key").click()
    page.get_by_test_id("key-label").fill("boto-app")
    page.get_by_test_id("key-aws").check()
    page.screenshot(path=screenshots / "3-key-form-aws.png")
    page.get_by_test_id("save-key").click()
    secret = page.get_by_test_id("secret-value").inner_text()
    access_key_id = page.get_by_test_id("aws-access-key-id").inner_text()
    aws_secret = page.get_by_test_id("aws-secret-access-key").inner_text()
    assert re.fullmatch(r"bg-\S+", secret)
    assert re.fullmatch(r"BGAK[A-Z2-7]{16}", access_key_id) and len(aws_secret) == 40
    page.screenshot(path=screenshots / "4-key-aws-credentials.png")
    page.get_by_test_id("secret-done").click()
    row = page.get_by_test_id("keys-table").locator("tr", has_text="boto-app")
    expect(row).to_contain_text(access_key_id)
    assert aws_secret not in page.content()
    runtime = boto3.session.Session(aws_access_key_id=access_key_id, aws_secret_access_key=aws_secret).client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=gateway.url,
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=15),
    )
    try:
        answer = runtime.converse(modelId="chat", messages=[{"role": "user", "content": [{"text": "hi"}]}])
    finally:
        runtime.close()
    assert answer["output"]["message"]["content"][0]["text"]
    # A key made without the box has no AWS credentials.
    page.get_by_test_id("new-key").click()
    page.get_by_test_id("key-label").fill("plain")
    page.get_by_test_id("save-key").click()
    expect(page.get_by_test_id("secret-value")).to_be_visible()
    expect(page.get_by_test_id("aws-access-key-id")).to_have_count(0)


def test_the_dashboard_says_it_is_off_without_a_master_key(
    make_gateway: GatewayFactory, page: Page, screenshots: Path
) -> None:
    gateway = make_gateway()
    page.goto(gateway.url + "/ui")
    expect(page.locator("h1")).to_have_text("The dashboard is off")
    expect(page.locator("body")).to_contain_text("BABELGATE_MASTER_KEY")
    page.screenshot(path=screenshots / "0-off.png")
