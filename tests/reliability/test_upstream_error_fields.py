"""An upstream that echoes its key in every field of its error: nothing of the key reaches the client
(Chat Completions and the Responses API, streamed and not), /metrics, /admin/errors or the ledger; and
an upstream's error code never chooses a metric label's value.

Every gateway here is watched for the key by tests/secret_watch.py as well (bodies, streams, /metrics
and /health): these tests add the places it does not see, and say what each field must read."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest

from tests.admin_gateway import ADMIN, CONFIG, MASTER
from tests.conftest import UPSTREAM_KEY, GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI, Reply
from tests.fakes.servers import LoopThread, RunningApp

# A key of no known shape: only the configured secret itself can be recognised.
PLAIN_KEY = "plain-upstream-secret-0123456789"


def _hostile(key: str) -> Reply:
    return Reply(
        status=400,
        json={
            "error": {
                "message": f"bad request {key}",
                "type": "invalid_request_error",
                "param": f"p-{key}",
                "code": f"c-{key}",
            }
        },
    )


@pytest.fixture(params=[UPSTREAM_KEY, PLAIN_KEY], ids=["sk-shaped", "plain"])
def key_and_gateway(
    request: pytest.FixtureRequest, make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> tuple[str, RunningApp]:
    key: str = request.param
    return key, make_gateway(
        CONFIG.format(base_url=upstream.base_url), env={"OPENAI_API_KEY": key, "BABELGATE_MASTER_KEY": MASTER}
    )


def _clean(value: Any, key: str) -> None:
    text = str(value)
    assert key not in text and key[5:] not in text, f"the upstream's key got out: {text}"


def test_error_fields_are_scrubbed_on_every_road(
    key_and_gateway: tuple[str, RunningApp], upstream: FakeOpenAI, loop_thread: LoopThread
) -> None:
    key, gateway = key_and_gateway
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=60) as client:
        roads = [
            lambda: client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]),
            lambda: list(
                client.chat.completions.create(
                    model="gpt-4o-mini", stream=True, messages=[{"role": "user", "content": "x"}]
                )
            ),
            lambda: client.responses.create(model="gpt-4o-mini", input="x"),
            lambda: list(client.responses.create(model="gpt-4o-mini", input="x", stream=True)),
        ]
        for road in roads:
            upstream.script(_hostile(key))
            try:
                road()
            except openai.APIError as error:  # streamed Responses fail in an event, the others with a 400
                _clean(error.body, key)
                _clean(error.message, key)
                if isinstance(error, openai.BadRequestError):
                    assert error.code == "c-[redacted]" and error.param == "p-[redacted]"
            else:
                pytest.fail("the upstream's 400 did not reach the client")
    metrics = httpx.get(gateway.url + "/metrics").text
    _clean(metrics, key)
    assert "c-" not in "".join(line for line in metrics.splitlines() if line.startswith("babelgate_errors_total"))
    errors = httpx.get(gateway.url + "/admin/errors", headers=ADMIN).json()["data"]
    assert errors and all(row["code"] == "invalid_request_error" for row in errors), errors
    _clean(errors, key)
    rows = loop_thread.run(_ledger_rows(gateway))
    assert len([row for row in rows if row["status"] == 400]) == 4
    for row in rows:
        _clean(row, key)


async def _ledger_rows(gateway: RunningApp) -> list[dict[str, Any]]:
    await gateway.app.runtime.ledger.flush()
    rows: list[dict[str, Any]] = await gateway.app.runtime.response_store.usage(0, time.time() + 60)
    return rows


def test_an_upstream_code_never_names_a_series(gateway: RunningApp, upstream: FakeOpenAI) -> None:
    """Known codes keep their name (fallbacks and alerts go by them); any other code an upstream
    invents counts under its error's type, however many it invents."""
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=60) as client:
        for code in ["context_length_exceeded", *(f"made-up-{n}" for n in range(20))]:
            upstream.script(
                Reply(status=400, json={"error": {"message": "no", "type": "invalid_request_error", "code": code}})
            )
            with pytest.raises(openai.BadRequestError) as refused:
                client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
            assert refused.value.code == code  # the client still reads the upstream's own code
    series = [
        line
        for line in httpx.get(gateway.url + "/metrics").text.splitlines()
        if line.startswith("babelgate_errors_total{")
    ]
    assert len(series) == 2, series
    assert any('code="context_length_exceeded"' in line for line in series)
    assert any('code="invalid_request_error"' in line and line.endswith(" 20.0") for line in series)
