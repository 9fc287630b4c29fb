"""Observability: metrics under the OpenTelemetry GenAI names after a scripted sequence, `/metrics`
that counts every worker of `serve --workers 2`, and JSON logs carrying the request id."""

from __future__ import annotations

import re
import signal
import time
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.conftest import UPSTREAM_KEY, GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI, text_stream
from tests.fakes.scripted import Reply
from tests.integration.test_cli_serve import _env, _free_port, _serve, _wait_ready
from tests.integration.test_virtual_keys import MASTER, _create

CONFIG = """\
models:
  cached: {provider: openai, model: gpt-4o-mini, cache: {ttl: 60}}
"""


def _value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match is None:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(2))
    return total


def test_metrics_after_a_scripted_sequence(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway(CONFIG, env={"BABELGATE_MASTER_KEY": MASTER})
    created = _create(gateway)
    key_id = created["id"]
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=created["key"], max_retries=0, timeout=60) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
        upstream.script(Reply(stream=text_stream(["Hel", "lo"], include_usage=True)))
        list(
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], stream=True
            )
        )
        upstream.script(Reply(status=500, json={"error": {"message": "boom", "type": "server_error"}}))
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
        for _ in range(2):  # a miss, then a hit
            client.chat.completions.create(model="cached", messages=[{"role": "user", "content": "Hi"}])
    text = httpx.get(gateway.url + "/metrics", headers={"Authorization": f"Bearer {created['key']}"}).text
    chat = {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "openai", "key_id": key_id}
    assert _value(text, "gen_ai_server_request_duration_seconds_count", **chat) == 5
    assert _value(text, "gen_ai_server_request_duration_seconds_count", error_type="upstream_error", **chat) == 1
    assert _value(text, "gen_ai_server_request_duration_seconds_count", gen_ai_request_model="cached", **chat) == 2
    assert _value(text, "gen_ai_server_time_to_first_token_seconds_count", **chat) == 5
    # Token usage: the three answers the upstream gave with usage (not the error, not the hit)
    assert _value(text, "gen_ai_client_token_usage_count", gen_ai_token_type="input", **chat) == 3
    assert (
        _value(
            text, "gen_ai_client_token_usage_sum", gen_ai_token_type="input", gen_ai_request_model="gpt-4o-mini", **chat
        )
        == 18
    )
    assert _value(text, "babelgate_requests_total", key_id=key_id, status="200") == 4
    assert _value(text, "babelgate_cache_events_total", event="hit") == 1
    assert created["key"] not in text and UPSTREAM_KEY not in text


def test_metrics_count_every_worker_and_logs_are_json_with_the_request_id(upstream: FakeOpenAI) -> None:
    port = _free_port()
    env = _env(OPENAI_API_KEY=UPSTREAM_KEY, OPENAI_BASE_URL=upstream.base_url, BABELGATE_LOG_FORMAT="json")
    process = _serve(["--port", str(port), "--workers", "2"], env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process)
        body: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
        for _ in range(20):  # new connections: uvicorn's workers share the socket, the kernel spreads them
            httpx.post(url + "/v1/chat/completions", json=body).raise_for_status()
        upstream.script(Reply(status=500, json={"error": {"message": "boom", "type": "server_error"}}))
        httpx.post(url + "/v1/chat/completions", json=body, headers={"x-request-id": "trace-me-42"})
        deadline = time.monotonic() + 5
        counts: list[float] = []
        while time.monotonic() < deadline:
            counts = [
                _value(httpx.get(url + "/metrics").text, "babelgate_requests_total", route="chat.completions")
                for _ in range(6)
            ]
            if counts == [21.0] * 6:
                break
            time.sleep(0.2)
        assert counts == [21.0] * 6  # whichever worker answers the scrape
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=20)[0].decode()
    lines = [orjson.loads(line) for line in output.splitlines() if line.startswith("{")]
    warning = next(entry for entry in lines if entry.get("request_id") == "trace-me-42")
    assert warning["level"] == "warning" and "502" in warning["message"] and warning["logger"] == "babelgate"
    assert all(set(entry) >= {"ts", "level", "logger", "message"} for entry in lines)
    assert UPSTREAM_KEY not in output
