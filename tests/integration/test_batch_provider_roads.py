"""A batch across three providers, end to end with the providers' real batch parts: the official `openai` SDK
sends one batch whose lines name a Claude, a Gemini and a model on a compatible server; the Claude and Gemini
lines go to Anthropic's Message Batches and Gemini's batch mode on their fakes (which check what they receive
with the official SDKs' types) as one provider batch each, the others are run by the gateway through the
pipeline, since that server has no batch API. Every line is answered once, in OpenAI's batch output format, and its
ledger row names the batch, at half price for the lines the providers batched and at the price for the others. A key's
budget holds on that road too: it is charged with the batched lines' discounted cost."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, GatewayFactory, RunningApp
from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes.openai_upstream import FakeOpenAI
from tests.integration.test_batches import client_of, finished, jsonl
from tests.integration.test_virtual_keys import ADMIN, MASTER, _create
from tests.waiting import eventually

CONFIG = """\
providers:
  local: {{preset: vllm, base_url: env:OPENAI_BASE_URL}}
  anthropic: {{type: anthropic, base_url: env:ANTHROPIC_BASE_URL, api_key: env:ANTHROPIC_API_KEY}}
  gemini: {{type: gemini, base_url: env:GEMINI_BASE_URL, api_key: env:GEMINI_API_KEY}}
models:
  claude: {{provider: anthropic, model: claude-sonnet-4-5, price: {{input: 3, output: 15}}}}
  gemini: {{provider: gemini, model: gemini-2.5-flash, price: {{input: 0.3, output: 2.5, batch_discount: 0.2}}}}
  open: {{provider: local, model: gpt-4o-mini, price: {{input: 1, output: 2}}}}
files: {{dir: '{files}'}}
batches: {{poll_interval: 0.05}}
"""
PRICES = {"claude": (3, 15, 0.5), "gemini": (0.3, 2.5, 0.8), "open": (1, 2, 1.0)}  # input, output, share paid


def _gateway(
    make_gateway: GatewayFactory, tmp_path: Path, anthropic_upstream: ant.FakeAnthropic, gemini_upstream: gem.FakeGemini
) -> RunningApp:
    return make_gateway(
        CONFIG.format(files=tmp_path / "files"),
        env={
            "BABELGATE_MASTER_KEY": MASTER,
            "GEMINI_API_KEY": GEMINI_KEY,
            "GEMINI_BASE_URL": gemini_upstream.base_url,
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "ANTHROPIC_BASE_URL": anthropic_upstream.base_url,
        },
    )


def _lines(models: list[str]) -> bytes:
    lines = [
        {
            "custom_id": f"{model}-{n}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": f"Hi {n}"}]},
        }
        for n, model in enumerate(models)
    ]
    return "\n".join(json.dumps(line) for line in lines).encode()


def test_a_mixed_batch_goes_to_each_providers_batch_api_and_runs_the_rest_here(
    make_gateway: GatewayFactory,
    tmp_path: Path,
    upstream: FakeOpenAI,
    anthropic_upstream: ant.FakeAnthropic,
    gemini_upstream: gem.FakeGemini,
) -> None:
    gateway = _gateway(make_gateway, tmp_path, anthropic_upstream, gemini_upstream)
    models = ["claude", "gemini", "open"] * 3
    key = _create(gateway)["key"]
    with client_of(gateway, key) as client:
        uploaded = client.files.create(file=("mixed.jsonl", io.BytesIO(_lines(models))), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        batch = finished(client, created.id)
        assert batch.status == "completed" and batch.request_counts.completed == 9, batch
        assert batch.error_file_id is None
        output = {line["custom_id"]: line for line in jsonl(client.files.content(batch.output_file_id).content)}
    assert set(output) == {f"{model}-{n}" for n, model in enumerate(models)}
    for custom_id, line in output.items():
        body = line["response"]["body"]
        assert line["response"]["status_code"] == 200 and body["object"] == "chat.completion", custom_id
        assert body["choices"][0]["message"]["content"], custom_id
    # One provider batch each for Claude's and Gemini's three lines; nothing on their interactive APIs.
    anthropic_batches = [r for r in anthropic_upstream.received if r.path == "/v1/messages/batches"]
    assert [len(r.json["requests"]) for r in anthropic_batches] == [3]
    assert not [r for r in anthropic_upstream.received if r.path == "/v1/messages"]
    gemini_batches = [r for r in gemini_upstream.received if r.path.endswith(":batchGenerateContent")]
    assert len(gemini_batches) == 1
    assert not [r for r in gemini_upstream.received if r.path.endswith(":generateContent")]
    # The compatible server has no batch API: its lines ran here, each once.
    chats = [r for r in upstream.received if r.path.endswith("/chat/completions")]
    assert sorted(r.json["messages"][0]["content"] for r in chats) == ["Hi 2", "Hi 5", "Hi 8"]

    def rows() -> dict[str, dict[str, Any]]:
        query = f"/admin/usage?group_by=model&batch={created.id}"
        answer = httpx.get(gateway.url + query, headers=ADMIN, timeout=10).json()["data"]
        return {row["model"]: row for row in answer}

    assert eventually(lambda: sum(row["requests"] for row in rows().values()) == 9, 10)
    found = rows()
    for model, (rate_in, rate_out, share) in PRICES.items():
        row = found[model]
        assert row["requests"] == 3 and row["prompt_tokens"] > 0, row
        cost = (row["prompt_tokens"] * rate_in + row["completion_tokens"] * rate_out) / 1e6 * share
        assert row["cost_usd"] == pytest.approx(cost, rel=1e-6), (model, row)


def test_a_keys_budget_is_charged_for_the_lines_a_provider_batched(
    make_gateway: GatewayFactory,
    tmp_path: Path,
    anthropic_upstream: ant.FakeAnthropic,
    gemini_upstream: gem.FakeGemini,
) -> None:
    gateway = _gateway(make_gateway, tmp_path, anthropic_upstream, gemini_upstream)
    # Each Claude answer of the fake: 9 prompt and 3 completion tokens at $3 and $15 a million, half price batched:
    # $0.000036 a line, so three lines spend a budget of $0.0001.
    key = _create(gateway, budget_usd=0.0001)["key"]
    with client_of(gateway, key) as client:
        uploaded = client.files.create(file=("claude.jsonl", io.BytesIO(_lines(["claude"] * 3))), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        batch = finished(client, created.id)
        assert batch.status == "completed" and batch.request_counts.completed == 3, batch
        assert [len(r.json["requests"]) for r in anthropic_upstream.received if r.path == "/v1/messages/batches"] == [3]
        with pytest.raises(openai.RateLimitError) as refused:  # spent by the batched lines
            client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "Hi"}], max_tokens=5)
        assert refused.value.code == "budget_exceeded"
    assert not [r for r in anthropic_upstream.received if r.path == "/v1/messages"]
