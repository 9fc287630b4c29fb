"""A batch across four providers, end to end with the providers' real batch parts: the official `openai` SDK
sends one batch whose lines name a Claude, a Gemini, a Claude on Bedrock and a model on a compatible server; the
Claude, Gemini and Bedrock lines go to Anthropic's Message Batches, Gemini's batch mode and a Bedrock batch
inference job on their fakes (which check what they receive with the official SDKs' types and botocore's service
model; Bedrock's records and results through moto's S3) as one provider batch each, the others are run by the
gateway through the pipeline, since that server has no batch API. Every line is answered once, in OpenAI's batch
output format, and its ledger row names the batch, at half price for the lines the providers batched and at the
price for the others. A key's budget holds on that road too: it is charged with the batched lines' discounted cost."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import ANTHROPIC_KEY, BATCH_BUCKET, GEMINI_KEY, GatewayFactory, RunningApp
from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes.bedrock_upstream import AwsKey, FakeBedrock
from tests.fakes.openai_upstream import FakeOpenAI
from tests.integration.test_batches import client_of, finished, jsonl
from tests.integration.test_provider_batches import AWS_ACCESS_KEY, AWS_SECRET_KEY, BATCH_ROLE
from tests.integration.test_virtual_keys import ADMIN, MASTER, _create
from tests.waiting import eventually

CONFIG = """\
providers:
  local: {{preset: vllm, base_url: env:OPENAI_BASE_URL}}
  anthropic: {{type: anthropic, base_url: env:ANTHROPIC_BASE_URL, api_key: env:ANTHROPIC_API_KEY}}
  gemini: {{type: gemini, base_url: env:GEMINI_BASE_URL, api_key: env:GEMINI_API_KEY}}
  bedrock:
    type: bedrock
    region: us-east-1
    base_url: env:BEDROCK_BASE_URL
    aws_access_key_id: env:BEDROCK_ACCESS_KEY
    aws_secret_access_key: env:BEDROCK_SECRET_KEY
    batch_bucket: s3://{bucket}/roads
    batch_role_arn: {role}
    options: {{batch_control_url: '{bedrock}', batch_s3_url: '{s3}', batch_min_records: 1}}
models:
  claude: {{provider: anthropic, model: claude-sonnet-4-5, price: {{input: 3, output: 15}}}}
  gemini: {{provider: gemini, model: gemini-2.5-flash, price: {{input: 0.3, output: 2.5, batch_discount: 0.2}}}}
  open: {{provider: local, model: gpt-4o-mini, price: {{input: 1, output: 2}}}}
  bedrock: {{provider: bedrock, model: us.anthropic.claude-haiku-4-5-20251001-v1:0, price: {{input: 1, output: 5}}}}
files: {{dir: '{files}'}}
batches: {{poll_interval: 0.05}}
"""
PRICES = {
    "claude": (3, 15, 0.5),
    "gemini": (0.3, 2.5, 0.8),
    "bedrock": (1, 5, 0.5),
    "open": (1, 2, 1.0),
}  # input, output, share paid


@pytest.fixture
def bedrock(bedrock_upstream: FakeBedrock, moto_s3: str) -> FakeBedrock:
    bedrock_upstream.iam[AWS_ACCESS_KEY] = AwsKey(AWS_SECRET_KEY)
    bedrock_upstream.batch_jobs.s3_url = moto_s3
    return bedrock_upstream


def _gateway(
    make_gateway: GatewayFactory,
    tmp_path: Path,
    anthropic_upstream: ant.FakeAnthropic,
    gemini_upstream: gem.FakeGemini,
    bedrock: FakeBedrock,
) -> RunningApp:
    config = CONFIG.format(
        files=tmp_path / "files",
        bucket=BATCH_BUCKET,
        role=BATCH_ROLE,
        bedrock=bedrock.base_url,
        s3=bedrock.batch_jobs.s3_url,
    )
    return make_gateway(
        config,
        env={
            "BEDROCK_BASE_URL": bedrock.base_url,
            "BEDROCK_ACCESS_KEY": AWS_ACCESS_KEY,
            "BEDROCK_SECRET_KEY": AWS_SECRET_KEY,
            "BABELGATE_MASTER_KEY": MASTER,
            "GEMINI_API_KEY": GEMINI_KEY,
            "GEMINI_BASE_URL": gemini_upstream.base_url,
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "ANTHROPIC_BASE_URL": anthropic_upstream.base_url,
        },
    )


def _lines(models: list[str], users: list[str] | None = None) -> bytes:
    """A batch file of chat lines, one a model (`{model}-{n}`), each naming its end customer when `users` do."""
    lines = [
        {
            "custom_id": f"{model}-{n}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {
                "model": model,
                "max_tokens": 50,
                "messages": [{"role": "user", "content": f"Hi {n}"}],
                **({"user": users[n]} if users else {}),
            },
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
    bedrock: FakeBedrock,
) -> None:
    gateway = _gateway(make_gateway, tmp_path, anthropic_upstream, gemini_upstream, bedrock)
    models = ["claude", "gemini", "bedrock", "open"] * 3
    key = _create(gateway)["key"]
    with client_of(gateway, key) as client:
        uploaded = client.files.create(file=("mixed.jsonl", io.BytesIO(_lines(models))), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        batch = finished(client, created.id)
        assert batch.status == "completed" and batch.request_counts.completed == 12, batch
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
    assert len(bedrock.batch_jobs.created) == 1 and bedrock.batch_jobs.records_run == 3
    assert not [r for r in bedrock.received if r.path.startswith("/model/")]
    # The compatible server has no batch API: its lines ran here, each once.
    chats = [r for r in upstream.received if r.path.endswith("/chat/completions")]
    assert sorted(r.json["messages"][0]["content"] for r in chats) == ["Hi 11", "Hi 3", "Hi 7"]

    def rows() -> dict[str, dict[str, Any]]:
        query = f"/admin/usage?group_by=model&batch={created.id}"
        answer = httpx.get(gateway.url + query, headers=ADMIN, timeout=10).json()["data"]
        return {row["model"]: row for row in answer}

    assert eventually(lambda: sum(row["requests"] for row in rows().values()) == 12, 10)
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
    bedrock: FakeBedrock,
) -> None:
    gateway = _gateway(make_gateway, tmp_path, anthropic_upstream, gemini_upstream, bedrock)
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


def test_an_end_customers_budget_is_kept_for_the_lines_a_provider_batched(
    make_gateway: GatewayFactory,
    tmp_path: Path,
    anthropic_upstream: ant.FakeAnthropic,
    gemini_upstream: gem.FakeGemini,
    bedrock: FakeBedrock,
) -> None:
    """Each line's end customer (its `user`) pays for it, as it would in the gateway: three of alice's batched lines
    spend her budget ($0.000036 a line, against $0.0001), so her next line fails before the next provider batch is
    sent and her next request is refused, while bob's line is still batched."""
    gateway = _gateway(make_gateway, tmp_path, anthropic_upstream, gemini_upstream, bedrock)
    key = _create(gateway, end_user_limits={"budget_usd": 0.0001})["key"]
    with client_of(gateway, key) as client:
        alices = io.BytesIO(_lines(["claude"] * 3, ["alice"] * 3))
        first = client.files.create(file=("a.jsonl", alices), purpose="batch")
        batch = finished(
            client,
            client.batches.create(input_file_id=first.id, endpoint="/v1/chat/completions", completion_window="24h").id,
        )
        assert batch.status == "completed" and batch.request_counts.completed == 3, batch
        both = io.BytesIO(_lines(["claude"] * 2, ["alice", "bob"]))
        second = client.files.create(file=("b.jsonl", both), purpose="batch")
        batch = finished(
            client,
            client.batches.create(input_file_id=second.id, endpoint="/v1/chat/completions", completion_window="24h").id,
        )
        counts = batch.request_counts
        assert counts is not None and (counts.completed, counts.failed) == (1, 1), batch
        assert batch.output_file_id and batch.error_file_id, batch
        answers = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            for line in client.files.content(file_id).text.splitlines():
                answers[json.loads(line)["custom_id"]] = json.loads(line)["response"]
        assert answers["claude-0"]["status_code"] == 429
        assert answers["claude-0"]["body"]["error"]["code"] == "budget_exceeded"
        assert answers["claude-1"]["status_code"] == 200
        sent = [len(r.json["requests"]) for r in anthropic_upstream.received if r.path == "/v1/messages/batches"]
        assert sent == [3, 1]  # alice's spent line never left the gateway
        ask = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5, "model": "claude"}
        with pytest.raises(openai.RateLimitError) as refused:
            client.chat.completions.create(**ask, user="alice")  # type: ignore[call-overload]
        assert refused.value.code == "budget_exceeded"
        assert client.chat.completions.create(**ask, user="bob").choices[0].message.content  # type: ignore[call-overload]
